"""The one package logger: eegviz's messages at the level a user chose, other libraries' warnings and up.

`eegviz train` and `eegviz eval` log their progress at INFO, and those lines are the commands' output, so
they go to stdout as plain lines; warnings and errors go to stderr for every command. Modules log through
logging.getLogger(__name__) (the embedded generator's training stages share diffusers_gen's,
"eegviz.train.diffusers_gen"); only the command line configures (cli.setup_logging calls configure).
"""

from __future__ import annotations

import logging
import os
import sys

from eegviz.checks import check_choice

# commands whose progress lines (logged at INFO) are their output
PROGRESS_COMMANDS = ("train", "eval")


def _below_warning(record: logging.LogRecord) -> bool:
    return record.levelno < logging.WARNING


def _not_progress(record: logging.LogRecord) -> bool:
    return not (record.name.startswith("eegviz") and _below_warning(record))


class _ProgressHandler(logging.StreamHandler):
    """`train` / `eval` progress (eegviz records below WARNING) as plain lines on stdout, where print put them:
    they are the command's output, and the headline JSON follows them."""

    def __init__(self):
        super().__init__(sys.stdout)
        self.addFilter(_below_warning)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout  # the stdout of now (a redirected or captured one), not of setup time
        super().emit(record)


def configure(command: str | None, log_level: str | None, verbose: bool, levels: tuple[str, ...]) -> None:
    """One package logger: eegviz's messages at the chosen level, other libraries' warnings and up.

    --log-level, then -v, then $EEGVIZ_LOG_LEVEL; with none of them, `train` and `eval` show INFO (their
    progress lines: stage accuracies, controls) and every other command WARNING. For those two commands the
    progress lines go to stdout as plain lines; warnings and errors go to stderr as for every command.
    """
    progress = command in PROGRESS_COMMANDS
    level = log_level or ("info" if verbose else
                          os.environ.get("EEGVIZ_LOG_LEVEL", "info" if progress else "warning").lower())
    check_choice(level, "EEGVIZ_LOG_LEVEL", levels)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        for h in root.handlers:
            h._eegviz = True
    pkg = logging.getLogger("eegviz")
    pkg.setLevel(level.upper())
    for h in [h for h in pkg.handlers if isinstance(h, _ProgressHandler)]:
        pkg.removeHandler(h)
    for h in root.handlers:
        if getattr(h, "_eegviz", False):
            h.removeFilter(_not_progress)
            if progress:
                h.addFilter(_not_progress)  # printed once, on stdout
    if progress:
        pkg.addHandler(_ProgressHandler())
    if level != "debug":
        logging.getLogger("pyxdf").setLevel(logging.ERROR)  # LabRecorder-file chatter, not the user's problem
