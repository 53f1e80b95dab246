"""SourceChoice (no Qt): pacing, choices from command lines, unknown kinds; one_line error messages."""

import pytest

from eegviz.app.session import one_line
from eegviz.app.source_choice import SourceChoice, initial_source
from eegviz.errors import EegvizError
from eegviz.settings import SourceSettings


def test_source_choice():
    assert SourceChoice("demo", speed=0).paced is False and SourceChoice("demo").paced is True
    assert SourceChoice("lsl").paced and SourceChoice("simulator").paced
    replay = SourceSettings("replay", file="x.xdf", speed=2.0, stream="EEG", markers="M")
    assert SourceChoice.from_settings(replay) == SourceChoice("xdf", path="x.xdf", name="EEG", markers="M", speed=2.0)
    assert SourceChoice.from_settings(SourceSettings("live", board=-1)).kind == "brainflow-synthetic"
    assert SourceChoice.from_settings(SourceSettings("live", simulate=True)) == SourceChoice("simulator")
    with pytest.raises(EegvizError, match="unknown source kind"):
        SourceChoice("nope").make_source()
    assert one_line(EegvizError("plain words")) == "plain words"
    assert one_line(ValueError("a\n  b")) == "ValueError: a b"


def test_initial_source_picks_the_reader_by_file_type():
    """An XDF replay is an "xdf" SourceChoice; any other file a "file" one (read by MNE), and a source plugin
    without from_cli is refused before any window opens."""
    assert initial_source(SourceSettings("replay", file="rec.XDF")) == SourceChoice("xdf", path="rec.XDF")
    assert initial_source(SourceSettings("demo", speed=0.0)) == SourceChoice("demo", speed=0.0)
    mne = initial_source(SourceSettings("replay", file="rec.edf"))
    assert mne.kind == "file" and mne.path == "rec.edf"
    with pytest.raises(EegvizError, match="no from_cli"):
        initial_source(SourceSettings("replay", file="rec.edf", reader="simulator"))


def test_a_source_plugin_builds_itself_from_the_source_settings(tmp_path):
    """`eegviz replay FILE --source csv --sfreq F --unit U --speed S`: the plugin's from_cli reads the typed
    SourceSettings (field names = option names), not a Namespace."""
    csv = tmp_path / "rec.csv"
    csv.write_text("Fz,Cz,marker\n1,2,\n3,4,star_000\n")
    make = initial_source(SourceSettings("replay", file=str(csv), reader="csv", sfreq=250.0, unit="mV", speed=0.0))
    src = make.make_source()
    assert src.__class__.__name__ == "CsvSource" and src.path == csv  # (wrapped: eegviz.plugins.Named)
    assert (src.sfreq, src.unit, src.speed) == (250.0, "mV", 0.0)


def test_a_source_plugin_failing_in_from_cli_is_one_line_naming_it(tmp_path, monkeypatch):
    """A plugin's from_cli raising its own exception ended `eegviz replay FILE --source NAME` in a traceback,
    where a generator or sink plugin failing to build is one line naming it."""
    from eegviz import plugins

    class Fails:
        @classmethod
        def from_cli(cls, settings):
            raise ValueError("row 3 has\ntoo few columns")

    monkeypatch.setitem(plugins._extra["sources"], "failing_src", Fails)
    make = initial_source(SourceSettings("replay", file=str(tmp_path / "rec.dat"), reader="failing_src"))
    with pytest.raises(EegvizError) as e:
        make.make_source()
    msg = str(e.value)
    assert "'failing_src'" in msg and "rec.dat" in msg and "ValueError: row 3 has too few columns" in msg
    assert "\n" not in msg


def test_a_source_plugin_returning_no_source_is_one_line_naming_it(tmp_path, monkeypatch):
    """from_cli returning an object without read() failed with an AttributeError traceback after the model had
    loaded; it is refused as a sink lacking its methods is."""
    from eegviz import plugins

    class NoRead:
        info = None

        @classmethod
        def from_cli(cls, settings):
            return cls()

        def start(self):
            pass

        def stop(self):
            pass

    monkeypatch.setitem(plugins._extra["sources"], "noread_src", NoRead)
    make = initial_source(SourceSettings("replay", file=str(tmp_path / "rec.dat"), reader="noread_src"))
    with pytest.raises(EegvizError, match="source plugin 'noread_src' is not a source: .* lacks read$"):
        make.make_source()


@pytest.mark.parametrize("field, value, needle", [("sfreq", float("inf"), "sfreq must be a finite number > 0"),
                                                  ("speed", float("nan"), "speed must be a finite number >= 0")])
def test_a_csv_replay_refuses_non_finite_rates(tmp_path, field, value, needle):
    """argparse reads "inf" and "nan" as floats: an infinite rate overflowed the pacing, a NaN speed hung it."""
    csv = tmp_path / "rec.csv"
    csv.write_text("Fz,Cz,marker\n1,2,\n3,4,star_000\n")
    opts = {"sfreq": 250.0, "speed": 0.0, field: value}
    make = initial_source(SourceSettings("replay", file=str(csv), reader="csv", **opts))
    with pytest.raises(EegvizError, match=needle):
        make.make_source()


def test_a_replay_of_a_file_mne_reads_is_a_choice_the_window_can_name_pace_and_start_again():
    """`eegviz replay rec_raw.fif --speed 0` in the window: initial_source gave a bare lambda, which the window ran
    paced (37 of the demo's 40 markers dropped, where --speed 0 means every epoch is processed), named
    "<lambda>" in the status bar, and could not show in its controls."""
    fif = initial_source(SourceSettings("replay", file="/data/rec_raw.fif", speed=0.0))
    assert isinstance(fif, SourceChoice) and fif.paced is False and fif.label == "FIF rec_raw.fif"
    assert initial_source(SourceSettings("replay", file="/data/rec.edf", speed=2.0)).paced is True
