"""A small stimulus folder (2 classes x 2 images, 64 px) shared by the presenter tests of one module."""

import pytest

from eegviz.app.presenter.stimulus_folder import write_stimulus_folder


@pytest.fixture(scope="module")
def stim_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("stimuli")
    write_stimulus_folder(d, n_per_class=2, size=64, classes=["star", "boat"])
    return d
