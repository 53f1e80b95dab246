"""Montage mapping as a lab meets it: a cap other than the model's runs through the default model."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest

from eegviz.errors import EegvizError
from eegviz.paths import default_model_dir
from eegviz.stream import montage as montage_mod
from eegviz.stream.montage import build_channel_map, sphere_positions
from eegviz.stream.preprocess import InputSpec, Preprocessor

# A 64-channel 10-10 cap (actiCHamp/easycap layout) in standard_1020 names.
CAP64 = ["Fp1", "Fz", "F3", "F7", "FT9", "FC5", "FC1", "C3", "T7", "TP9", "CP5", "CP1", "Pz", "P3", "P7", "O1",
         "Oz", "O2", "P4", "P8", "TP10", "CP6", "CP2", "Cz", "C4", "T8", "FT10", "FC6", "FC2", "F4", "F8", "Fp2",
         "AF7", "AF3", "AFz", "F1", "F5", "FT7", "FC3", "C1", "C5", "TP7", "CP3", "P1", "P5", "PO7", "PO3", "POz",
         "PO4", "PO8", "P6", "P2", "CPz", "CP4", "TP8", "C6", "C2", "FC4", "FT8", "F6", "AF8", "AF4", "F2", "FCz"]


def default_spec() -> InputSpec:
    return InputSpec.from_dict(json.loads((default_model_dir() / "decoder.json").read_text())["input"])


def test_default_model_records_biosemi128():
    spec = default_spec()
    assert spec.montage == "biosemi128"  # guessed for a decoder.json saved before montages were recorded
    assert InputSpec(ch_names=("Oz", "Pz"), sfreq=250.0).montage is None
    assert InputSpec.from_dict(spec.to_dict()) == spec


def test_brainflow_synthetic_board_runs_on_the_default_model(caplog):
    """The synthetic board's 16 10-20 channels are mapped onto biosemi128 and give finite epochs."""
    from eegviz.sources.brainflow import BrainFlowSource

    spec = default_spec()
    src = BrainFlowSource(board_id=-1)
    src.start()
    try:
        with caplog.at_level(logging.WARNING):
            pre = Preprocessor(spec, src.info.ch_names, src.info.sfreq)
        t_end, chunks = time.monotonic() + 2.0, []
        while time.monotonic() < t_end:
            chunks += src.read(timeout=0.05).chunks
    finally:
        src.stop()
    m = pre.channel_map
    assert m.n_interpolated + m.n_direct == 128 and 0 < m.n_interpolated < 128
    warned = [r.getMessage() for r in caplog.records if "interpolated" in r.getMessage()]
    assert len(warned) == 1 and "trained on other" in warned[0] and "\n" not in warned[0]
    data = np.concatenate([c.samples for c in chunks]).T
    lo, hi = pre.source_window()
    n = int(round((hi - lo) * src.info.sfreq))
    assert data.shape[1] >= 2 * n
    for start in (0, data.shape[1] - n):
        ep = pre(data[:, start:start + n])
        assert ep.shape == (128, spec.n_times) and np.isfinite(ep).all() and ep.std() > 0


def _forward(pos: np.ndarray) -> np.ndarray:
    """Gain (n_electrodes x n_sources) of eegviz.world.eeg_sim's dipoles in a sphere head at these positions."""
    import mne

    from eegviz.world.eeg_sim import _source_layout

    names = [f"e{i}" for i in range(len(pos))]
    info = mne.create_info(names, 250.0, "eeg")
    info.set_montage(mne.channels.make_dig_montage(ch_pos=dict(zip(names, pos)), coord_frame="head"),
                     verbose="error")
    sphere = mne.make_sphere_model((0.0, 0.0, 0.0), 0.095, info, verbose="error")
    rr, nn, _ = _source_layout()
    src = mne.setup_volume_source_space(pos=dict(rr=rr, nn=nn), sphere=sphere, verbose="error")
    fwd = mne.make_forward_solution(info, trans=None, src=src, bem=sphere, eeg=True, meg=False, verbose="error")
    return np.einsum("csk,sk->cs", fwd["sol"]["data"].reshape(len(names), -1, 3), nn)


