"""Montage mapping: run a model on a cap it was not trained on, by electrode position rather than by name.

A model's channels are positions on the scalp (its montage, e.g. biosemi128 for the shipped model). A source
with other electrodes (a 16-channel OpenBCI/BrainFlow board with 10-20 names, a 64-channel actiCHamp with
easycap names) covers the same scalp field at other points, so each model channel is either taken from a
source electrode at the same place or interpolated from all of them with spherical splines (Perrin et al.
1989, MNE's interpolate_bads). The mapping is linear, so it is computed once per session as a matrix
(n_model x n_source) and applied to every epoch with one product.

Positions come from MNE's built-in montages, with MNE's name matching (case-insensitive, 10-20 aliases such
as T3 -> T7, and T5 -> P7, T6 -> P8 as the ACNS guideline renamed them). Different montages live in different
head frames (MNE's biosemi caps are idealised spheres, colin27/standard_1005 a realistic head), so each montage
is put on a unit sphere by fitting a sphere to its own electrodes first: what the splines use is the direction
from the head centre, and that is what the 10-20 system defines, with each montage's distances from Cz scaled
to put the 10-20 ring where easycap's sphere has it (sphere_positions says why). On that common sphere the
idealised caps (biosemi, easycap, spherical_1005, Brain Products') agree to a millimetre or two (7 mm at AF3,
FC3, CP3 and PO3, which easycap's cap places its own way); a realistic head (standard_1020) within 5-10 mm at
most electrodes, below the ~1 cm precision with which a cap is put on a head, but up to about 2 cm at the
occiput (Oz, POz, Pz), where a head is least like a sphere.

BioSemi's ActiView (and MNE's biosemi128/160/256 montages) name electrodes by letter and number, A1..H32, and
the same name is another place on each cap: A1..D32 on a 256-electrode cap lie a median 89 mm from the same
names on the 128-electrode cap the shipped model was trained on, and a 32- or 64-electrode cap's A1..B32 are its
10-20 electrodes in ActiView's order (MNE's biosemi32/64 montages list them in that order, by their 10-20 names).
Matched by name, such a recording fed the model electrodes from the wrong places without a word. So a source
whose channels carry those names is placed by the cap they can only come from (biosemi_cap: by its letters,
E is biosemi160, F..H biosemi256, A..B a 64- or 32-electrode cap), with one line saying so; names are matched
as names only where that cap is the model's own.

Interpolated channels are an estimate of what the model's electrodes would have recorded: the model never
saw them during training, so a warning says so and decoding is expected to be worse than on the model's cap.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from eegviz.errors import EegvizError, one_line
from eegviz.messages import default_ch_names

log = logging.getLogger(__name__)

HEAD_RADIUS = 0.095  # m; the common sphere every montage is projected onto
SAME_PLACE_M = 0.006  # electrodes closer than this on the common sphere are taken as the same electrode
# Montages tried for a source that names no montage, after the model's own: the one that places the most source
# channels wins (the first in this order on a tie).
# easycap-M1 first: its 10-10 positions coincide with biosemi's idealised sphere; spherical_1005 covers the
# full 10-05 name set (and the 10-20 aliases) on an idealised sphere too.
AUTO_MONTAGES = ("easycap-M1", "spherical_1005")
RING = ("Fpz", "T7", "T8", "Oz")  # the 10-20 ring: how far from Cz it lies is scaled to RING_MONTAGE's
RING_MONTAGE = "easycap-M1"
# MNE's alias table (set_montage's match_alias) plus the 10-20 names of the ACNS 2006 guideline's renaming: T3,
# T4, T5, T6 are T7, T8, P7, P8 (MNE's own table sends T5 and T6 to T9 and T10, which no cap we know of means)
_EXTRA_ALIASES = {"T5": "P7", "T6": "P8"}
# Fewer electrodes than this (a 4-channel Muse) leave most of a 128-channel cap to extrapolation, which
# would only feed the model noise shaped like EEG; 8 is an OpenBCI Cyton, the smallest research board.
MIN_SOURCE_CHANNELS = 8
# A montage's electrodes whose thinnest spread is under this fraction of their widest lie nearly in one plane: an
# 8-channel headband's file of the 10-20 ring (Fp1, Fp2, F7, F8, T7, T8, O1, O2) fits spheres centred anywhere along
# the ring's axis, and the least-squares fit picked one that put every electrode 29 mm off its place (all 128 of the
# model's channels interpolated) without a word. Every MNE built-in cap spreads 0.32 or more; a patch of eight
# occipital or frontal electrodes 0.17, which still fits within millimetres.
FLAT_LAYOUT = 0.1

# ActiView's channel names (A1..H32), the names of MNE's biosemi128/160/256 montages; the letter says which
# block of 32 on the cap
BIOSEMI_NAME = re.compile(r"^([A-H])([1-9]|[12][0-9]|3[0-2])$", re.IGNORECASE)
# MNE's BioSemi caps that name their electrodes by 10-20 names, listed in ActiView's order (A1, A2, ...)
BIOSEMI_BY_ORDER = ("biosemi16", "biosemi32", "biosemi64")


# A referential channel's name as clinical EDF exporters write it (TUH EEG's "EEG FP1-REF", "EEG C3-LE", Nihon
# Kohden's "Fp1-A1"): the electrode, then the reference it was recorded against. MNE's EDF reader strips only the
# "EEG " prefix (and only for some files), so "FP1-REF" matched no montage and such files were refused.
# The electrode part holds no space, "-" or "_", so "EEG A1" (an electrode named EEG?) and bipolar "FP1-F7" are
# left as they are.
REFERENCE_SUFFIX = re.compile(r"^(?:EEG\s+)?([^\s_-]+)[-_](?:REF|LE|RE|AR|AV|AVG|CAR|A1|A2|M1|M2|A12|M12|LM|RM)$",
                              re.IGNORECASE)


# A channel's name as EDF+ writes it, its signal type first ("EEG Fp1"; Nihon Kohden's and many clinical exporters'
# without a reference suffix): the name after it is an electrode's when it starts with a letter ("EEG 001", MNE's
# sample data, stays as it is).
TYPE_PREFIX = re.compile(r"^EEG\s+([A-Za-z][A-Za-z0-9']*)$", re.IGNORECASE)


# A name padded with dots to EDF's 4-character label, as PhysioNet's EEG Motor Movement/Imagery dataset (EEGMMIDB,
# MNE's eegbci) writes its 64 channels: "Fc5.", "Cz..", "Fp1.". MNE's EDF reader keeps the dots, so no montage placed
# any of them and such files were refused; the electrode is the name without them.
PADDING_DOTS = re.compile(r"^([A-Za-z][A-Za-z0-9']*?)\.+$")


# A name led by the channel's own number in the stream, as some recorders' exports write it ("1-FP1", "2-FP2", ...,
# "14-Cz"): no montage placed any of them. Only where the number is the channel's place (1 for the first): a
# hyperscanning recording's "1-C1" and "2-C1" name two subjects' C1, never one electrode.
NUMBER_PREFIX = re.compile(r"^(\d+)[-_.:\s]+([A-Za-z][A-Za-z0-9']*)$")


def _renamed(source_names: list[str], model_names, rename) -> list[str]:
    """The source's names through `rename` where that is safe: a name the model itself has is matched as it is,
    and a name is renamed only to one no other channel has or gets, so renaming never makes two channels of one
    name."""
    model = {m.lower() for m in model_names}
    taken = {n.lower() for n in source_names}
    out = []
    for n in source_names:
        e = rename(n)
        if e != n and n.lower() not in model and e.lower() not in taken:
            taken.add(e.lower())
            n = e
        out.append(n)
    return out


def without_type(source_names: list[str], model_names) -> list[str]:
    """The source's names with an EDF+ signal-type prefix taken off ("EEG Fp1" -> "Fp1", TYPE_PREFIX), where safe
    (_renamed). Done before the BioSemi check (biosemi_cap), so "EEG A1".."EEG D32" are still placed by that cap
    and never as the 10-10 names A1, C1 they would then spell. Such names were refused as having no position."""
    def strip(n: str) -> str:
        m = TYPE_PREFIX.match(str(n).strip())
        return str(n) if m is None else m.group(1)

    return _renamed(source_names, model_names, strip)


def without_padding(source_names: list[str], model_names) -> list[str]:
    """The source's names without the dots that pad them to EDF's label width ("Cz.." -> "Cz", PADDING_DOTS), where
    safe (_renamed)."""
    def strip(n: str) -> str:
        m = PADDING_DOTS.match(str(n).strip())
        return str(n) if m is None else m.group(1)

    return _renamed(source_names, model_names, strip)


def without_numbers(source_names: list[str], model_names) -> list[str]:
    """The source's names without a leading channel number ("3-F7" -> "F7", NUMBER_PREFIX) where every such number is
    its channel's place in the stream, counted from 1, and where safe (_renamed)."""
    found = [(i, NUMBER_PREFIX.match(str(n).strip())) for i, n in enumerate(source_names)]
    if any(m is not None and int(m.group(1)) != i + 1 for i, m in found):
        return list(source_names)  # numbers that are not the channels' places: not channel numbers
    stripped = {n: str(n) if m is None else m.group(2) for n, (_, m) in zip(source_names, found)}
    return _renamed(source_names, model_names, lambda n: stripped[n])


