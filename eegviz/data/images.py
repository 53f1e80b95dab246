"""Stimulus image folders, as the presenter shows them and as training finds them again.

A folder holds images directly (class = the id's prefix before the last '_') or in one subfolder per class;
the image id is the file stem, which is what an LSL marker carries. Kept free of Qt so dataset loading does not
import a GUI toolkit.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eegviz.errors import EegvizError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
# The decoders PIL may use for them. PIL picks a decoder by a file's content, not its name, and some formats it
# identifies hand the file to another program: a ".png" that is really EPS goes to Ghostscript, with the file's
# PostScript (found by review). Naming the formats keeps every image inside PIL's own decoders.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP")
# Names of images in formats eegviz does not read: said when a folder holds them, since they are neither presented
# nor trained on (a folder of 80 JPEGs and 20 WebP downloads presented 80 without a word)
OTHER_IMAGE_EXTENSIONS = (".webp", ".gif", ".tif", ".tiff", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".svg")


@dataclass(frozen=True)
class ImageFile:
    """One stimulus on disk. image_id is the file stem, so it is what the marker carries and what eegviz
    looks up again at training time (`--images-dir`)."""

    image_id: str
    class_name: str
    path: Path


def class_of(image_id: str) -> str:
    """Class of a bare id: the part before the last '_' ('star_003' -> 'star'), or the whole id without one.

    Used for flat folders, where no subfolder names the class; the synthetic world's ids follow this pattern.
    """
    return image_id.rsplit("_", 1)[0] if "_" in image_id else image_id


# the (folder, folders below its class folders) already warned about in this process: a session reads its
# stimulus folder more than once (a replay: its ground truth and its stimulus panel), and said it each time
_TOLD_DEEPER: set[tuple[str, tuple[str, ...]]] = set()
_TOLD_OTHER: set[tuple[str, tuple[str, ...]]] = set()  # the same, for files of OTHER_IMAGE_EXTENSIONS
_TOLD_UNREADABLE: set[tuple[str, tuple[str, ...]]] = set()  # the same, for entries that could not be read
# How many names find_images reads (the folder, its subfolders, the folders below those) before it gives up: a
# stimulus set is thousands of images (THINGS: 26,107 in 1,854 folders); a folder above it, a home folder or a
# share's root, may hold millions, and `--images-dir /` walked /proc
MAX_FOLDER_ENTRIES = 200_000


def utf8_on_disk(name: str) -> bool:
    """Whether a name Python could not decode (a file name, an argument) is UTF-8 bytes (so the locale, not the name, is at fault)."""
    try:
        os.fsencode(name).decode("utf-8")
    except (UnicodeError, ValueError):
        return False
    return True


def find_images(images_dir: str | Path, what: str = "stimulus folder") -> list[ImageFile]:
    """Images in a folder and in its direct subfolders (one per class), sorted by path.

    Files directly in the folder take their class from the id prefix; files in a subfolder take the subfolder's
    name. Hidden files and folders are skipped. Two files with one stem would send the same marker for
    different pictures, so that is an error rather than a silent pick. `what` names the folder in every line
    (the option it came from: "--images-dir").

    The walk is bounded: a folder above the stimuli (`--images-dir /`, a home folder) is refused after
    MAX_FOLDER_ENTRIES names, and an entry that cannot be read (/proc/1/cwd, a folder without permission) is left
    out with a warning; `--images-dir /` used to end in "Permission denied: /proc/1/cwd", naming neither.
    """
    root = Path(images_dir)
    if not root.is_dir():
        raise EegvizError(f"{what} {root} does not exist or is not a folder.")
    listings: dict[Path, tuple[list[Path], list[Path]]] = {}  # each folder read once: (files, folders), visible
    unreadable: list[Path] = []
    names_read = 0

    def listing(folder: Path) -> tuple[list[Path], list[Path]]:
        nonlocal names_read
        if folder not in listings:
            files: list[Path] = []
            dirs: list[Path] = []
            listings[folder] = (files, dirs)
            try:
                with os.scandir(folder) as it:
                    entries = list(it)
            except OSError as exc:
                if folder == root:
                    raise EegvizError(f"{what} {root} cannot be read: {exc.strerror or exc}") from None
                unreadable.append(folder)
                entries = []
            names_read += len(entries)
            if names_read > MAX_FOLDER_ENTRIES:
                raise EegvizError(f"{what} {root} holds more than {MAX_FOLDER_ENTRIES} files and folders in it and "
                                  "the two levels below it, which is no stimulus folder: a stimulus folder holds "
                                  "its images directly or in one subfolder per class; give that folder")
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:  # both follow links, as Path.is_dir and is_file do
                    if entry.is_dir():
                        dirs.append(Path(entry.path))
                    elif entry.is_file():
                        files.append(Path(entry.path))
                except OSError:
                    unreadable.append(Path(entry.path))
            files.sort()
            dirs.sort()
        return listings[folder]

    def images_in(folder: Path) -> list[Path]:
        return [p for p in listing(folder)[0] if p.suffix.lower() in IMAGE_EXTENSIONS]

    def visible_dirs(folder: Path) -> list[Path]:
        return listing(folder)[1]

    def others_in(folder: Path) -> list[Path]:
        return [p for p in listing(folder)[0] if p.suffix.lower() in OTHER_IMAGE_EXTENSIONS]

    found = [ImageFile(p.stem, class_of(p.stem), p) for p in images_in(root)]
    deeper: list[Path] = []
    others = others_in(root)
    for sub in visible_dirs(root):
        found += [ImageFile(p.stem, sub.name, p) for p in images_in(sub)]
        deeper += [d for d in visible_dirs(sub) if images_in(d)]
        others += others_in(sub)
    told_other = (str(root.resolve()), tuple(map(str, others)))
    if others and told_other not in _TOLD_OTHER:
        _TOLD_OTHER.add(told_other)
        kinds = sorted({p.suffix.lower() for p in others})
        log.warning("%s: %d image%s in formats eegviz does not read (%s) %s left out, neither presented nor trained "
                    "on: %s; convert %s to PNG", root, len(others), "s" if len(others) != 1 else "", ", ".join(kinds),
                    "are" if len(others) != 1 else "is", ", ".join(str(p) for p in others[:3])
                    + (f" and {len(others) - 3} more" if len(others) > 3 else ""),
                    "them" if len(others) != 1 else "it")
    told = (str(root.resolve()), tuple(map(str, deeper)))
    if deeper and told not in _TOLD_DEEPER:  # animals/cat/cat1.png: the presenter showed, and training read, none
        _TOLD_DEEPER.add(told)  # of them, without a word. Said once: a replay looks the folder up twice
        log.warning("%s: images in folders below the class folders are not read: %s; a stimulus folder holds images "
                    "directly or in one subfolder per class", root, ", ".join(str(d) for d in deeper[:3])
                    + (f" and {len(deeper) - 3} more" if len(deeper) > 3 else ""))
    told_unreadable = (str(root.resolve()), tuple(map(str, unreadable)))
    if unreadable and told_unreadable not in _TOLD_UNREADABLE:
        _TOLD_UNREADABLE.add(told_unreadable)
        log.warning("%s %s: %d entr%s could not be read and %s left out: %s", what, root, len(unreadable),
                    "ies" if len(unreadable) != 1 else "y", "are" if len(unreadable) != 1 else "is",
                    ", ".join(str(p) for p in unreadable[:3])
                    + (f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""))
    if not found:
        raise EegvizError(f"no images ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}) in {what} {root} or its "
                          "subfolders.")
    seen: dict[str, Path] = {}
    for img in found:
        if img.image_id != img.image_id.strip():
            # the presenter sends the stem as it is, and a marker's id is read stripped (live, replay, training):
            # a recorded 'cat 1 ' matched no image and every trial of it was left out of training
            raise EegvizError(f"the image {img.path} has a name that begins or ends with a space, which marker ids "
                              "lose when they are read; rename it without (markers already recorded with the "
                              "space then match the new name)")
        try:
            img.image_id.encode("utf-8")
        except UnicodeEncodeError:
            if utf8_on_disk(img.image_id):
                # UTF-8 bytes that an ASCII locale (LC_ALL=C with PYTHONUTF8=0) could not read: the name is fine,
                # and "bytes another encoding wrote, rename it" sent the user renaming a good file
                raise EegvizError(f"the image {img.path} has a UTF-8 name this system's locale "
                                  f"({sys.getfilesystemencoding()}) cannot read as text; run with a UTF-8 locale "
                                  "(LANG=C.UTF-8) or PYTHONUTF8=1") from None
            # a name in another encoding than the system's (Latin-1 'b\xe4r.png' copied from an old drive) is no
            # text: the presenter refused it as "File not found", and no marker could ever name it for training
            raise EegvizError(f"the image {img.path} has a name that is not UTF-8 text (bytes another encoding "
                              "wrote), which a marker cannot carry; rename it") from None
        if img.image_id in seen:
            raise EegvizError(f"two images share the id '{img.image_id}' ({seen[img.image_id]} and {img.path}); "
                              "markers carry the file name without extension, so rename one.")
        seen[img.image_id] = img.path
    return found


def unreadable_image(path: str | Path, exc: BaseException, more: str = "") -> EegvizError:
    """The one line for a stimulus image training cannot read (`more`: how many others, after its path). A file
    whose content is another format than its name says (a web download named .jpg that is WebP, a GIF or TIFF
    renamed .png) is named as such: PIL's own "cannot identify image file" did not say that the name is not what
    is read."""
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return EegvizError(f"cannot read stimulus image {path}{more}: its content is not a PNG, JPEG or BMP image, "
                           "whatever its name says (a web download named .jpg is often WebP); convert it to PNG")
    return EegvizError(f"cannot read stimulus image {path}{more}: {exc}")


def image_format_problem(path: str | Path) -> BaseException | None:
    """Why training (load_image) will not read the image at `path`, from its header alone; None where it will."""
    from PIL import Image

    try:
        with Image.open(path, formats=IMAGE_FORMATS):
            return None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        return e


def check_image_format(path: str | Path) -> None:
    """Refuse, in one line, an image training (load_image) will not read: the presenter shows what Qt decodes,
    which is more than PIL's PNG, JPEG and BMP decoders (WebP, GIF, TIFF under any name), and such a file was
    presented and recorded, and then refused by `eegviz train` after the session. Reads the header only; the
    presenter decodes the whole file itself."""
    if (problem := image_format_problem(path)) is not None:
        raise unreadable_image(path, problem) from None


def load_image(path: str | Path, size: int, draft: bool = False) -> np.ndarray:
    """(size, size, 3) float32 in [0, 1]: RGB, a JPEG turned upright by its EXIF orientation, any transparency
    over black, 16-bit grey scaled to 8 bits (the presenter shows all three so), centre-cropped to a square,
    resized (how stimulus photos of any aspect ratio become the pixel branch's targets). draft: let a JPEG decode
    at a reduced scale first (a 12 Mpx photo in a few ms instead of a quarter second; for display, not for
    training targets).

    Upright because the presenter shows it so (Qt applies a JPEG's orientation, as photo viewers do, and not a
    PNG's): a phone photo stored sideways with an orientation tag was seen upright by the participant, while
    training learnt, and the live ground-truth panel showed, the stored sideways pixels."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path, formats=IMAGE_FORMATS) as im:
            if draft:
                im.draft("RGB", (2 * size, 2 * size))
            if im.format == "JPEG":  # a copy, upright; the plain copy where there is no orientation tag
                im = ImageOps.exif_transpose(im)  # not a PNG's: Qt (the presenter) shows a PNG's eXIf as stored
            if im.mode.startswith("I"):
                # 16-bit greyscale (a PNG of 0..65535): convert("RGB") clipped every value above 255, so a
                # grating or face the presenter showed in full (Qt scales it to 8 bits) was learnt as white
                im = Image.fromarray((np.asarray(im, dtype=np.float64) / 257.0).round().clip(0, 255)
                                     .astype(np.uint8), "L")
            if {"A", "a"} & set(im.getbands()) or "transparency" in im.info:
                # over black, as the presenter paints it: convert("RGB") dropped the alpha and kept whatever colour
                # the transparent pixels store (often white), so a cut-out the participant saw on black was
                # learnt on white, and the live ground-truth panel showed it so
                im = Image.alpha_composite(Image.new("RGBA", im.size, (0, 0, 0, 255)), im.convert("RGBA"))
            im = ImageOps.fit(im.convert("RGB"), (size, size), Image.Resampling.BICUBIC)  # centre crop + resize
            return np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, ValueError, Image.DecompressionBombError) as e:  # a bomb: more pixels than PIL allows
        raise unreadable_image(path, e) from None


# ------------------------------------------------------------- where an image's object is (targets, metrics)
MASK_MIN_DISTANCE = 0.1  # RGB distance from the background below which a pixel is never "object"


def object_mask(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) -> (N, H, W) bool: pixels whose colour lies far from the image's background colour.

    Far = more than half the image's 99th-percentile distance (so an antialiased edge splits where the true
    silhouette's soft mask crosses 0.5) and more than MASK_MIN_DISTANCE (so a flat or faint image has no
    object instead of one made of noise)."""
    dist = np.linalg.norm(images - background_colour(images)[:, None, None, :], axis=-1)
    thresh = np.maximum(MASK_MIN_DISTANCE, 0.5 * np.percentile(dist.reshape(len(dist), -1), 99, axis=1))
    return dist > thresh[:, None, None]


def background_colour(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) -> (N, 3): the median colour of each image's border pixels (its background)."""
    border = np.concatenate([images[:, 0], images[:, -1], images[:, 1:-1, 0], images[:, 1:-1, -1]], axis=1)
    return np.median(border, axis=1)