def test_interpolation_recovers_a_scalp_field_from_64_channels():
    """Scalp fields of the simulator's dipoles (a sphere head, one forward model for both caps), seen by 64
    10-10 electrodes and interpolated onto biosemi128, correlate with the field the 128 electrodes see."""
    biosemi = default_spec().ch_names
    gain = _forward(np.vstack([sphere_positions(biosemi, "biosemi128"), sphere_positions(CAP64, "standard_1020")]))
    truth_gain, cap_gain = gain[:128], gain[128:]
    cmap = build_channel_map(biosemi, "biosemi128", CAP64, montage="standard_1020", warn=False)
    assert cmap.n_interpolated > 64  # most of the 128 are not on the 64-channel cap
    moments = np.random.default_rng(0).standard_normal((gain.shape[1], 30))  # 30 random brain states
    truth, est = truth_gain @ moments, cmap.apply(cap_gain @ moments)
    r = np.array([np.corrcoef(truth[:, k], est[:, k])[0, 1] for k in range(truth.shape[1])])
    assert r.min() > 0.9, r
    # control: the same data with the cap's channels in the wrong order does not come out right
    wrong = cmap.apply(np.random.default_rng(1).permutation(cap_gain @ moments))
    r_wrong = np.array([np.corrcoef(truth[:, k], wrong[:, k])[0, 1] for k in range(truth.shape[1])])
    assert np.median(r_wrong) < 0.5


def test_cap_of_the_models_own_layout_is_taken_directly():
    """Same positions (biosemi64 sits on biosemi128's sphere) or same names: no interpolation for those."""
    import mne

    biosemi = default_spec().ch_names
    b64 = mne.channels.make_standard_montage("biosemi64").ch_names
    cmap = build_channel_map(biosemi, "biosemi128", b64, montage="biosemi64", warn=False)
    direct_rows = (cmap.matrix == 1).sum(axis=1) == 1
    assert direct_rows.sum() == cmap.n_direct >= 30
    same_names = build_channel_map(biosemi, "biosemi128", biosemi[::-1])
    assert same_names.matrix is None and same_names.n_interpolated == 0


@pytest.mark.parametrize("board", [0, 2])  # OpenBCI Cyton (8 ch) and Cyton + Daisy (16 ch)
def test_openbci_boards_map_onto_the_default_model(board):
    from brainflow.board_shim import BoardShim

    from eegviz.sources.brainflow import _load_board_controller

    _load_board_controller()
    names = BoardShim.get_eeg_names(board)  # static board description; no hardware needed
    cmap = build_channel_map(default_spec().ch_names, "biosemi128", names, warn=False)
    assert cmap.matrix.shape == (128, len(names)) and np.allclose(cmap.matrix.sum(axis=1), 1.0)


def test_aliases_and_case_are_matched():
    cmap = build_channel_map(default_spec().ch_names, "biosemi128",
                             ["FP1", "fp2", "T3", "T4", "T5", "T6", "O1", "O2", "cz"], warn=False)
    assert cmap.n_interpolated > 100


