"""What a model folder holds beside its components, read with checks, and what is asked of the folder as a whole.

The networks themselves are diffusers-style components (eegviz.component: config.json + safetensors per
subfolder). Beside them a folder carries eegviz's own JSON (decoder.json, sampling.json, seen_images.json),
read here with every field's kind checked (read_config / check_fields) so a copied or hand-edited file fails as
one line naming the file and the field, not as a KeyError deep in model construction; loose tensors such as the
class prototypes (save_module / load_module, safetensors); torch files read without running code
(torch_load_plain: checkpoints, EEG-ImageNet's .pth); a refit component swapped in without losing the one it
replaces (swap_in); the folder's digest (model_digest) and whether its `eegviz train` run was stopped
(interrupted_training).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from eegviz.checks import read_at_most
from eegviz.errors import EegvizError


def save_module(module: torch.nn.Module, path: Path) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path))


def load_module(module: torch.nn.Module, path: Path) -> torch.nn.Module:
    if not path.exists():
        raise EegvizError(f"model weights missing: {path}")
    try:
        state = load_file(str(path))
        module.load_state_dict(state)
    except Exception as exc:  # safetensors raises several types for truncated or foreign files
        raise EegvizError(f"model weights in {path} are corrupt or do not fit the model ({type(exc).__name__})") from None
    return module.eval()


# Field kinds for check_fields(): int, float (any JSON number), str, bool, dict, list, or [kind] for a list of them.
_KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true/false", dict: "an object",
               list: "a list"}


def _is(value: object, kind) -> bool:
    if isinstance(kind, list):
        return isinstance(value, list) and all(_is(v, kind[0]) for v in value)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _kind_name(kind) -> str:
    return f"a list of {_KIND_NAMES[kind[0]].split(' ', 1)[1]}s" if isinstance(kind, list) else _KIND_NAMES[kind]


def _json_kind(value: object) -> str:
    for t, n in ((bool, "true/false"), (dict, "an object"), (list, "a list"), (str, "a string"), (int, "a number"),
                 (float, "a number")):
        if isinstance(value, t):
            return n
    return "null"


def check_fields(obj: object, path: Path, required: dict, optional: dict | None = None, where: str = "",
                 allow_unknown: bool = True) -> dict:
    """`obj` (parsed JSON) as a dict whose `required` keys are present and whose keys have the given kinds.

    Model folders are files users copy and edit; a valid JSON file of the wrong shape would otherwise surface
    as a KeyError or TypeError deep inside model construction. Returns obj; raises EegvizError naming the file
    and the field.
    """
    at = f" {where}" if where else ""
    if not isinstance(obj, dict):
        raise EegvizError(f"{path}:{at or ' the file'} must be a JSON object, not {_json_kind(obj)}; "
                          "the model folder is damaged, retrain or restore it")
    missing = [k for k in required if k not in obj]
    if missing:
        raise EegvizError(f"{path}:{at} lacks {', '.join(repr(k) for k in missing)}; the model folder is damaged, "
                          "retrain or restore it")
    kinds = {**required, **(optional or {})}
    if not allow_unknown:
        unknown = sorted(set(obj) - set(kinds))
        if unknown:
            raise EegvizError(f"{path}:{at} has unknown key(s) {', '.join(map(repr, unknown))} "
                              f"(known: {', '.join(kinds)})")
    for key, kind in kinds.items():
        if key in obj and not _is(obj[key], kind):
            raise EegvizError(f"{path}:{at} {key!r} must be {_kind_name(kind)}, not {_json_kind(obj[key])}")
    return obj


# A model folder's own JSON (decoder.json, sampling.json) is a few KB, tens with a real dataset's class names;
# more than this is the wrong file, and is not read whole into memory (a link to /dev/zero was read forever).
MODEL_JSON_MAX_BYTES = 4 << 20


def read_config(model_dir: Path, name: str = "config.json", required: dict | None = None,
                optional: dict | None = None, max_bytes: int = MODEL_JSON_MAX_BYTES) -> dict:
    """The JSON object in model_dir/name; with `required`/`optional`, checked by check_fields(). Read up to
    max_bytes (MODEL_JSON_MAX_BYTES), not whole."""
    path = Path(model_dir) / name
    if not path.exists():
        # a file given as the folder (--model model.safetensors, --model decoder.json) read as a folder lacking
        # decoder.json, as a folder that did not exist did: neither said what was wrong with the path
        why = (f"{name} missing" if Path(model_dir).is_dir() else "it is a file, not a model folder"
               if Path(model_dir).exists() else "no such folder")
        raise EegvizError(f"no model at {model_dir} ({why}); give the model folder (the one holding decoder.json), "
                          "or train one with `eegviz train`")
    try:
        cfg = json.loads(read_at_most(path, max_bytes, str(path), f"a model's {name}").decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise EegvizError(f"{path} is not valid JSON") from None
    except OSError as e:
        raise EegvizError(f"{path} could not be read ({e.strerror or e})") from None
    return check_fields(cfg, path, required or {}, optional)


def write_config(model_dir: Path, config: dict, name: str = "config.json") -> None:
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    (Path(model_dir) / name).write_text(json.dumps(config, indent=2))


def swap_in(model_dir: Path, name: str, save) -> Path | None:
    """Write a component with `save(folder)` and put it at model_dir/name; the folder it replaces is renamed to
    name.previous-<UTC time> (a free name, never an existing one) and returned, None when there was none.

    Written to name.partial first, so a crash while saving leaves the old component in place; a .partial left
    by an earlier crash is an incomplete write of this function's own and is cleared."""
    target, partial = model_dir / name, model_dir / f"{name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    save(partial)
    kept = None
    if target.exists():
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        kept = model_dir / f"{name}.previous-{stamp}"
        n = 1
        while kept.exists():
            n += 1
            kept = model_dir / f"{name}.previous-{stamp}-{n}"
        target.rename(kept)
    partial.rename(target)
    return kept


