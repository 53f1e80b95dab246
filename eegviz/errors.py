"""User-facing errors.

Anything a user can cause (a bad file, an unknown stream, corrupt weights) is raised as EegvizError with one
sentence that says what is wrong and what to do. The CLI prints that line and exits non-zero; it never shows a
traceback for these.
"""


class EegvizError(Exception):
    """An error caused by input or environment, reported to the user as one line."""