def test_old_and_new_10_20_names_give_the_same_map():
    """A clinical amplifier or a DSI-24 names T3/T4/T5/T6 what a 10-10 cap names T7/T8/P7/P8 (ACNS 2006). MNE's
    alias table sends T5/T6 to T9/T10, which easycap-M1 lacks, so the guess fell to spherical_1005, whose 10-20
    ring sat 20 degrees nearer the vertex: Oz was taken for the model's POz electrode."""
    new = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8",
           "O1", "O2", "Fpz", "Oz"]
    old = [{"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}.get(n, n) for n in new]
    a = build_channel_map(default_spec().ch_names, "biosemi128", new, warn=False)
    b = build_channel_map(default_spec().ch_names, "biosemi128", old, warn=False)
    assert a.source_montage == b.source_montage == "easycap-M1"
    np.testing.assert_array_equal(a.matrix, b.matrix)
    # the montages of idealised spheres agree on where a 10-10 cap's electrodes are: to a millimetre or two, and
    # 7 mm where easycap's cap puts the in-between electrodes (AF3, FC3, CP3, PO3) its own way (spherical_1005
    # was up to 33 mm off before its ring was scaled)
    ref = sphere_positions(CAP64, "easycap-M1")
    for montage in ("spherical_1005", "brainproducts-RNP-BA-128"):
        off = np.linalg.norm(sphere_positions(CAP64, montage) - ref, axis=1)
        assert np.median(off) < 0.002 and off.max() < 0.008, montage


def test_clinical_edf_names_with_their_reference_map_as_their_electrodes():
    """TUH EEG and clinical exporters write "EEG FP1-REF" / "EEG C3-LE", Nihon Kohden "Fp1-A1": the electrode and
    the reference it was recorded against. They were refused as channels without a position; they are the same
    electrodes as "Fp1", "C3". A bipolar "FP1-F7" names two electrodes and stays unplaced (left out)."""
    from eegviz.stream.montage import electrode_name

    assert [electrode_name(n) for n in ("EEG FP1-REF", "EEG C3-LE", "Fp1-A1", "O1_REF", "EEG Fz-Ref")] == [
        "FP1", "C3", "Fp1", "O1", "Fz"]
    assert [electrode_name(n) for n in ("FP1-F7", "Fz-Cz", "A1", "B32", "Cz")] == ["FP1-F7", "Fz-Cz", "A1", "B32", "Cz"]
    new = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8",
           "O1", "O2", "Fpz", "Oz"]
    clinical = [f"EEG {n.upper()}-REF" for n in new] + ["EEG FP1-F7", "EKG1"]
    a = build_channel_map(default_spec().ch_names, "biosemi128", new, warn=False)
    b = build_channel_map(default_spec().ch_names, "biosemi128", clinical, warn=False)
    assert a.source_montage == b.source_montage and set(b.left_out) == {"EEG FP1-F7", "EKG1"}
    np.testing.assert_array_equal(b.picks, np.arange(len(new)))
    np.testing.assert_array_equal(a.matrix, b.matrix)
    # renamed only where safe: a model trained on referential names matches them as they are, and a name is never
    # renamed onto another channel's ("A1-A2" beside a real A1; "EEG A1" is no referential name at all)
    ref = ["Fp1-A1", "Fp2-A2", "F3-A1", "F4-A2", "C3-A1", "C4-A2", "P3-A1", "P4-A2", "O1-A1", "O2-A2"]
    np.testing.assert_array_equal(build_channel_map(ref, None, ref, warn=False).picks, np.arange(10))
    src = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "A1-A2", "A1"]
    cmap = build_channel_map(["Fp1", "Fz", "Cz", "Pz"], "standard_1020", src, warn=False)
    assert "A1-A2" in cmap.left_out and 11 in cmap.picks
    assert electrode_name("EEG A1") == "EEG A1" and electrode_name("A1-A2") == "A1"


def test_edf_names_with_their_signal_type_map_as_their_electrodes():
    """EDF+ writes a label as its signal type and the electrode, "EEG Fp1" (no reference suffix): such a stream or
    file was refused as having no channel with a position. Taken off before the BioSemi check, so "EEG A1".."EEG
    B32" are still placed by BioSemi's 64-electrode cap, not as the 10-10 names A1, A2 they spell; "EEG 001"
    names no electrode and stays as it is."""
    new = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8",
           "O1", "O2"]
    plain = build_channel_map(default_spec().ch_names, "biosemi128", new, warn=False)
    typed = build_channel_map(default_spec().ch_names, "biosemi128", [f"EEG {n}" for n in new] + ["EEG 001"],
                              warn=False)
    assert typed.left_out == ("EEG 001",) and typed.source_montage == plain.source_montage
    np.testing.assert_array_equal(typed.picks, plain.picks)
    np.testing.assert_array_equal(typed.matrix, plain.matrix)
    actiview = [f"{c}{i}" for c in "AB" for i in range(1, 33)]
    a = build_channel_map(default_spec().ch_names, "biosemi128", actiview, warn=False)
    b = build_channel_map(default_spec().ch_names, "biosemi128", [f"EEG {n}" for n in actiview], warn=False)
    assert a.source_montage == b.source_montage == "biosemi64"
    np.testing.assert_array_equal(a.matrix, b.matrix)


