"""User-facing errors.

Anything a user can cause (a bad file, an unknown stream, corrupt weights) is raised as EegvizError with one
sentence that says what is wrong and what to do. The CLI prints that line and exits non-zero; it never shows a
traceback for these.
"""

from contextlib import contextmanager


class EegvizError(Exception):
    """An error caused by input or environment, reported to the user as one line."""


class SourceNotFound(EegvizError):
    """The EEG source is not there (yet): no LSL stream of that name, no serial port for the board's dongle. Apart
    from EegvizError because it is the one failure of a session's start that mends itself when someone switches the
    amplifier on: a kiosk started at boot waits for it (eegviz.app.run_window) where any other first failure (a
    wrong --model, channels that do not fit) ends it at once."""


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


@contextmanager
def naming(path):
    """Name `path` in an OSError raised inside that names no file: a write to a full disk fails with "No space left
    on device" and no file name (write() has only a descriptor), and the user must learn which file it was (and so
    which disk). Errors that already name a file, or carry no errno, pass unchanged."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno is not None:
            raise OSError(e.errno, e.strerror or str(e), str(path)) from e
        raise


@contextmanager
def about(*options: str):
    """Mark an EegvizError raised inside as being about these command-line options (`--montage`), where its words
    need not name them ("unknown montage 'x'", "no generator named 'x'"): the command line puts where a --config
    file set the option before it (eegviz.cli), and a user whose file held the value was otherwise sent to a flag
    they had not typed. The innermost mark wins: it is the nearest to the value that failed."""
    try:
        yield
    except EegvizError as e:
        if not getattr(e, "options", None):
            e.options = options
        raise
