"""Fixtures for the app tests: a fake stream's StreamInfo and a MainWindow showing it (offscreen)."""

import pytest
from app_fakes import N_CH, SFREQ

from eegviz.app.window import MainWindow
from eegviz.messages import StreamInfo


@pytest.fixture
def info():
    return StreamInfo(name="fake-amp", ch_names=tuple(f"E{i}" for i in range(N_CH)), sfreq=SFREQ)


@pytest.fixture
def window(qtbot, info):
    w = MainWindow(info)
    qtbot.addWidget(w)
    return w

