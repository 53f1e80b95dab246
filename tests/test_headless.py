"""run_headless: one SessionSettings in, a finished session out (the default model on the demo recording)."""

import pytest

from eegviz.errors import EegvizError
from eegviz.headless import build_models, run_headless
from eegviz.paths import default_model_dir, demo_recording
from eegviz.settings import GeneratorSettings, OutputSettings, SessionSettings, SourceSettings

pytestmark = pytest.mark.skipif(not demo_recording().exists() or not (default_model_dir() / "decoder.json").exists(),
                                reason="demo recording or default model missing")


def test_the_settings_decide_output_pacing_and_duration(tmp_path):
    from eegviz.sources.xdf import XdfReplaySource

    settings = SessionSettings(source=SourceSettings("demo", speed=3.0),
                               output=OutputSettings(folder=str(tmp_path / "out")), duration=1.0)
    stats = run_headless(XdfReplaySource(demo_recording(), speed=3.0), settings)
    assert stats.ended == "duration" and stats.markers > 0  # paced at 3x, the demo outlasts 1 s
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert len(lines) == stats.markers and (tmp_path / "out" / "session.xdf").exists()  # a line per marker


def test_an_unknown_generator_is_one_line():
    with pytest.raises(EegvizError, match="no generator named 'nope'"):
        build_models(default_model_dir(), GeneratorSettings("nope"))