def electrode_name(name: str) -> str:
    """The electrode a referential channel name names ("EEG FP1-REF" -> "FP1", "Fp1-A1" -> "Fp1"); any other
    name as it is (bipolar "FP1-F7" names two electrodes, and BioSemi's "A1" has no separator)."""
    m = REFERENCE_SUFFIX.match(str(name).strip())
    return str(name) if m is None else m.group(1)


def electrode_names(source_names: list[str], model_names) -> list[str]:
    """The source's names with referential ones read as their electrode (electrode_name), where that is safe: a
    name the model itself has (a model trained on "Fp1-A1" channels) is matched as it is, and a name is renamed
    only to one no other channel has or gets ("A1-A2" beside a real "A1" stays "A1-A2"), so renaming never makes
    two channels of one name (_renamed)."""
    return _renamed(source_names, model_names, electrode_name)


def biosemi_cap(names) -> str | None:
    """The MNE montage of the BioSemi cap whose ActiView names (A1..H32) a source's channels carry, or None.

    Taken as ActiView's where at least half the channels have such names (the rest: EXG, ECG, AUX) and one of
    them is no 10-10 name (10-10 caps have C1..C6, F1..F10 and ear electrodes A1, A2, never B.., D.., E.., G..,
    H.. or A3..). The cap is the smallest whose letters hold them all: F..H are biosemi256's, E biosemi160's,
    C..D biosemi128's; A..B are a 64-electrode cap's (a 128-electrode one has C and D), A alone a 32- or
    16-electrode cap's, by its highest number."""
    found = [m for m in map(BIOSEMI_NAME.match, (str(n).strip() for n in names)) if m]
    only = [m for m in found if m.group(1).upper() in "BDEGH" or (m.group(1).upper() == "A" and int(m.group(2)) > 2)]
    if not only or 2 * len(found) < len(names):
        return None
    top = max(m.group(1).upper() for m in found)
    # a BioSemi cap fills its blocks from A up: letters with one missing are another system's names (EGI's
    # GSN-HydroCel-32 names its electrodes E1..E32, which were once placed on biosemi160's E block)
    if {m.group(1).upper() for m in found} != set("ABCDEFGH"[: "ABCDEFGH".index(top) + 1]):
        return None
    if top >= "F":
        return "biosemi256"
    if top == "E":
        return "biosemi160"
    if top >= "C":
        return "biosemi128"
    if top == "B":
        return "biosemi64"
    return "biosemi32" if max(int(m.group(2)) for m in found) > 16 else "biosemi16"


