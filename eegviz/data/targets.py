"""What each trial's stimulus is, as the decoder learns it and the evaluation scores it: the image and its
silhouette (the pixel branch's targets) and its caption (the semantic branch's). Used by training and
evaluation alike, so it lives with the data rather than in either.
"""

from __future__ import annotations

import numpy as np

from eegviz.data.dataset import EEGDataset
from eegviz.errors import EegvizError


def check_stimuli(image_ids, paths: dict | None = None) -> None:
    """Raise EegvizError naming the first image id with no stimulus: neither a file in `paths` (the dataset's
    --images-dir) nor a synthetic-world id that can be rendered again.

    The pixel branch needs every stimulus, but it only asks for them after the encoder has trained; checking
    first means a run missing --images-dir stops in a second, before it has written anything.
    """
    from eegviz.world.stimuli import spec_from_id

    def missing(i: str) -> bool:
        if paths and i in paths:
            return False
        try:
            spec_from_id(i)
        except EegvizError:
            return True
        return False

    ids = list(dict.fromkeys(map(str, image_ids)))
    lacking = [i for i in ids if missing(i)]
    if not lacking:
        check_stimulus_files(ids, paths)
        return
    if not paths:
        raise EegvizError(f"no stimulus image for id '{lacking[0]}': the pixel branch learns from the stimuli, so "
                          "pass --images-dir with a file per image named <id>.png/.jpg")
    # the folder was given and holds some of them: "pass --images-dir" sent a user who had (THINGS-EEG2's
    # image_set/training_images, which lacks the test images) looking for a missing option
    more = f" and {len(lacking) - 1} more" if len(lacking) > 1 else ""
    raise EegvizError(f"--images-dir has no stimulus image for id '{lacking[0]}'{more} ({len(ids) - len(lacking)} "
                      f"of the dataset's {len(ids)} images found): the pixel branch learns from every stimulus, so "
                      "give a folder with a file per image (<id>.png/.jpg; THINGS-EEG2: the release's image_set/, "
                      "which holds training_images/ and test_images/)")


def check_stimulus_files(image_ids, paths: dict | None) -> None:
    """Refuse, in one line, a stimulus file of `paths` that load_image will not read (another format under an
    image's name, an empty file, an HTML error page saved as .jpg, a download cut short before its header),
    naming the first and how many more: the pixel branch read them after the encoder had trained, so a run
    failed minutes in, its checkpoints/ left in the --out folder that a rerun then refused as not empty, to be
    fixed and resumed one file at a time. Only each header is read (eegviz.data.images.check_image_format;
    milliseconds for THINGS-EEG2's 16740), so a file cut short after it fails when it is loaded (training loads
    the stimuli before its first stage, eegviz.train.decoder.train_decoder)."""
    from eegviz.data.images import image_format_problem, unreadable_image

    files = [paths[i] for i in dict.fromkeys(map(str, image_ids)) if paths and i in paths]
    bad = [(path, problem) for path in files if (problem := image_format_problem(path)) is not None]
    if bad:
        more = f" (and {len(bad) - 1} more of the {len(files)} stimuli)" if len(bad) > 1 else ""
        raise unreadable_image(*bad[0], more) from None


def stimulus_targets(image_ids, size: int, paths: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, size, size) in [0,1] and silhouettes (N, 1, size, size), one per trial (cached per unique
    id): the file from `paths` (the dataset's --images-dir) when there is one, its silhouette estimated as the
    pixels far from its border colour (eegviz.data.images.object_mask); else the synthetic world's rendering of
    the id and its exact mask."""
    from eegviz.data.images import load_image
    from eegviz.data.images import object_mask
    from eegviz.world.stimuli import render, spec_from_id

    check_stimuli(image_ids, paths)
    uniq: dict[str, tuple] = {str(i): None for i in image_ids}
    for i in uniq:
        if paths and i in paths:
            img = load_image(paths[i], size)
            uniq[i] = (img, object_mask(img[None])[0].astype(np.float32))
        else:
            uniq[i] = render(spec_from_id(i), size=size)
    images = np.stack([uniq[str(i)][0] for i in image_ids]).astype(np.float32)
    masks = np.stack([uniq[str(i)][1] for i in image_ids]).astype(np.float32)
    return images.transpose(0, 3, 1, 2), masks[:, None]


def captions_for(ds: EEGDataset, idx: np.ndarray, kind: str) -> list[str]:
    """The caption each trial's semantic branch learns: "an image of a <class>" (kind "label") or the
    dataset's own caption of its image (kind "rich")."""
    if kind == "label":
        return [f"an image of a {ds.classes[ds.labels[i]]}" for i in idx]
    return [ds.captions[str(ds.image_ids[i])] for i in idx]


def check_caption_kind(ds: EEGDataset, kind: str) -> None:
    """Refuse `--caption rich` for a dataset none of whose images has a caption of its own (THINGS-EEG2 and
    EEG-ImageNet, whose loaders caption every image "an image of a <class>"; XDF sessions without a captions.json):
    it trained the label captions in silence, and training.json and the model card said "rich captions"."""
    if kind != "rich":
        return
    own = {str(i) for i, y in zip(ds.image_ids, ds.labels)
           if ds.captions.get(str(i), f"an image of a {ds.classes[y]}") != f"an image of a {ds.classes[y]}"}
    if not own:
        raise EegvizError("--caption rich: none of the dataset's images has a caption of its own (each is 'an image "
                          "of a <class>', which --caption label trains on); XDF sessions read them from a "
                          "captions.json (image id -> caption) in --images-dir, THINGS-EEG2 and EEG-ImageNet have "
                          "none; leave --caption rich out")
