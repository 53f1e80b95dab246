"""eegviz.sources.rate: a declared rate judged by the samples' stamps and, live, by their arrival; senders modelled
as liblsl and real peers stamp (per sample, or chunks back-dated from their push at the declared rate)."""

from __future__ import annotations

import numpy as np
import pytest

from eegviz.sources.rate import LiveRateCheck, stamp_rate


def _pulls(declared, true_rate, block=25, seconds=10.0, stamping="back-dated", burst=1, burst_every=None,
           lost=0.0, stall=None):
    """(sender stamps, arrival time) of each pull of a sender whose amplifier samples at true_rate and which
    pushes `block` samples at a time (or `burst` blocks together every `burst_every` s). stamping "each": every
    sample's true time; "back-dated": liblsl stamps a pushed chunk's last sample with the push time and the others
    back at the declared rate. stall: (every s, for s) the sender's link stalls, then flushes what it held,
    stamped on arrival (a board's own stamps). lost: the fraction of samples lost on the way."""
    rng = np.random.default_rng(0)
    t_sample = np.arange(int(seconds * true_rate)) / true_rate
    per_push = block * burst
    pulls = []
    for k in range(0, len(t_sample) - per_push + 1, per_push):
        push = 1000.0 + t_sample[k + per_push - 1] + 0.002
        arrive = push + 0.001
        if stall is not None and (push % stall[0]) < stall[1]:
            arrive = push - (push % stall[0]) + stall[1]  # held until the stall ends
        if burst_every:
            push = arrive = 1000.0 + (k // per_push + 1) * burst_every
        for b in range(burst):
            idx = np.arange(k + b * block, k + (b + 1) * block)
            idx = idx[rng.random(len(idx)) >= lost]
            if stamping == "each":
                stamps = 1000.0 + t_sample[idx]
            elif stamping == "on-arrival":
                stamps = np.full(len(idx), arrive)
            else:
                stamps = push - (len(idx) - 1 - np.arange(len(idx))) / declared
            if pulls and pulls[-1][1] == arrive:  # what has arrived by a pull comes in that one pull
                pulls[-1] = (np.r_[pulls[-1][0], stamps], arrive)
            else:
                pulls.append((stamps, arrive))
    return pulls


def _judge(declared, pulls):
    check = LiveRateCheck(declared, window_s=4.0)
    said = [m for stamps, now in pulls if (m := check.add(stamps, now)) is not None]
    return check.done, said


@pytest.mark.parametrize("declared, true_rate, kw", [
    (250.0, 1000.0, {}),  # pushes faster than it says, chunks unstamped: liblsl's back-dated chunks overlap
    (1000.0, 250.0, {}),
    (1000.0, 250.0, {"stamping": "each"}),
    (250.0, 1000.0, {"stamping": "each"}),
], ids=["fast-back-dated", "slow-back-dated", "slow-stamped", "fast-stamped"])
def test_a_sender_set_to_another_rate_is_caught(declared, true_rate, kw):
    done, said = _judge(declared, _pulls(declared, true_rate, **kw))
    assert done and len(said) == 1
    assert said[0].startswith(f"{true_rate:.4g} Hz by their arrival here over 4 s")


@pytest.mark.parametrize("kw", [
    {},
    {"stamping": "each"},
    {"burst": 5},  # five blocks pushed together: back-dated chunks overlap, the net advance is the time
    {"lost": 0.3},  # a weak radio link
    {"stall": (3.0, 1.5), "stamping": "on-arrival"},  # a stalling link's backlog stamped on arrival: stamps run fast
    {"block": 1, "stamping": "each"},
], ids=["back-dated", "stamped", "bursts", "30pc-lost", "stalls-stamped-on-arrival", "sample-by-sample"])
def test_healthy_senders_are_not_refused(kw):
    done, said = _judge(250.0, _pulls(250.0, 250.0, **kw))
    assert done and said == []


def test_a_sender_pulled_less_often_than_the_gap_is_not_judged_and_keeps_nothing():
    """Nine 32-sample blocks every 1.152 s: no arrival interval is timed, so the check is never made; after
    GIVE_UP_S it lets go of its stamps. The stamps count the time between pushes (under GAP_S), or they would say
    2000 Hz: inside a push the back-dated blocks overlap."""
    pulls = _pulls(250.0, 250.0, block=32, burst=9, burst_every=1.152, seconds=40.0)
    check = LiveRateCheck(250.0, window_s=4.0)
    assert [m for stamps, now in pulls if (m := check.add(stamps, now))] == []
    assert check.done and check._stamps == []
    assert stamp_rate(np.concatenate([s for s, _ in pulls[:36]]))[0] == pytest.approx(250.0, rel=0.05)


def test_stamp_rate_counts_the_net_advance_of_the_stamps():
    steps = np.r_[np.zeros(1), np.full(99, 0.004)]
    assert stamp_rate(100 + np.cumsum(steps))[0] == pytest.approx(250.0)
    assert stamp_rate(np.r_[100 + np.arange(100) * 0.004, 50 + np.arange(100) * 0.004])[0] == pytest.approx(250.0)
    assert stamp_rate(np.full(10, 100.0)) is None  # no time: nothing to measure