def torch_load_plain(path: Path) -> object:
    """torch.load(weights_only=True): tensors and plain values only, nothing that runs code. torch warns when a
    file's pickle protocol is not its own (2) before it refuses or reads it; a refusal is the caller's one line,
    so the warning only printed a library's traceback-like line above it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        return torch.load(path, map_location="cpu", weights_only=True)


def unpickler_reason(exc: BaseException) -> str:
    """What torch's weights-only loader named as the object it refused (" (Unsupported global: GLOBAL
    datetime.date was not an allowed global by default)"), from the "WeightsUnpickler error:" line of its
    UnpicklingError, for a caller's one-line refusal; "" when it names none. torch's advice after it (allowlist
    the class if you trust it) is for code that calls torch.load, not for a user of eegviz's command line."""
    m = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n|$)", str(exc))
    if m:
        return f" ({m.group(1).split(' Please ')[0].strip().rstrip('.')})"
    # a function of a module torch blocks outright (os.system: the payload of a crafted file) is said in another
    # sentence, and the refusal named nothing, where the allow-listed unpickler's names what it refused
    m = re.search(r"Trying to load unsupported (GLOBAL \S+) whose module \S+ is blocked", str(exc))
    return f" (unsupported {m.group(1)})" if m else ""


def model_digest(model_dir: Path) -> str:
    """SHA-256 (first 16 hex) over the model folder's .json and .safetensors files, names included (report/ and the
    text encoder, unloaded at run time, left out), so two benchmark files or session folders (session.json) can say whether they
    ran the same model; about 0.05 s for the shipped folder."""
    h = hashlib.sha256()
    files = sorted(f for f in Path(model_dir).rglob("*") if f.is_file() and f.suffix in (".json", ".safetensors")
                   and "report" not in f.relative_to(model_dir).parts[:1]
                   and "text_encoder" not in f.relative_to(model_dir).parts[:1])
    for f in files:
        h.update(str(f.relative_to(model_dir)).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()[:16]


def interrupted_training(model_dir: Path) -> str:
    """The clause saying that the `eegviz train` run of `model_dir` was stopped before it finished, "" where it
    ended (or no `eegviz train` wrote the folder): `eegviz train` saves the decoder an hour before the generator,
    and writes checkpoints/run.json at its start and training.json at its end. A session given such a folder was
    told to draw with another folder's pipeline, "as in a decoder-only model folder", and `eegviz eval` scored it
    as a finished decoder without a word, where the way on is the same `eegviz train` command with --resume."""
    model_dir = Path(model_dir)
    if (model_dir / "checkpoints" / "run.json").is_file() and not (model_dir / "training.json").exists():
        return ("its `eegviz train` run was stopped before it finished (checkpoints/run.json, no training.json): run "
                "the same command with --resume to finish it")
    return ""
