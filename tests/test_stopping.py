"""eegviz.stopping: SIGTERM as Ctrl-C, and stop requests while stopping (said to wait, then obeyed)."""

import os
import signal
import time

import pytest

from eegviz.stopping import sigterm_as_ctrl_c, stop_deferred


def _signal(sig):
    os.kill(os.getpid(), sig)
    time.sleep(0.05)  # the handler runs here


def test_a_second_request_waits_and_a_third_is_obeyed(capsys):
    """A close that hangs must not leave SIGKILL the only way out; the handlers are restored after the block."""
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with stop_deferred():
            _signal(signal.SIGINT)  # said to wait
            assert "already stopping" in capsys.readouterr().err
            _signal(signal.SIGTERM)  # obeyed
    assert "abandoning" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_raises_what_ctrl_c_raises():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_ctrl_c():
            _signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


def test_sighup_stops_as_ctrl_c_where_asked_unless_it_is_ignored():
    """`eegviz record` in a terminal that is closed: a stop with footers, not death on the spot. Under nohup
    SIGHUP is ignored, and stays so: the recording goes on, as nohup asked."""
    before = signal.getsignal(signal.SIGHUP)
    try:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        with pytest.raises(KeyboardInterrupt):
            with sigterm_as_ctrl_c(hangup=True):
                with stop_deferred():  # closing: said to wait, as SIGTERM is
                    _signal(signal.SIGHUP)
                _signal(signal.SIGHUP)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
        with sigterm_as_ctrl_c():  # not asked for: left alone
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with sigterm_as_ctrl_c(hangup=True):
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            _signal(signal.SIGHUP)  # nothing happens
    finally:
        signal.signal(signal.SIGHUP, before)
