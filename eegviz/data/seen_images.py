"""Which stimulus images a model saw while it was made, so that `eegviz eval` can tell a test from a re-test.

A dataset's own split keeps its test images out of its training trials (eegviz.eval.controls checks that), but a
model is often evaluated on *another* dataset: one simulated with other settings, another session, another lab's
recording. Nothing tied that dataset's test images to the images the model learnt from: a synthetic dataset
simulated with `--images 20` holds out images 18-19 of each class, which a model trained on `--images 50` learnt
from, and eval scored them as test figures (class top-1 1.000) without a word.

`eegviz train` therefore writes seen_images.json into the model folder: the distinct image ids of the trials it
trained on ("train") and of those it made its choices on ("val": epochs, readouts, sampler). Images are matched by
id (the synthetic world's ids name the class, image and render seed; a recorded dataset's are its file names).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from eegviz.atomic import replacing
from eegviz.errors import EegvizError

FILE = "seen_images.json"
MAX_BYTES = 16 * 1024 * 1024  # ~500k ids: far above any EEG-image dataset (THINGS-EEG2 has 16,740 images)
ROLES = ("train", "val")
SUBJECTS = "subjects"  # the training trials' subject numbers: whose EEG the model learnt to read


def write_seen_images(model_dir: Path, ds) -> None:
    """Record the distinct image ids of `ds`'s training and validation trials in model_dir/seen_images.json,
    with the subjects of its training trials."""
    _write(model_dir, _ids_by_role(ds), _train_subjects(ds))


def _train_subjects(ds) -> set[int] | None:
    subjects = getattr(ds, "subjects", None)
    return None if subjects is None else {int(s) for s in np.asarray(subjects)[ds.subset("train")]}


def _ids_by_role(ds) -> dict[str, set[str]]:
    ids = np.asarray(ds.image_ids)
    return {role: set(map(str, ids[ds.subset(role)])) for role in ROLES}


def _write(model_dir: Path, record: dict[str, set[str]], subjects: set[int] | None = None) -> None:
    """Whole or not at all: add_seen_images rewrites a model's existing record, and a record cut short by a full
    disk would leave eval unable to tell which images the model has seen."""
    out: dict = {role: sorted(record[role]) for role in ROLES}
    if subjects is not None:
        out[SUBJECTS] = sorted(subjects)
    with replacing(Path(model_dir) / FILE) as tmp:
        tmp.write_text(json.dumps(out, indent=0))


def add_seen_images(model_dir: Path, ds) -> bool:
    """Add `ds`'s training and validation images to the model's record, when it keeps one (a part refitted on
    other data, such as the latent branch, saw those images too); False for a folder without a record, which
    stays without one (a record of only the refit's images would pass the decoder's own as unseen)."""
    seen = read_seen_images(model_dir)
    if seen is None:
        return False
    new = _ids_by_role(ds)
    subjects, more = read_trained_subjects(model_dir), _train_subjects(ds)  # kept unknown where it was
    _write(model_dir, {role: seen[role] | new[role] for role in ROLES},
           None if subjects is None or more is None else subjects | more)
    return True


def read_seen_images(model_dir: Path) -> dict[str, set[str]] | None:
    """The model's seen image ids by role; None for a folder made before the record existed (or by hand)."""
    from eegviz.modelio import read_config

    path = Path(model_dir) / FILE
    if not path.exists():
        return None
    record = read_config(model_dir, FILE, max_bytes=MAX_BYTES)  # a JSON object, read up to MAX_BYTES
    if not (isinstance(record, dict)
            and all(isinstance(record.get(r), list) and all(isinstance(i, str) for i in record[r]) for r in ROLES)):
        raise EegvizError(f"{path} must hold lists of image ids under {' and '.join(map(repr, ROLES))}")
    return {r: set(record[r]) for r in ROLES}


def read_trained_subjects(model_dir: Path) -> set[int] | None:
    """The subject numbers of the model's training trials; None where its record predates them (or it has none)."""
    from eegviz.modelio import read_config

    path = Path(model_dir) / FILE
    if not path.exists():
        return None
    subjects = read_config(model_dir, FILE, max_bytes=MAX_BYTES).get(SUBJECTS)
    if subjects is None:
        return None
    if not (isinstance(subjects, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in subjects)):
        raise EegvizError(f"{path}: '{SUBJECTS}' must be a list of subject numbers")
    return set(subjects)


def new_subjects_line(model_dir: Path, subjects: Iterable, data: str | Path | None = None
                      ) -> tuple[list[int], str] | None:
    """The subjects among these trials' (their subject numbers) that the model never learnt from, and the warning
    that says so; None where there are none, or the model does not record its subjects. `data`: the dataset, whose
    format, where it reads --subjects, has the warning offer that option."""
    trained = read_trained_subjects(model_dir)
    if trained is None:
        return None
    subjects = [int(s) for s in subjects]
    new = sorted(set(subjects) - trained)
    if not new:
        return None
    from eegviz.data.loaders import detect_format

    n = sum(s not in trained for s in subjects)
    own = ",".join(map(str, sorted(trained)))
    choosable = data is not None and detect_format(data) in ("eeg-imagenet", "things-eeg2")
    return new, (f"{n} of this dataset's {len(subjects)} test trials are of subject(s) {', '.join(map(str, new))}, "
                 f"whom the model never learnt from (it learnt from subject(s) {own}: {Path(model_dir) / FILE}): "
                 "their figures measure decoding across people, not within the subjects it was trained on"
                 + (f"; --subjects {own} scores only those" if choosable else ""))


