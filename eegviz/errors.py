"""User-facing errors.

Anything a user can cause (a bad file, an unknown stream, corrupt weights) is raised as EegvizError with one
sentence that says what is wrong and what to do. The CLI prints that line and exits non-zero; it never shows a
traceback for these.
"""


class EegvizError(Exception):
    """An error caused by input or environment, reported to the user as one line."""


def one_line(exc: BaseException, limit: int = 200) -> str:
    """'Type: message' of a library exception, whitespace collapsed and cut to `limit` characters, for the
    parenthesis of an EegvizError: library messages often span lines (torch lists argument signatures), and the
    error the user sees must stay one line."""
    text = " ".join((f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def os_error_line(exc: OSError) -> str:
    """An OSError as the one line a command prints: the system's reason and, where it names one, the path (a file
    where a folder should be, no permission, a full disk)."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