@pytest.mark.parametrize("montage", ["standard_1020", None])  # given, or guessed
def test_channels_without_a_position_are_left_out(montage):
    """ECG / EXG / AUX channels in the same stream (an EDF's ECG, a BioSemi's EXG1-8): the montage places them
    nowhere, so they are left out and the map is the one the EEG channels alone give; the stream used to be
    refused whole. NaN on such a channel does not stop an epoch."""
    names = CAP64[:15] + ["EXG1", "ECG"]
    cmap = build_channel_map(default_spec().ch_names, "biosemi128", names, montage=montage, warn=False)
    alone = build_channel_map(default_spec().ch_names, "biosemi128", CAP64[:15], montage=montage, warn=False)
    assert cmap.left_out == ("EXG1", "ECG") and list(cmap.picks) == list(range(15))
    np.testing.assert_allclose(cmap.matrix, alone.matrix)
    pre = Preprocessor(default_spec(), names, 250.0)
    x = np.random.default_rng(0).standard_normal((len(names), 176)) * 1e-5
    x[15:] = np.nan
    assert np.isfinite(pre(x)).all()


def test_too_few_placed_channels_is_one_line_error():
    names = CAP64[:7] + ["EXG1", "EXG2"]
    with pytest.raises(EegvizError) as e:
        build_channel_map(default_spec().ch_names, "biosemi128", names, montage="standard_1020")
    msg = str(e.value)
    assert "\n" not in msg and "EXG1" in msg and "--montage" in msg and "fewer than 8" in msg


def test_unknown_montage_and_too_few_channels():
    with pytest.raises(EegvizError, match="unknown montage 'nope'.*biosemi128"):
        montage_mod.check_montage("nope")
    with pytest.raises(EegvizError, match="lacks 128 of the model.s 128.*too few"):
        Preprocessor(default_spec(), ["Fz", "Cz", "Pz"], 250.0)
    with pytest.raises(EegvizError, match="names Cz, cz more than once"):
        Preprocessor(default_spec(), CAP64[:24] + ["cz"], 250.0)


def test_given_montage_is_used():
    montage_mod.check_montage("standard_1020")  # deprecated MNE alias of colin27_1020 still accepted
    pre = Preprocessor(default_spec(), CAP64, 250.0, montage="standard_1020")
    assert pre.channel_map.source_montage == "standard_1020"



@pytest.mark.parametrize("montage", ["colin27_alphabetic", "colin27_prefixed", "colin27_primed"])
def test_a_montage_that_leaves_some_of_its_own_names_unplaced_still_maps(montage):
    """colin27_alphabetic names 65 electrodes and places 59: the sphere fit through all of them, NaN rows and
    all, was a LinAlgError traceback for `--montage colin27_alphabetic`."""
    from eegviz.stream.montage import load_montage

    names = [n for n in load_montage(montage).ch_names][:40]
    pos = sphere_positions(names, montage)
    placed = np.isfinite(pos).all(axis=1)
    assert placed.sum() >= 30 and np.allclose(np.linalg.norm(pos[placed], axis=1), 0.095)


def _actiview(n: int) -> list[str]:
    """ActiView's channel names for an n-electrode BioSemi cap: A1..A32, B1..B32, ..."""
    return [f"{chr(ord('A') + k // 32)}{k % 32 + 1}" for k in range(n)]


@pytest.mark.parametrize("n, cap", [(256, "biosemi256"), (160, "biosemi160"), (64, "biosemi64"), (32, "biosemi32")])
def test_biosemi_names_of_another_cap_are_placed_by_that_cap_not_by_name(n, cap, caplog):
    """BioSemi's A1..H32 are other places on each cap: a 256-electrode recording has all the model's biosemi128
    names (A1..D32), and was fed to it by name, electrodes a median 89 mm off, without a word; a 64-electrode
    cap's A1..B32 (its 10-20 electrodes in ActiView's order) went onto biosemi128's places too. Now placed by
    the cap the names can only come from, said in one line; EXG channels beside them are left out as before."""
    names = _actiview(n) + ["EXG1", "EXG2"]
    with caplog.at_level(logging.WARNING):
        cmap = build_channel_map(default_spec().ch_names, "biosemi128", names)
    assert cmap.source_montage == cap and cmap.matrix is not None and cmap.left_out == ("EXG1", "EXG2")
    given = build_channel_map(default_spec().ch_names, "biosemi128", names, montage=cap, warn=False)
    np.testing.assert_allclose(cmap.matrix, given.matrix)  # as --montage would give, and --montage biosemi64 works
    said = [r.getMessage() for r in caplog.records if "BioSemi" in r.getMessage()]
    assert len(said) == 1 and f"placed by montage {cap}" in said[0] and "--montage" in said[0]
    # each model electrode fed directly comes from the source electrode at its place (within SAME_PLACE_M)
    src = sphere_positions(montage_mod.load_montage(cap).ch_names, cap)[cmap.picks]
    model = sphere_positions(default_spec().ch_names, "biosemi128")
    rows, cols = np.nonzero(cmap.matrix == 1.0)
    assert len(rows) and np.linalg.norm(model[rows] - src[cols], axis=1).max() < montage_mod.SAME_PLACE_M


