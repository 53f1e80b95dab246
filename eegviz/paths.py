"""Where the project's shipped files live.

models/ and assets/ sit beside the package in the source tree (the README installs editable). EEGVIZ_HOME
points elsewhere when the package is installed without the tree. The loopback-only lsl_api.cfg is package data
(eegviz/lsl_api.cfg), so LSL is confined by every install, a wheel's too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from eegviz.errors import EegvizError


def project_root() -> Path:
    env = os.environ.get("EEGVIZ_HOME")
    return Path(env) if env else Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    return project_root() / "models"


def assets_dir() -> Path:
    return project_root() / "assets"


def default_model_dir() -> Path:
    return models_dir() / "synthetic-default"


def realistic_model_dir() -> Path:
    """The decoder trained on the realistic simulator preset (decoder only: it draws with the default's pipeline)."""
    return models_dir() / "synthetic-realistic"


def demo_recording() -> Path:
    return assets_dir() / "demo.xdf"


# Where the demo recording and the models come from: they are too large for the package (a wheel or a plain
# `pip install .` has neither), so a missing one is not fixed by reinstalling that way.
SHIPPED_WITH_THE_REPOSITORY = ("the demo recording and the models come with the repository: clone it and install "
                               "it editable (`pip install -e . -c constraints.txt`, README \"Set up\"), or set "
                               "EEGVIZ_HOME to such a clone")


def demo_recording_checked() -> Path:
    """demo_recording(), or EegvizError saying how to get it when it is missing (a non-editable install has no
    assets/: reinstalling the same way would not bring it back)."""
    path = demo_recording()
    if not path.exists():
        raise EegvizError(f"demo recording missing at {path}; {SHIPPED_WITH_THE_REPOSITORY}")
    return path


# eegviz's loopback-only liblsl config, shipped inside the package (pyproject's package data) so that a wheel or
# a plain `pip install .` confines LSL too: the repository's lsl_api.cfg (what tests, CI and the README's
# commands use) is not installed, and found only beside an editable install. The two files are the same
# (tests/test_paths.py checks it).
PACKAGED_LSL_CFG = Path(__file__).resolve().parent / "lsl_api.cfg"


def confine_lsl() -> None:
    """Point liblsl at eegviz's loopback-only lsl_api.cfg unless the user chose a config (LSLAPICFG).

    Never leaves LSL unconfined silently: without LSLAPICFG liblsl multicasts on every interface, which
    README's "LSL on this machine only" promises eegviz prevents. So a chosen file that is missing, or a
    packaged one that is (an incomplete install), is EegvizError in one line.

    liblsl reads the variable once, when pylsl loads it, so call this before the first `import pylsl`.
    """
    chosen = os.environ.get("LSLAPICFG")
    if chosen is not None:
        if not Path(chosen).is_file():  # liblsl would silently fall back to other files or its site-wide defaults
            raise EegvizError(f"LSLAPICFG={chosen!r} is not a file; point it at an lsl_api.cfg or unset it")
        return
    if not PACKAGED_LSL_CFG.is_file():
        raise EegvizError(f"eegviz's loopback-only LSL config is missing at {PACKAGED_LSL_CFG} (an incomplete "
                          f"install), so LSL would not stay on this machine; set LSLAPICFG to an lsl_api.cfg")
    os.environ["LSLAPICFG"] = str(PACKAGED_LSL_CFG)


PROBE_PREFIX = ".eegviz-probe-"  # check_creatable's momentary test folder


def is_new_or_empty(out: Path) -> bool:
    """Nothing is there yet, or an empty folder: a place where writing can overwrite nothing. Another check's
    momentary probe folder does not count (torchrun's ranks check the same --out at once)."""
    out = Path(out)
    return not out.exists() or (out.is_dir() and not any(not p.name.startswith(PROBE_PREFIX)
                                                         for p in out.iterdir()))


def claim_new_output(out: Path, flag: str, what: str, hint: str = "") -> None:
    """check_new_output, then make the folder if it is not there yet, exclusively: of two runs given the same new
    --out at once (both found it free), the second is refused here instead of overwriting the first's files.
    A run refused later leaves the folder empty, which the corrected rerun accepts."""
    out = Path(out)
    new = not out.exists()  # as the check found it: made since, it is another run's
    check_new_output(out, flag, what, hint)
    if new:
        make_new_folder(out, flag)


def make_new_folder(out: Path, flag: str) -> None:
    """Create `out` (and its parents), refusing it if it appeared since it was found absent: another run's."""
    try:
        Path(out).mkdir(parents=True)
    except FileExistsError:
        raise EegvizError(f"{flag} {out} was created by another run just now; choose another {flag}") from None
    except OSError as exc:
        raise EegvizError(f"{flag} {out}: cannot create it ({exc.strerror or type(exc).__name__})") from None


def check_new_output(out: Path, flag: str, what: str, hint: str = "") -> None:
    """Refuse an output folder that already holds something: `what` (e.g. "a simulated dataset") is written only
    into a new or empty folder, so an earlier run's files (an hour of training, the dataset a model was trained
    on) are never overwritten by a command run twice with the same --out. A folder that could not be created
    there is refused too (check_creatable), before the run's minutes rather than after."""
    out = Path(out)
    if not is_new_or_empty(out):
        held = "is a file" if not out.is_dir() else "already holds files"
        raise EegvizError(f"{flag} {out} {held}: {what} is written only into a new or empty folder, so nothing "
                          f"there is overwritten; choose another {flag}{hint}")
    check_creatable(out, flag)


def check_creatable(out: str | Path, flag: str) -> Path:
    """The absolute path of folder `out` if it could be created (or written in, when it exists); EegvizError
    naming `flag` in one line if not: a path under a regular file, a broken symbolic link on the way, a folder
    this process cannot create entries in. Nothing is created: the nearest existing ancestor is probed with a
    temporary folder that is removed at once (os.access is no test for root, who may still be refused by a
    read-only file system). `out` is taken as given (no ~ expansion): the path checked is the path written."""
    path = Path(out)
    path = path if path.is_absolute() else Path.cwd() / path
    probe_in = path
    while not probe_in.exists():
        if probe_in.is_symlink():  # a dangling link: creating through it would write somewhere unexpected
            raise EegvizError(f"{flag} {out}: {probe_in} is a broken symbolic link")
        if probe_in.parent == probe_in:
            break
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        where = "is" if probe_in == path else f"is under {probe_in}, which is"
        raise EegvizError(f"{flag} {out} {where} a regular file, not a folder; choose another {flag}")
    try:
        tempfile.TemporaryDirectory(dir=probe_in, prefix=PROBE_PREFIX).cleanup()
    except OSError as e:
        raise EegvizError(f"{flag} {out}: cannot write in {probe_in} ({e.strerror or e})") from None
    return path
