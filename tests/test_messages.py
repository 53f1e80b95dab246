"""Message helpers: the channel labels a source's stream is given."""

import logging

import pytest

from eegviz.messages import usable_ch_names


def test_labels_that_name_every_channel_once_are_kept_stripped(caplog):
    with caplog.at_level(logging.WARNING, logger="eegviz.messages"):
        assert usable_ch_names([" Fz", "Cz ", "Pz"], 3) == ["Fz", "Cz", "Pz"]
        assert usable_ch_names([], 2) == ["ch1", "ch2"]  # a stream that names none: nothing to say
        assert usable_ch_names(["", ""], 2) == ["ch1", "ch2"]
    assert caplog.text == ""


@pytest.mark.parametrize("labels, why", [
    (["X", "X", "X"], "'X' labels 3 channels"),  # reported as montage misses of ch1..ch3, nothing else
    (["Fz", "", "Pz"], "1 of 3 channels have no label"),
    (["Fz", "Cz"], "2 labels for 3 channels"),
    (["Fz", "FZ", "Cz"], "'Fz' and 'FZ' name one channel (names are matched regardless of case)"),  # review
])
def test_labels_given_but_not_used_are_named_in_a_warning(caplog, labels, why):
    with caplog.at_level(logging.WARNING, logger="eegviz.messages"):
        assert usable_ch_names(labels, 3, "rec.xdf: stream 'amp'") == ["ch1", "ch2", "ch3"]
    assert f"rec.xdf: stream 'amp': its channel labels are not used ({why}); its channels are called ch1..ch3" \
        in caplog.text