def test_the_models_own_biosemi_names_and_10_10_names_are_still_matched_by_name():
    """A biosemi128 recording is the model's own cap: matched by name, as is a cap a model was trained on by its
    ActiView names. 10-10 names that look like ActiView's (C1..C6, F1..F8, the ear electrodes A1, A2) are no
    BioSemi cap."""
    assert montage_mod.biosemi_cap(_actiview(128)) == "biosemi128"
    own = build_channel_map(default_spec().ch_names, "biosemi128", _actiview(128) + ["EXG1"], warn=False)
    assert own.matrix is None and own.n_interpolated == 0
    for names in (CAP64, ["F3", "F4", "C3", "C4", "Fz", "Cz", "O1", "O2"], ["A1", "A2", "C3", "C4", "F3", "F4"]):
        assert montage_mod.biosemi_cap(names) is None
    assert build_channel_map(default_spec().ch_names, "biosemi128", CAP64, warn=False).source_montage == "easycap-M1"
    # a model trained on a 64-electrode BioSemi's own A1..B32 (no montage recorded) takes that cap by name
    mine = build_channel_map(_actiview(64), None, _actiview(64)[::-1] + ["EXG1"], warn=False)
    assert mine.matrix is None and list(mine.picks) == list(range(63, -1, -1))


def test_other_systems_letter_names_are_no_biosemi_cap_and_a_10_20_biosemi_model_takes_actiview_names():
    """EGI's GSN-HydroCel-32 names its electrodes E1..E32 (and Cz): they were placed on biosemi160's E block,
    where a BioSemi cap always fills A..E. And a model trained on biosemi64's 10-20 names refused a recording of
    that same cap under ActiView's A1..B32, the names the rule exists to translate."""
    assert montage_mod.biosemi_cap([f"E{k}" for k in range(1, 33)] + ["Cz"]) is None
    assert montage_mod.biosemi_cap([f"B{k}" for k in range(1, 33)]) is None
    ten_twenty = list(montage_mod.load_montage("biosemi64").ch_names)
    cmap = build_channel_map(ten_twenty, "biosemi64", _actiview(64), warn=False)
    assert cmap.matrix is None and list(cmap.picks) == list(range(64))  # A1 is Fp1, ..., in ActiView's order


def _elc(path, names, positions_m) -> str:
    """An ASA .elc electrode file (the format of ANT's and many labs' digitisers), in millimetres."""
    rows = "\n".join(" ".join(f"{v * 1e3:.4f}" for v in p) for p in positions_m)
    path.write_text(f"# ASA electrode file\nReferenceLabel\tavg\nUnitPosition\tmm\nNumberPositions=\t{len(names)}\n"
                    f"Positions\n{rows}\nLabels\n" + "\n".join(names) + "\n")
    return str(path)


def test_a_cap_of_numbered_electrodes_is_placed_by_its_position_file(tmp_path):
    """A lab's own cap names its electrodes E1..E64, which no built-in montage places: the stream was refused.
    Its electrode-position file (--montage cap.elc, read by MNE) places them: the map equals the one the same
    electrodes get under their 10-10 names on the built-in montage the file's positions came from."""
    import mne

    pos = mne.channels.make_standard_montage("easycap-M1").get_positions()["ch_pos"]
    numbered = [f"E{i + 1}" for i in range(len(CAP64))]
    path = _elc(tmp_path / "cap.elc", numbered, [pos[n] for n in CAP64])
    montage_mod.check_montage(path)
    # guessed, the refusal names what was tried, not the model's biosemi128 as if it were the source's
    with pytest.raises(EegvizError, match=r"no position in any montage tried \(biosemi128, easycap-M1, spherical_1005"
                                          r"\).*--montage FILE"):
        build_channel_map(default_spec().ch_names, "biosemi128", numbered, warn=False)
    by_file = build_channel_map(default_spec().ch_names, "biosemi128", numbered, montage=path, warn=False)
    by_name = build_channel_map(default_spec().ch_names, "biosemi128", CAP64, montage="easycap-M1", warn=False)
    assert by_file.n_interpolated == by_name.n_interpolated > 0
    np.testing.assert_array_equal(by_file.picks, by_name.picks)
    # to ~1e-6: the file's 64 electrodes (written to 0.1 um) fit the head centre a hair off the montage's own
    np.testing.assert_allclose(by_file.matrix, by_name.matrix, atol=1e-4)


