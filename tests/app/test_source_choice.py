"""SourceChoice (no Qt): pacing, choices from command lines, unknown kinds; one_line error messages."""

from types import SimpleNamespace

import pytest

from eegviz.app.session import one_line
from eegviz.app.source_choice import SourceChoice
from eegviz.errors import EegvizError


def test_source_choice():
    assert SourceChoice("demo", speed=0).paced is False and SourceChoice("demo").paced is True
    assert SourceChoice("lsl").paced and SourceChoice("simulator").paced
    cli = SimpleNamespace(cmd="replay", file="x.xdf", speed=2.0, stream="EEG", markers="M")
    assert SourceChoice.from_cli_args(cli) == SourceChoice("xdf", path="x.xdf", name="EEG", markers="M", speed=2.0)
    live = SimpleNamespace(cmd="live", board=-1, markers=None, simulate=False, stream=None)
    assert SourceChoice.from_cli_args(live).kind == "brainflow-synthetic"
    with pytest.raises(EegvizError, match="unknown source kind"):
        SourceChoice("nope").make_source()
    assert one_line(EegvizError("plain words")) == "plain words"
    assert one_line(ValueError("a\n  b")) == "ValueError: a b"