def _by_order(names, montage: str) -> list[str]:
    """ActiView's names (A1..B32) as the 10-20 names of `montage`, one of BIOSEMI_BY_ORDER, which lists its
    electrodes in ActiView's order; other names as they are."""
    order = load_montage(montage).ch_names
    out = []
    for n in names:
        m = BIOSEMI_NAME.match(n.strip())
        k = (ord(m.group(1).upper()) - ord("A")) * 32 + int(m.group(2)) - 1 if m else len(order)
        out.append(order[k] if k < len(order) else n)
    return out


def check_montage(name: str | None) -> None:
    """Fail now, as one line, for an unknown --montage name, or one whose electrodes give no head centre (too few,
    or in one plane: _centre), not later, when the source has opened (a board connected, a stream found)."""
    if name is not None:
        _montage_centre(name)


def builtin_montages() -> list[str]:
    import mne

    return list(mne.channels.get_builtin_montages())


# electrode-position files MNE's read_custom_montage reads (its documented formats)
MONTAGE_FILE_SUFFIXES = (".loc", ".locs", ".eloc", ".sfp", ".csd", ".elc", ".txt", ".elp", ".hpts", ".bvef")


def is_montage_file(name: str) -> bool:
    """Whether a --montage value names a file: an electrode-file suffix, or a folder part (./cap, ~/caps/cap). A
    bare name is a built-in one, so a file of that name in the working directory cannot shadow it (`biosemi64`
    there turned a model's own montage into a refusal)."""
    path = Path(name)
    return path.suffix.lower() in MONTAGE_FILE_SUFFIXES or len(path.parts) > 1 or name.startswith((".", "~"))