@pytest.mark.parametrize("bad, why", [("missing.elc", "does not exist"), ("cap.elc", "cannot read electrode"),
                                      ("cap.pdf", "MNE reads electrode positions from")])
def test_a_bad_montage_file_is_one_line(tmp_path, bad, why):
    path = tmp_path / bad
    if bad != "missing.elc":
        path.write_text("not a montage\n")
    with pytest.raises(EegvizError, match=why):
        montage_mod.check_montage(str(path))


def test_a_file_named_like_a_builtin_montage_does_not_shadow_it(tmp_path, monkeypatch):
    """A bare name is a built-in: a file `biosemi64` in the working directory turned the name into a refusal."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "biosemi64").write_text("not a montage\n")
    assert len(montage_mod.load_montage("biosemi64").ch_names) == 64
    with pytest.raises(EegvizError, match="MNE reads electrode positions from"):
        montage_mod.check_montage("./biosemi64")  # a path: the file, refused as no electrode file


def test_a_cap_file_edited_between_sessions_is_read_again(tmp_path):
    """A long-running window starts one session after another: the montage caches were keyed by the path, so a
    corrected cap file was never read again in that process."""
    import os

    import mne

    pos = mne.channels.make_standard_montage("easycap-M1").get_positions()["ch_pos"]
    numbered = [f"E{i + 1}" for i in range(len(CAP64))]
    path = _elc(tmp_path / "cap.elc", numbered, [pos[n] for n in CAP64])
    first = build_channel_map(default_spec().ch_names, "biosemi128", numbered, montage=path, warn=False)
    _elc(tmp_path / "cap.elc", numbered, [pos[n] for n in CAP64[::-1]])  # the electrodes named in the other order
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a later save, even on a coarse clock
    again = build_channel_map(default_spec().ch_names, "biosemi128", numbered, montage=path, warn=False)
    reversed_names = build_channel_map(default_spec().ch_names, "biosemi128", CAP64[::-1], montage="easycap-M1",
                                       warn=False)
    assert not np.allclose(first.matrix, again.matrix)
    np.testing.assert_allclose(again.matrix, reversed_names.matrix, atol=1e-4)


def test_a_source_that_names_no_channel_is_told_so_not_sent_to_the_builtin_montages():
    """An amplifier app's LSL outlet with no channel labels: its channels are ch1..chN, and the refusal listed
    'ch1, ch2, ...' as if the sender had named them and offered --montage NAME, which can never place them."""
    from eegviz.messages import default_ch_names

    with pytest.raises(EegvizError) as refused:
        build_channel_map(default_spec().ch_names, "biosemi128", default_ch_names(8), warn=False)
    msg = str(refused.value)
    assert msg.startswith("the source names none of its 8 channels (ch1..ch8 are eegviz's stand-ins)")
    assert "--montage FILE, naming them ch1..ch8" in msg and "--montage NAME" not in msg


def test_a_brainflow_board_that_names_no_channel_is_not_told_to_label_them_in_the_sender():
    """BrainFlow names no EEG channel of many boards (ch1..chN): the refusal told such a board's user to set the
    labels "in the sender (an LSL stream's desc/...)", which no BrainFlow user can do; it offers --montage FILE,
    as it does for a recording, and an LSL stream is still told about its desc."""
    from types import SimpleNamespace

    from eegviz.messages import StreamInfo, default_ch_names
    from eegviz.pipeline import Pipeline
    from eegviz.sources.brainflow import BrainFlowSource
    from eegviz.sources.lsl import LslSource

    def refusal(source) -> str:
        pipe = Pipeline.__new__(Pipeline)  # only what _preprocessor reads
        pipe.decoder, pipe.montage, pipe.source = SimpleNamespace(spec=default_spec()), None, source
        with pytest.raises(EegvizError) as refused:
            pipe._preprocessor(StreamInfo(name="board", ch_names=tuple(default_ch_names(16)), sfreq=250.0))
        return str(refused.value)

    board = refusal(BrainFlowSource(board_id=-1))
    assert "sender" not in board and "desc" not in board
    assert "; give their electrode positions with --montage FILE, naming them ch1..ch16" in board
    assert "desc/channels/channel/label" in refusal(LslSource(stream_name="hH-unlabelled"))


def test_a_brainflow_board_of_names_no_montage_places_is_not_told_to_rename_them():
    """A board BrainFlow names "EEG 1".."EEG 8" (names no montage places) was told to "rename the channels",
    which nothing but BrainFlow can; it is offered --montage NAME|FILE alone, and a stream still both."""
    names = [f"EEG {i}" for i in range(1, 9)]
    with pytest.raises(EegvizError) as board:
        build_channel_map(default_spec().ch_names, "biosemi128", names, warn=False, label_hint="")
    assert str(board.value).endswith("--montage FILE (its electrode positions)")
    with pytest.raises(EegvizError, match=r"--montage FILE \(its electrode positions\), or rename the channels$"):
        build_channel_map(default_spec().ch_names, "biosemi128", names, warn=False)


def test_edf_labels_padded_with_dots_are_read_as_their_electrodes():
    """PhysioNet's EEG Motor Movement/Imagery EDFs pad their labels with dots to 4 characters ("Fc5.", "Cz..");
    no montage placed them and the files were refused. They map as the names without the dots do."""
    clean = ["Fc5", "Fc3", "Fc1", "Fcz", "C3", "Cz", "C4", "Cp1", "Fp1", "Fpz", "Afz", "F7", "T10", "Po7", "Oz", "Iz"]
    padded = [n + "." * max(1, 4 - len(n)) for n in clean]
    assert padded[4:6] == ["C3..", "Cz.."]
    got = build_channel_map(default_spec().ch_names, "biosemi128", padded, warn=False)
    want = build_channel_map(default_spec().ch_names, "biosemi128", clean, warn=False)
    assert got.source_montage == want.source_montage and not got.left_out
    np.testing.assert_array_equal(got.picks, want.picks)
    np.testing.assert_allclose(got.matrix, want.matrix)


def test_an_electrode_file_of_one_ring_is_refused_not_placed_off_the_head(tmp_path):
    """An 8-channel headband's positions, the 10-20 ring alone, lie in one plane: any sphere centred on the ring's
    axis fits them, and the fit took one that put every electrode 29 mm off its place (no model channel taken
    as it is) without a word. Refused in one line saying what to add; with Cz added the file places them."""
    import mne

    pos = mne.channels.make_standard_montage("easycap-M1").get_positions()["ch_pos"]
    ring = ["Fp1", "Fp2", "F7", "F8", "T7", "T8", "O1", "O2"]
    lift = np.array([0.0, 0.01, 0.03])  # a digitiser's origin, between the ears, below the ring
    numbered = [f"ch{i + 1}" for i in range(len(ring))]
    path = _elc(tmp_path / "ring.elc", numbered, [pos[n] + lift for n in ring])
    with pytest.raises(EegvizError, match=r"lie nearly in one plane .*Cz's") as refused:
        build_channel_map(default_spec().ch_names, "biosemi128", numbered, montage=path, warn=False)
    assert "\n" not in str(refused.value)
    path = _elc(tmp_path / "ring_cz.elc", [*numbered, "Cz"], [pos[n] + lift for n in [*ring, "Cz"]])
    by_file = build_channel_map(default_spec().ch_names, "biosemi128", numbered, montage=path, warn=False)
    by_name = build_channel_map(default_spec().ch_names, "biosemi128", ring, montage="easycap-M1", warn=False)
    assert by_file.n_direct == by_name.n_direct == 8


def test_an_electrode_file_of_one_ring_is_refused_before_the_source_opens(tmp_path):
    """check_montage (the CLI's, before a board is connected or a stream found) read the file and let a ring of
    electrodes through, to be refused only once the source had opened; it is refused there now."""
    import mne

    pos = mne.channels.make_standard_montage("easycap-M1").get_positions()["ch_pos"]
    ring = ["Fp1", "Fp2", "F7", "F8", "T7", "T8", "O1", "O2"]
    path = _elc(tmp_path / "ring.elc", [f"ch{i + 1}" for i in range(8)], [pos[n] for n in ring])
    with pytest.raises(EegvizError, match=r"lie nearly in one plane"):
        montage_mod.check_montage(path)


def test_labels_led_by_their_channel_number_are_read_as_their_electrodes():
    """An export that writes each label after its channel number ("1-FP1", "2-FP2", ...) had every channel
    refused as having no position; read as the electrodes they name. A number that is not the channel's own place
    (a hyperscanning recording's "2-..." for its second subject) is left as it is."""
    clean = ["FP1", "FP2", "F7", "F3", "Fz", "F4", "F8", "FC5", "FC1", "FC2", "FC6", "T7", "C3", "Cz", "C4", "T8"]
    numbered = [f"{i + 1}-{n}" for i, n in enumerate(clean)]
    got = build_channel_map(default_spec().ch_names, "biosemi128", numbered, warn=False)
    want = build_channel_map(default_spec().ch_names, "biosemi128", clean, warn=False)
    assert got.source_montage == want.source_montage and not got.left_out
    np.testing.assert_array_equal(got.picks, want.picks)
    np.testing.assert_allclose(got.matrix, want.matrix)
    subjects = [f"1-{n}" for n in clean] + [f"2-{n}" for n in clean]
    assert montage_mod.without_numbers(subjects, default_spec().ch_names) == subjects  # "2-FP2" is the 18th


def test_too_few_electrodes_beside_other_channels_is_said_so_not_blamed_on_those_channels():
    """A Muse's 4 electrodes beside its AUX, accelerometer and PPG channels: the refusal named those channels as
    having no position, "leaving fewer than 8", and sent the user to --montage, which places no accelerometer.
    It says how many electrodes are placed, and offers --montage only if the others are electrodes."""
    muse = ["TP9", "AF7", "AF8", "TP10", "Right AUX", "acc_x", "acc_y", "acc_z", "ppg"]
    with pytest.raises(EegvizError) as refused:
        build_channel_map(default_spec().ch_names, "biosemi128", muse, warn=False)
    assert "leaving 4, fewer than 8 electrodes to interpolate" in str(refused.value)
    assert "; if those are electrodes, name the source's montage with --montage NAME" in str(refused.value)


def test_electrodes_marked_bad_are_left_out_and_their_model_channels_interpolated(caplog):
    """--bads: an electrode streaming NaN (disconnected) fed the model as it was, so every epoch was skipped for
    NaN. Marked bad, it is left out as if the source lacked it, the model's channel of that name is interpolated
    from the other electrodes (one line names it), and the epochs are finite. A name the source lacks is refused."""
    model = ("Fp1", "Fp2", "F3", "F4", "C3", "C4", "O1", "O2", "Pz")
    source = [*model, "Cz", "Oz"]
    spec = InputSpec(ch_names=model, sfreq=100.0, tmin=-0.1, tmax=0.4, montage="standard_1020")
    rng = np.random.default_rng(0)
    data = rng.standard_normal((len(source), 60)) * 1e-5
    data[source.index("C3")] = np.nan
    with caplog.at_level(logging.WARNING):
        pre = Preprocessor(spec, source, 100.0, bads=("c3",))
    assert source.index("C3") not in pre.picks and pre.channel_map.replaced == ("C3",)
    assert np.isfinite(pre(data)).all()
    said = [r.getMessage() for r in caplog.records if "marked bad" in r.getMessage()]
    assert said == ["montage: 1 electrode(s) marked bad are left out (C3); the model's C3 is interpolated from the "
                    "other 10 electrodes"]
    with pytest.raises(EegvizError, match=r"^--bads names C7, which is not a channel of the source; its 11 channels"):
        Preprocessor(spec, source, 100.0, bads=("C3", "C7"))
    caplog.clear()  # a cap mapped by position with none marked bad and none interpolated is still said, as it was
    with caplog.at_level(logging.WARNING):
        build_channel_map(model, "biosemi64", source, montage="easycap-M1")
    said = [r.getMessage().split(" (")[0] for r in caplog.records]
    assert said == ["montage: 0 of the model's 9 channels interpolated from the source's 11"]
