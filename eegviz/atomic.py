"""Writing a file whole or not at all.

Everything eegviz writes that a user keeps - a session's report and contact sheet, a model's training.json, a run's
run.json and stage records, training checkpoints - goes through `replacing`: the new content is written under a
temporary name beside the file and moved over it in one step. A full disk, a second Ctrl-C or a kill while writing
used to leave a file cut short (a 0-byte contact_sheet.png that no viewer opens, a training.json that no longer
parses), and a rerun that failed destroyed the file it was replacing. Now the file is either the old one or the new
one, whole, and the partial is removed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eegviz.errors import naming


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary name beside `path` to write to; once written it is moved over `path` in one step.

    The temporary name is hidden and keeps the suffix, which Pillow and matplotlib choose the format by. An error
    names `path` (eegviz.errors.naming): the user is told which file could not be written, not the temporary one."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        with naming(path):
            try:
                yield tmp
                os.replace(tmp, path)
            except OSError as e:
                if e.filename == str(tmp):  # named as the file the user knows
                    raise OSError(e.errno, e.strerror or str(e), str(path)) from e
                raise
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: Path, obj, default=None) -> None:
    """Write obj as JSON to path through `replacing`, creating its folder (run records, stage records,
    training.json)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, default=default))