def world_seeds(image_ids: Iterable) -> set[int] | None:
    """The seeds of the synthetic worlds these image ids are of ('cup_003' 0, 'cup_003_s2' 2); None where any id
    is not a synthetic-world id (a lab's or a real dataset's images have no world seed)."""
    from eegviz.world.stimuli import spec_id_seed

    seeds = set()
    for i in set(map(str, image_ids)):
        seed = spec_id_seed(i)
        if seed is None:
            return None
        seeds.add(seed)
    return seeds


def model_world_seeds(model_dir: Path | None) -> set[int] | None:
    """The synthetic world seeds of the images the model trained on (its seen_images.json); None where it records
    none, they are not synthetic-world images (a lab's own stimuli), or there is no folder. A damaged record is
    None too: a session only says with it which world the model knows, and must not end over it."""
    if model_dir is None:
        return None
    try:
        seen = read_seen_images(model_dir)
    except EegvizError:
        return None
    return world_seeds(seen["train"]) if seen is not None and seen["train"] else None


def other_world_marker_line(image_id: str, known: set[int]) -> str | None:
    """The notice for a session's marker that names an image of a synthetic world the model did not learn (its
    seeds `known`); None for any other id. `eegviz simulate --stream --seed 2` into a session of the shipped model
    decoded at chance by construction, without a word (eval says it of a dataset: other_world_line)."""
    from eegviz.world.stimuli import spec_id_seed

    seed = spec_id_seed(image_id)
    if seed is None or seed in known:
        return None
    own = ", ".join(map(str, sorted(known)))
    return (f"marker '{image_id}' names an image of the synthetic world of seed {seed}, and the model learnt the "
            f"world of seed {own}: each seed draws its own class responses, so this session decodes at chance by "
            f"construction (`eegviz simulate --stream --seed {min(known)}` streams the world it knows)")


def other_world_line(model_dir: Path, image_ids: Iterable) -> tuple[list[int], str] | None:
    """The world seeds among these trials' synthetic images that the model never learnt (its seen_images.json's
    training images are of other seeds), and the warning that says so; None where there are none, or either side
    is no synthetic world. Each seed draws its own class responses (eegviz.world.eeg_sim), so another seed's world
    is decoded at chance by construction: `eegviz simulate --seed 2` looked like fresh data for the shipped model,
    and its report's chance-level figures read as the model failing."""
    known, here = model_world_seeds(model_dir), world_seeds(image_ids)
    if known is None or here is None or here <= known:
        return None
    new = sorted(here - known)
    names = lambda seeds: ", ".join(map(str, sorted(seeds)))
    return new, (f"this dataset's images are of the synthetic world of seed {names(new)}, and the model learnt the "
                 f"world of seed {names(known)} ({Path(model_dir) / FILE}): each seed draws its own class responses, "
                 "so the model decodes another seed's world at chance by construction; `eegviz simulate --seed "
                 f"{min(known)}` makes data of the world it knows")


def count_seen(model_dir: Path, image_ids: Iterable) -> dict | None:
    """How many of these trials (their image ids) show an image the model trained on or chose on: {"train": n,
    "val": n, "trials": N}; None when the model does not record its images."""
    seen = read_seen_images(model_dir)
    if seen is None:
        return None
    ids = [str(i) for i in image_ids]
    return {**{r: sum(i in seen[r] for i in ids) for r in ROLES}, "trials": len(ids)}


def seen_line(model_dir: Path, counts: dict) -> str:
    """The trials of `counts` (count_seen) that show images the model saw, said in words."""
    parts = [f"{counts[r]} {'shows' if counts[r] == 1 else 'show'} images it "
             f"{'trained on' if r == 'train' else 'made its choices on (validation)'}" for r in ROLES if counts[r]]
    return (f"of this dataset's {counts['trials']} test trials, {' and '.join(parts)} ({Path(model_dir) / FILE}, "
            "matched by image id)")


def check_unseen(model_dir: Path, image_ids: Iterable, refuse: bool = True) -> dict | None:
    """count_seen, refused in one line when any trial shows an image the model saw: its figures would score
    memory of those pictures, not decoding of new ones. refuse=False: only counted (and the caller says so):
    `eegviz train` scores the model on its own dataset's test split, which that dataset's loader has already
    judged (an EEG-ImageNet split file that is not split by image is warned about there); refusing after the
    whole training run would cost the model card."""
    counts = count_seen(model_dir, image_ids)
    if refuse and counts and (counts["train"] or counts["val"]):
        # the split options too: an EEG-ImageNet model trained with --splits and evaluated without them (or the
        # other way round) meets a test split drawn another way, and the hint named only the synthetic world's cure
        raise EegvizError(f"{seen_line(model_dir, counts)}: its figures would not be a test; evaluate on data whose "
                          "test images the model never saw (with the --splits and --subjects it was trained with: "
                          "its training.json's 'command'; for the synthetic world: the test split of data simulated "
                          "with the model's own --seed and --images; another --seed simulates other brains, whose "
                          "EEG this model never learnt to read)")
    return counts