def _cache_key(name: str):
    """What the montage caches are keyed by: a built-in's name; a file's absolute path, modification time and
    size, so a cap file edited (or a relative path read from another folder) between two sessions of a
    long-running window is read again, not served from the first."""
    if not is_montage_file(name):
        return name
    path = Path(name).expanduser()
    try:
        st = path.stat()
        return str(path.resolve()), st.st_mtime_ns, st.st_size
    except OSError:
        return str(path.absolute()), None, None  # refused by _montage_file, which is not cached


def load_montage(name: str):
    """A built-in MNE montage by name (including names MNE keeps as deprecated aliases, e.g. standard_1020), or an
    electrode-position file (is_montage_file; read by MNE's read_custom_montage): a lab's own cap, or its
    digitised positions, whose electrodes are named in no built-in montage (E1..E64) and were refused."""
    return _load_montage(_cache_key(name), name)


@lru_cache(maxsize=16)
def _load_montage(key, name: str):
    import mne

    if is_montage_file(name):
        return _montage_file(Path(name).expanduser())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # standard_1020 -> colin27_1020: same positions
            return mne.channels.make_standard_montage(name)
    except (ValueError, KeyError):
        raise EegvizError(
            f"unknown montage '{name}'; name an electrode-position file ({', '.join(MONTAGE_FILE_SUFFIXES)}) or "
            f"one of: {', '.join(builtin_montages())}"
        ) from None


