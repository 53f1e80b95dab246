"""eegviz.stream.counter: lost samples told from a board's sample counter, and only where it can tell."""

import numpy as np

from eegviz.stream.counter import COUNTER_LEARN, UNKNOWN, SampleCounter, with_lost


def _feed(counter, values, chunk=10):
    return np.concatenate([counter.lost_before(values[i:i + chunk]) for i in range(0, len(values), chunk)])


def test_a_counter_of_one_per_sample_tells_each_loss_exactly_also_across_its_wrap_once_learnt():
    values = np.arange(1200) % 256  # a Cyton's 0..255
    keep = np.ones(len(values), bool)
    keep[[300, 301, 302, 700, 1022, 1023, 1024]] = False  # 3 lost, 1 lost, and 3 across the fourth wrap (1024)
    c = SampleCounter(most=250)
    lost = _feed(c, values[keep].astype(float))
    learnt = int(np.argmax(lost != UNKNOWN))
    assert learnt >= COUNTER_LEARN and (lost[:learnt] == UNKNOWN).all()  # learning: the caller goes by the stamps
    assert c.step == 1.0 and c.modulus == 256.0
    wraps = np.flatnonzero(np.diff(values[keep]) < 0) + 1
    assert (lost[wraps[:2]] == UNKNOWN).all()  # the first two wraps teach where it wraps
    told = lost.copy()
    told[told == UNKNOWN] = 0
    where = np.flatnonzero(told)
    assert told[where].tolist() == [3, 1, 3] and told.sum() == 7
    assert values[keep][where].tolist() == [303 % 256, 701 % 256, 1025 % 256]  # the first sample after each loss
    assert (lost[learnt:] == UNKNOWN).sum() == 2  # nowhere else


def test_counters_that_cannot_tell_say_so():
    c = SampleCounter(most=250)
    early = np.arange(0, 2 * COUNTER_LEARN + 2, 2, dtype=float)  # counts by two: a step of 2 is learnt
    assert (c.lost_before(early[: COUNTER_LEARN // 2]) == UNKNOWN).all() and c.step is None
    c.lost_before(early[COUNTER_LEARN // 2:])
    assert c.step == 2.0
    assert c.lost_before(np.array([130.0, 136.0])).tolist() == [0, 2]
    packets = np.repeat(np.arange(100), 12).astype(float)  # a packet number repeated over its 12 samples
    assert (_feed(SampleCounter(most=250), packets) == UNKNOWN).all()
    assert (_feed(SampleCounter(most=250), np.zeros(500)) == UNKNOWN).all()  # no counter at all
    big = SampleCounter(most=5)  # a jump longer than `most`: left to the stamps' gap test
    lost = _feed(big, np.concatenate([np.arange(100), np.arange(150, 250)]).astype(float))
    assert lost[100] == UNKNOWN and not (lost[COUNTER_LEARN:] > 0).any()


def test_the_lost_stamps_are_put_in_evenly_and_marked():
    stamps = np.array([10.0, 10.004, 10.020, 10.024])
    full, real = with_lost(stamps, np.array([1, 0, 3, 0]), before=9.992, period=0.004)
    np.testing.assert_allclose(full, [9.996, 10.0, 10.004, 10.008, 10.012, 10.016, 10.020, 10.024])
    assert real.tolist() == [False, True, True, False, False, False, True, True]
    np.testing.assert_allclose(full[real], stamps)
    full, _ = with_lost(stamps[:1], np.array([1]), before=None, period=0.004)
    np.testing.assert_allclose(full, [9.996, 10.0])



def test_a_read_where_the_counter_tells_some_steps_and_not_others_still_counts_what_it_told():
    """Before its wrap is learnt the counter cannot tell across one (UNKNOWN), but a loss it can tell in the same
    read was counted and said, while the line was not told of it (the samples after it a period early)."""
    c = SampleCounter(most=250)
    _feed(c, np.arange(200).astype(float))  # learnt: one step per sample
    lost = c.lost_before(np.array([200.0, 201.0, 203.0, 204.0, 255.0, 0.0, 1.0]))  # 202 lost; then a jump, a wrap
    assert lost[2] == 1 and lost[5] == UNKNOWN