def _montage_file(path: Path):
    """load_montage for a file: positions in MNE's head frame (x right, y front, z up; the formats' own units),
    which the common sphere (sphere_positions) needs, as it needs it of every montage; one line for any failure."""
    import mne

    if not path.is_file():
        raise EegvizError(f"montage file {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    if path.suffix.lower() not in MONTAGE_FILE_SUFFIXES:
        raise EegvizError(f"montage file {path.name}: MNE reads electrode positions from "
                          f"{', '.join(MONTAGE_FILE_SUFFIXES)} files; name a built-in montage or such a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            montage = mne.channels.read_custom_montage(path)
    except Exception as e:  # noqa: BLE001 - MNE's readers raise many kinds; the user needs one line
        raise EegvizError(f"cannot read electrode positions from {path.name} ({one_line(e)})") from None
    if not montage.ch_names:
        raise EegvizError(f"montage file {path.name} places no electrode")
    return montage


def _fit_sphere(p: np.ndarray) -> np.ndarray:
    """Centre of the least-squares sphere through points p (n, 3): |p|^2 = 2 c.p + (r^2 - |c|^2)."""
    a = np.c_[2 * p, np.ones(len(p))]
    sol = np.linalg.lstsq(a, (p**2).sum(axis=1), rcond=None)[0]
    return sol[:3]


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    from mne.channels.montage import CHANNEL_LOC_ALIASES

    return {**CHANNEL_LOC_ALIASES, **_EXTRA_ALIASES}


def _head_positions(names, montage) -> np.ndarray:
    """(n, 3) head-frame positions of names in montage, matched as MNE's set_montage does; NaN rows: none."""
    import mne

    info = mne.create_info(list(names), 1000.0, "eeg")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info.set_montage(montage, match_case=False, match_alias=_aliases(), on_missing="ignore", verbose="error")
    except ValueError as e:
        raise EegvizError(f"cannot place channels on the montage: {str(e).splitlines()[0]}") from None
    pos = np.array([ch["loc"][:3] for ch in info["chs"]], dtype=float)
    pos[~np.isfinite(pos).all(axis=1) | (np.abs(pos).sum(axis=1) == 0)] = np.nan
    return pos


def _montage_centre(name: str) -> tuple[float, float, float]:
    """The centre of the sphere through the montage's own electrodes, those it places: some MNE montages name
    electrodes they give no position (colin27_alphabetic: 6 of 65), and one NaN row made the fit a LinAlgError
    traceback for `--montage colin27_alphabetic`."""
    return _centre(_cache_key(name), name)


@lru_cache(maxsize=16)
def _centre(key, name: str) -> tuple[float, float, float]:
    m = load_montage(name)
    pos = _head_positions(m.ch_names, m)
    pos = pos[np.isfinite(pos).all(axis=1)]
    if len(pos) < 4:
        raise EegvizError(f"montage {name} places fewer than 4 of its own electrodes; name another with --montage")
    spread = np.linalg.svd(pos - pos.mean(axis=0), compute_uv=False)
    if spread[2] < FLAT_LAYOUT * spread[0]:
        raise EegvizError(
            f"the {len(pos)} electrodes of montage {name} lie nearly in one plane (a ring or a row across the head), "
            "which leaves the head's centre, and so each electrode's direction from it, undetermined; add the "
            "positions of electrodes off that plane (Cz's, say: the file may place electrodes the source lacks)"
        )
    return tuple(_fit_sphere(pos))


def _directions(names, montage_name: str) -> np.ndarray:
    """Unit directions of names from the montage's fitted head centre (n, 3); NaN rows: not placed."""
    p = _head_positions(names, load_montage(montage_name)) - np.array(_montage_centre(montage_name))
    with np.errstate(invalid="ignore"):
        return p / np.linalg.norm(p, axis=1, keepdims=True)


def _ring(name: str) -> tuple[tuple[float, float, float], float] | None:
    """(the Cz direction, the mean angle from it of the 10-20 ring: Fpz, T7, T8, Oz) on the montage, or None where
    it does not place Cz and three of the ring (biosemi's numbered caps, which lie on easycap's sphere already)."""
    return _ring_of(_cache_key(name), name)


@lru_cache(maxsize=16)
def _ring_of(key, name: str) -> tuple[tuple[float, float, float], float] | None:
    d = _directions(("Cz", *RING), name)
    ring = d[1:][np.isfinite(d[1:]).all(axis=1)]
    if not np.isfinite(d[0]).all() or len(ring) < 3:
        return None
    return tuple(d[0]), float(np.mean(np.arccos(np.clip(ring @ d[0], -1.0, 1.0))))


def sphere_positions(names, montage_name: str) -> np.ndarray:
    """Positions of names on the common head sphere (n, 3), NaN rows for names the montage does not place.

    The montages do not agree on how far from Cz the 10-20 ring (Fpz, T7, Oz, T8) lies: 92 degrees on easycap's
    and biosemi's spheres, 90 on Brain Products', 85-95 on a realistic head, 72 on MNE's spherical_1005, which
    put every electrode of a cap placed by it up to 20 degrees (33 mm) nearer the vertex than the model's and
    took, within SAME_PLACE_M, a neighbour's place for its own (Oz fed POz). So each montage's angles from Cz
    are scaled to put its ring where RING_MONTAGE's is."""
    d = _directions(names, montage_name)
    ring, ref = _ring(montage_name), _ring(RING_MONTAGE)
    scale = 1.0 if ring is None or ref is None else ref[1] / ring[1]
    if abs(scale - 1.0) > 1e-3:
        pole = np.array(ring[0])
        with np.errstate(invalid="ignore"):
            cos = np.clip(d @ pole, -1.0, 1.0)
            side = d - cos[:, None] * pole  # towards the electrode, at right angles to the pole
            norm = np.linalg.norm(side, axis=1, keepdims=True)
            side = np.where(norm > 1e-9, side / np.where(norm > 1e-9, norm, 1.0), 0.0)
            theta = np.minimum(np.arccos(cos) * scale, np.pi)
            d = np.cos(theta)[:, None] * pole + np.sin(theta)[:, None] * side
    return HEAD_RADIUS * d


def _unplaced(names, pos) -> list[str]:
    return [n for n, p in zip(names, pos) if not np.isfinite(p).all()]


def _shown(names, most: int = 10) -> str:
    """Names for a one-line message: the first `most`, then ' ...'."""
    return ", ".join(names[:most]) + (" ..." if len(names) > most else "")


@dataclass
class ChannelMap:
    """Source channels -> model channels: model = matrix @ source[picks] (matrix None: a plain selection)."""

    picks: np.ndarray
    matrix: np.ndarray | None = None
    n_interpolated: int = 0
    source_montage: str | None = None
    left_out: tuple[str, ...] = ()  # source channels the montage does not place (ECG, AUX, ...), not used
    bads: tuple[str, ...] = ()  # source channels marked bad (as the source names them), not used
    replaced: tuple[str, ...] = ()  # the model's channels interpolated because their own electrode is bad

    def bads_line(self) -> str:
        """The line that says which electrodes were left out as bad and which of the model's channels are now
        interpolated in their place ("" when none is marked bad)."""
        if not self.bads:
            return ""
        now = self.replaced_phrase(self.replaced) or "none of the model's channels was taken from them"
        return f"montage: {len(self.bads)} electrode(s) marked bad are left out ({_shown(self.bads)}); {now}"

    def replaced_phrase(self, replaced) -> str:
        """'the model's C3, Pz are interpolated from the other N electrodes' for those of the model's channels
        (`replaced`, this map's or a part of them) now interpolated in a bad electrode's place; "" for none."""
        if not replaced:
            return ""
        return (f"the model's {_shown(replaced)} {'is' if len(replaced) == 1 else 'are'} interpolated from the other "
                f"{len(self.picks)} electrodes")

    @property
    def n_direct(self) -> int:
        n_model = len(self.picks) if self.matrix is None else len(self.matrix)
        return n_model - self.n_interpolated

    def apply(self, data: np.ndarray) -> np.ndarray:
        """(n_source_channels, n_times) -> (n_model_channels, n_times) float64."""
        x = data[self.picks].astype(np.float64)
        return x if self.matrix is None else self.matrix @ x


def _spline_matrix(src_pos: np.ndarray, dst_pos: np.ndarray) -> np.ndarray:
    """(n_dst, n_src) spherical-spline interpolation matrix, through MNE's public interpolate_bads.

    Interpolation is linear in the data, so interpolating an identity recording (sample k = 1 on source
    channel k, 0 elsewhere) yields the matrix itself; computed once per session.
    """
    import mne

    n_src, n_dst = len(src_pos), len(dst_pos)
    names = [f"s{i}" for i in range(n_src)] + [f"m{i}" for i in range(n_dst)]
    info = mne.create_info(names, 1000.0, "eeg")
    ch_pos = dict(zip(names, np.vstack([src_pos, dst_pos])))
    info.set_montage(mne.channels.make_dig_montage(ch_pos=ch_pos, coord_frame="head"), verbose="error")
    info["bads"] = names[n_src:]
    data = np.zeros((n_src + n_dst, n_src))
    data[:n_src] = np.eye(n_src)
    raw = mne.io.RawArray(data, info, verbose="error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw.interpolate_bads(reset_bads=True, mode="accurate", origin=(0.0, 0.0, 0.0), verbose="error")
    return raw.get_data()[n_src:]


def _say_renamed(before: list[str], after: list[str], how: str) -> None:
    """One info line for the channel names a reading step changed (the first three shown), none if it changed none."""
    changed = [f"{a} -> {b}" for a, b in zip(before, after) if a != b]
    if changed:
        log.info("montage: %d channel names read %s (%s%s)", len(changed), how, ", ".join(changed[:3]),
                 " ..." if len(changed) > 3 else "")


# How a source that labels none of its channels can be given labels, where a source does not say (a sender: an LSL
# outlet); a source says so with a `label_hint` attribute, "" where only --montage FILE can place its channels
SENDER_LABEL_HINT = "set the channel labels in the sender (an LSL stream's desc/channels/channel/label)"


def build_channel_map(model_names, model_montage: str | None, source_names, montage: str | None = None,
                      warn: bool = True, label_hint: str | None = None, bads=()) -> ChannelMap:
    """How to make the model's channels out of a source's: by name when the source has them all, else by
    position on the model's montage (`montage` is the source's, e.g. from --montage; None: guessed, and for
    BioSemi's ActiView names the cap they name, biosemi_cap, unless it is the model's own).

    label_hint: what a refusal of a source that labels no channel offers besides --montage FILE (None: labelling
    them in the sender, SENDER_LABEL_HINT; "": nothing, as for a BrainFlow board, whose channel names BrainFlow
    fixes, or a recording, which a refusal of names no montage places does not ask to rename either).

    bads: source electrodes marked bad (--bads, or found dead in a session: eegviz.stream.bads), named as
    the source names them or as they are read ("Fp1" for "EEG FP1-REF"). They are left out as if the source lacked
    them, so a model channel one of them would have fed is interpolated from the others (MNE's info['bads'] and
    interpolate_bads): a disconnected electrode streaming NaN used to cost every epoch, a flat or railed one
    spread into every channel interpolated from it. A name the source has no channel of is refused."""
    model_names, source_names = [str(c) for c in model_names], [str(c) for c in source_names]
    given = source_names
    typed = without_type(source_names, model_names)
    if warn:
        _say_renamed(source_names, typed, "without their signal type")
    source_names = typed
    unpadded = without_padding(source_names, model_names)
    if warn:
        _say_renamed(source_names, unpadded, "without the dots that pad them")
    source_names = unpadded
    unnumbered = without_numbers(source_names, model_names)
    if warn:
        _say_renamed(source_names, unnumbered, "without their channel number")
    source_names = unnumbered
    cap = biosemi_cap(source_names)
    # a model trained on the same cap's ActiView names (its montage unrecorded) is matched by name, as before
    # (a model whose montage is that cap but whose names are 10-20 ones, biosemi64's, still gets the translation)
    if cap is not None and montage is None and cap != biosemi_cap(model_names):
        # ActiView's names mean other places on other caps (the module docstring): never matched by name here
        montage = cap
        if warn:
            log.warning("montage: the source's channels are named as on BioSemi's %s-electrode cap, where names "
                        "such as A1 are other places than on other caps; placed by montage %s, not by name "
                        "(--montage NAME if the cap was another)", cap[len("biosemi"):], cap)
    if cap is not None and montage in BIOSEMI_BY_ORDER:
        source_names = _by_order(source_names, montage)
    referential = electrode_names(source_names, model_names)
    if warn:
        _say_renamed(source_names, referential, "as their electrode, without the reference")
    source_names = referential
    unlabelled = list(source_names) == default_ch_names(len(source_names))
    bad = _bad_indices(bads, given, source_names)
    kept = np.array([i for i in range(len(source_names)) if i not in bad], dtype=int)
    cmap = _map_channels(model_names, model_montage, [source_names[i] for i in kept], montage, warn, label_hint,
                         unlabelled=unlabelled, bad_names=[source_names[i] for i in bad])
    cmap.picks = kept[cmap.picks]  # indices into the source's own channels, the bad ones among them
    cmap.bads = tuple(given[i] for i in bad)
    if warn and cmap.bads:
        log.warning("%s", cmap.bads_line())
    return cmap


def _bad_indices(bads, given: list[str], read: list[str]) -> list[int]:
    """The source channels `bads` names (build_channel_map), by the source's own name first, else as read, case
    aside; a one-line EegvizError for a name that is neither, listing the source's channels."""
    out, unknown = [], []
    for name in dict.fromkeys(str(b).strip() for b in bads):
        hits = [i for i, n in enumerate(given) if n.lower() == name.lower()] or \
               [i for i, n in enumerate(read) if n.lower() == name.lower()]
        if not hits:
            unknown.append(name)
        out += [i for i in hits if i not in out]
    if unknown:
        raise EegvizError(f"--bads names {', '.join(unknown)}, which {'is' if len(unknown) == 1 else 'are'} not a "
                          f"channel of the source; its {len(given)} channels are {_shown(given)}")
    return sorted(out)


def _map_channels(model_names: list[str], model_montage: str | None, source_names: list[str], montage: str | None,
                  warn: bool, label_hint: str | None, unlabelled: bool, bad_names: list[str]) -> ChannelMap:
    """build_channel_map once the source's names are read and its bad electrodes left out (bad_names, as read:
    which of the model's channels are interpolated in their place is said; unlabelled: the source's names were
    eegviz's stand-ins, ch1..chN, before any was left out)."""
    lookup = {name.lower(): i for i, name in enumerate(source_names)}
    n_missing = sum(c.lower() not in lookup for c in model_names)
    if n_missing == 0 and (montage in (None, model_montage) or model_montage is None):
        return ChannelMap(picks=np.array([lookup[c.lower()] for c in model_names], dtype=int))

    def lacking(why: str) -> EegvizError:
        shown = _shown([c for c in model_names if c.lower() not in lookup], 5)
        # a model channel marked bad is not "lacked" without a word: the user may have marked too many
        marked = sum(c.lower() in {b.lower() for b in bad_names} for c in model_names)
        also = f", {marked} of them marked bad" if marked else ""
        return EegvizError(f"the source lacks {n_missing} of the model's {len(model_names)} channels ({shown}{also}) "
                           f"and {why}; stream with the model's montage or retrain the model on your channels")

    dup = sorted({n for n in source_names if sum(m.lower() == n.lower() for m in source_names) > 1})
    if dup:
        raise lacking(f"names {', '.join(dup[:5])} more than once, so their positions are ambiguous")
    if model_montage is None:
        raise lacking("the model records no montage to interpolate them on")
    if len(source_names) < MIN_SOURCE_CHANNELS:
        after = f", after the {len(bad_names)} marked bad" if bad_names else ""
        raise lacking(f"has too few channels ({len(source_names)}{after}) to interpolate them from "
                      f"(at least {MIN_SOURCE_CHANNELS})")
    mpos = sphere_positions(model_names, model_montage)
    if _unplaced(model_names, mpos):
        raise lacking(f"montage {model_montage} does not place all of the model's channels")

    # the source's positions: the montage it was given, else the one that places the most of its channels (the
    # first that places them all, in this order)
    guessed = montage is None
    if guessed:
        tried = [(name, sphere_positions(source_names, name)) for name in (model_montage, *AUTO_MONTAGES)]
        montage, spos = min(tried, key=lambda m: len(_unplaced(source_names, m[1])))
    else:
        spos = sphere_positions(source_names, montage)
    placed = np.flatnonzero(np.isfinite(spos).all(axis=1))
    unplaced = _unplaced(source_names, spos)
    # channels the montage does not place (ECG, EOG, AUX or accelerometer channels in the same stream, a status
    # channel) are left out of the interpolation rather than refusing the stream, if enough placed ones remain
    if len(placed) < MIN_SOURCE_CHANNELS and unlabelled:
        # a sender that labels no channel (many amplifier apps' LSL outlets): --montage NAME, which the refusal
        # below offers, can never place eegviz's own stand-in names, and "ch1, ch2" read as the sender's
        n = len(source_names) + len(bad_names)
        hint = SENDER_LABEL_HINT if label_hint is None else label_hint
        raise EegvizError(
            f"the source names none of its {n} channels (ch1..ch{n} are eegviz's stand-ins), so no montage can "
            f"place them; {hint + ', or ' if hint else ''}give their electrode positions with --montage FILE, "
            f"naming them ch1..ch{n} in the source's channel order"
        )
    if len(placed) < MIN_SOURCE_CHANNELS:
        shown = _shown(unplaced, 5)
        # guessed: the montage named is only the best of those tried, which the user never chose
        where = (f"any montage tried ({', '.join(t[0] for t in tried)})" if guessed else f"montage {montage}")
        # a source whose names nobody can change (a BrainFlow board's, a recording's: label_hint "") is not told to
        # rename them
        rename = "" if label_hint == "" else ", or rename the channels"
        # how many are left is said, and the remedy offered only "if they are electrodes": a 4-electrode Muse with
        # its AUX, accelerometer and PPG channels, or 7 electrodes beside ECG, EOG and TRIGGER, was told that
        # those channels had no position and sent to --montage, which places no ECG; too few electrodes is the fault
        raise EegvizError(
            f"{len(unplaced)} source channel(s) have no position in {where} ({shown}), leaving "
            f"{len(placed)}, fewer than {MIN_SOURCE_CHANNELS} electrodes to interpolate the model's channels from; "
            f"if those are electrodes, name the source's montage with --montage NAME "
            f"(mne.channels.get_builtin_montages()) or --montage FILE (its electrode positions){rename}"
        )

    # each model channel: the source electrode in the same place (or of the same name on the same montage)
    spos = spos[placed]
    dist = np.linalg.norm(mpos[:, None, :] - spos[None, :, :], axis=-1)
    nearest = dist.argmin(axis=1)  # an index into `placed`
    direct = dist[np.arange(len(model_names)), nearest] < SAME_PLACE_M
    if montage == model_montage:
        where = {source_names[j].lower(): k for k, j in enumerate(placed)}
        for i, c in enumerate(model_names):
            if c.lower() in where:
                direct[i], nearest[i] = True, where[c.lower()]
    matrix = np.zeros((len(model_names), len(placed)))
    matrix[np.flatnonzero(direct), nearest[direct]] = 1.0
    interp = np.flatnonzero(~direct)
    if len(interp):
        matrix[interp] = _spline_matrix(spos, mpos[interp])
    # the model's channels a bad electrode would have fed as they are: of its name on the model's own montage, or
    # in its place
    bpos = sphere_positions(bad_names, montage) if bad_names else np.zeros((0, 3))
    bpos = bpos[np.isfinite(bpos).all(axis=1)]
    near_bad = (np.linalg.norm(mpos[:, None, :] - bpos[None, :, :], axis=-1) < SAME_PLACE_M).any(axis=1)
    bad_lower = {b.lower() for b in bad_names} if montage == model_montage else set()
    replaced = tuple(model_names[i] for i in interp if near_bad[i] or model_names[i].lower() in bad_lower)
    cmap = ChannelMap(picks=placed, matrix=matrix, n_interpolated=len(interp), source_montage=montage,
                      left_out=tuple(unplaced), replaced=replaced)
    # where the only channels interpolated are the bad electrodes' own, build_channel_map's line says it
    if warn and (len(interp) > len(replaced) or not bad_names):
        log.warning(
            "montage: %d of the model's %d channels interpolated from the source's %d (%s -> %s); the model "
            "was trained on other electrodes, expect lower accuracy than on its own cap",
            len(interp), len(model_names), len(placed), montage, model_montage,
        )
    if warn and unplaced:
        log.warning("montage: %d source channel(s) have no position in %s and are left out: %s",
                    len(unplaced), montage, ", ".join(unplaced[:10]))
    return cmap
