import socket
import struct
import threading
import time

import numpy as np

from eegviz.messages import Decoded, Epoch, Marker, Reconstruction, SkipKind
from eegviz.plugins import get, load_plugin_dir


def test_osc_sink_sends_reconstruction_summary_on_loopback(tmp_path):
    from pathlib import Path

    load_plugin_dir(Path(__file__).parent)
    sink_cls = get("sinks", "osc")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2)
    sink = sink_cls.from_spec(f"127.0.0.1:{rx.getsockname()[1]}")
    ep = Epoch(np.zeros((2, 10), np.float32), 100.0, ("a", "b"), -0.1, Marker(1.0, "star_003"), t_ready=0.0)
    dec = Decoded(ep, np.zeros(4), np.zeros((8, 8, 3)), np.zeros((8, 64)), np.array([0.2, 0.8]), ("circle", "star"))
    sink.on_result(Reconstruction(dec, np.zeros((8, 8, 3), np.uint8), "embedded", {"marker_to_image": 42.5}))
    data, _ = rx.recvfrom(4096)
    assert data.startswith(b"/eegviz/reconstruction\x00")
    assert b",ssff" in data and b"star_003" in data and b"star\x00" in data
    score, latency = struct.unpack(">ff", data[-8:])
    assert abs(score - 0.8) < 1e-6 and abs(latency - 42.5) < 1e-4
    sink.close()
    rx.close()


def test_bad_osc_targets_are_one_line_errors():
    import pytest

    from eegviz.errors import EegvizError

    load_plugin_dir(__import__("pathlib").Path(__file__).parent)
    sink_cls = get("sinks", "osc")
    with pytest.raises(EegvizError, match="not a UDP port"):
        sink_cls.from_spec("127.0.0.1:70000")
    with pytest.raises(EegvizError, match="give osc:HOST:PORT"):
        sink_cls.from_spec("127.0.0.1:x")


def _osc_sink_class():
    from pathlib import Path

    load_plugin_dir(Path(__file__).parent)
    return get("sinks", "osc")


def _one_skip_received(spec_for_port, monkeypatch, resolve) -> list:
    """Start a python-osc server on 127.0.0.1 (what Max or TouchDesigner listen on), build the OSC sink from
    spec_for_port(port) while socket.getaddrinfo is `resolve` (a name only the test knows), put the real lookup
    back, send one skip and return what the server got."""
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    got = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: got.append((address, args)))
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: resolve(real, host, *a, **k))
    sink = _osc_sink_class().from_spec(spec_for_port(server.server_address[1]))
    monkeypatch.setattr(socket, "getaddrinfo", real)  # the name no longer resolves (DNS gone)
    sink.on_skipped(Marker(1.0, "star_003"), "in a gap", SkipKind.GAP)
    sink.close()
    for _ in range(100):
        if got:
            break
        time.sleep(0.02)
    server.shutdown()
    server.server_close()
    return got


def test_an_ipv6_target_in_brackets_receives_the_messages():
    """`--sink osc:[::1]:9000`, IPv6 written as in a URL, was refused: "OSC target [::1]:9000 cannot be used
    (Name or service not known)"; only the bare ::1:9000 worked. Spaces around host or port are left out too."""
    import pytest
    from pythonosc.osc_message import OscMessage

    try:
        rx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        rx.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    rx.settimeout(2)
    port = rx.getsockname()[1]
    sink_cls = _osc_sink_class()
    assert sink_cls.parse_spec(f" [::1] : {port} ") == ("::1", port)
    for spec in (f"[::1]:{port}", f"::1:{port}"):
        sink = sink_cls.from_spec(spec)
        sink.on_skipped(Marker(1.0, "star_003"), "in a gap", SkipKind.GAP)
        msg = OscMessage(rx.recvfrom(4096)[0])
        assert (msg.address, msg.params) == ("/eegviz/skipped", ["star_003", "in a gap", "gap"])
        sink.close()
    rx.close()


def test_a_bad_osc_target_names_the_sink_option():
    """With several --sink options (or a config file's list) the user must see which one is wrong: the port error
    said only "OSC port 70000 is not a UDP port" and an unknown host "OSC target ... cannot be used"."""
    import pytest

    from eegviz.errors import EegvizError

    sink_cls = _osc_sink_class()
    with pytest.raises(EegvizError, match=r"^--sink osc:127\.0\.0\.1:70000: port 70000 is not a UDP port"):
        sink_cls.from_spec("127.0.0.1:70000")
    with pytest.raises(EegvizError, match=r"^--sink osc:nosuch\.invalid:9000: OSC target nosuch\.invalid:9000 "
                                          r"cannot be used"):
        sink_cls.from_spec("nosuch.invalid:9000")


def test_a_host_name_is_resolved_once_when_the_sink_is_built(monkeypatch):
    """python-osc kept the name and sendto() resolved it again for every message, in the generation thread: a
    slow DNS lookup held up each image, and one that failed mid-session lost the message. Here the name resolves
    only while the sink is built; its messages still arrive."""
    def visuals_machine(real, host, *args, **kwargs):
        return real("127.0.0.1" if host == "visuals.test" else host, *args, **kwargs)

    got = _one_skip_received(lambda port: f"visuals.test:{port}", monkeypatch, visuals_machine)
    assert got == [("/eegviz/skipped", ("star_003", "in a gap", "gap"))]


def test_the_osc_sink_documents_every_skip_kind_it_sends():
    """Its docstring listed six kinds; "no id" and "clock" went out too, and a patch routing on them had no word."""
    doc = " ".join(_osc_sink_class().__doc__.split())
    assert all(kind.value in doc for kind in SkipKind)


def test_a_name_with_ipv4_and_ipv6_addresses_sends_to_the_ipv4_one(monkeypatch):
    """macOS resolves localhost to ::1 first; the sink sent there, and a patch listening on 127.0.0.1 (Max,
    TouchDesigner, python-osc's server) received nothing, without a word."""
    import pytest

    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")

    def ipv6_first(real, host, *args, **kwargs):
        if host != "dualstack.test":
            return real(host, *args, **kwargs)
        return real("::1", *args, **kwargs) + real("127.0.0.1", *args, **kwargs)

    got = _one_skip_received(lambda port: f"dualstack.test:{port}", monkeypatch, ipv6_first)
    assert got == [("/eegviz/skipped", ("star_003", "in a gap", "gap"))]


def test_a_link_local_ipv6_target_keeps_its_interface(monkeypatch):
    """Resolving the name once dropped a link-local address's scope (fe80::1%en0 became fe80::1), which no
    interface can send to."""
    import sys

    sink_cls = _osc_sink_class()
    module = sys.modules[sink_cls.__module__]
    made = []

    class Client:
        def __init__(self, address, port, allow_broadcast=False, family=socket.AF_UNSPEC):
            made.append((address, port, family))

    monkeypatch.setattr(module, "SimpleUDPClient", Client)
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, **kw: [
        (socket.AF_INET6, socket.SOCK_DGRAM, 17, "", ("fe80::1", port, 0, 3))])
    sink_cls.from_spec("fe80::1%en0:9000")
    assert made == [("fe80::1%3", 9000, socket.AF_INET6)]


def test_two_targets_in_one_sink_are_told_to_be_given_apart():
    """A config file's sink = "osc:A:9000, osc:B:9001" was refused as 'OSC target A:9000, osc:B:9001 cannot be
    used (Name or service not known)'."""
    import pytest

    from eegviz.errors import EegvizError

    with pytest.raises(EegvizError, match=r"one target per --sink; .* sink = \[\"osc:127\.0\.0\.1:9000\", "):
        _osc_sink_class().check_spec("127.0.0.1:9000, osc:127.0.0.1:9001")


def test_a_session_looks_its_osc_host_up_once(monkeypatch):
    """A session checks its --sink before the model loads (eegviz.sinks.sink_class), and make_sink checked it again
    before building it, which looked it up a third time: three DNS lookups for one target (a slow DNS made the
    session wait for each). It is looked up once; a sink built later, with no check before it, looks it up anew."""
    from eegviz.sinks import make_sink, sink_class

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2)
    _osc_sink_class()
    looked_up = []
    real = socket.getaddrinfo

    def lookup(host, *args, **kwargs):
        if host == "visuals.test":  # python-osc looks up the address it is given too: a number, no DNS
            looked_up.append(host)
        return real("127.0.0.1" if host == "visuals.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    spec = f"osc:visuals.test:{rx.getsockname()[1]}"
    sink_class(spec)  # the session's check, before its model loads
    sink = make_sink(spec)
    assert looked_up == ["visuals.test"]
    sink.on_skipped(Marker(1.0, "star_003"), "in a gap", SkipKind.GAP)
    assert rx.recvfrom(4096)[0].startswith(b"/eegviz/skipped")
    sink.close()
    make_sink(spec).close()  # the window's next Start: a lookup of its own, not an hour-old answer twice
    assert looked_up == ["visuals.test"] * 2
    rx.close()


def test_a_failed_send_is_a_notice_once_in_a_window_session(monkeypatch, caplog):
    """A send that failed (a visuals machine down, its network gone) was said only in the log, which a window's
    user never sees: it now goes to the notice function the session gives (set_notice), named after its --sink,
    once; the log still has it."""
    import logging

    from eegviz.sinks import make_sink

    _osc_sink_class()
    sink = make_sink("osc:127.0.0.1:9")
    said = []
    sink.set_notice(said.append)

    def unreachable(address, values):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(sink.sink.client, "send_message", unreachable)
    with caplog.at_level(logging.WARNING, logger="eegviz.plugins.osc"):
        for i in range(3):
            sink.on_skipped(Marker(float(i), "star_003"), "in a gap", SkipKind.GAP)
    assert said == ["--sink osc:127.0.0.1:9: sending to 127.0.0.1:9 failed ([Errno 101] Network is unreachable); "
                    "later failures are not reported"]
    assert [r.getMessage() for r in caplog.records] == [f"OSC sink: {said[0].split(': ', 1)[1]}"]
    sink.close()


def test_a_marker_osc_cannot_carry_as_it_is_keeps_the_arguments_in_place():
    """A NUL in a marker moved the later arguments at the receiver, and a lone surrogate raised in python-osc's
    encoder (ending the session): both arrive as '?', every argument where the README says it is."""
    from pythonosc.osc_message import OscMessage

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2)
    sink = _osc_sink_class().from_spec(f"127.0.0.1:{rx.getsockname()[1]}")
    try:
        sink.on_skipped(Marker(1.0, "a\x00b"), "dropped: newest wins", SkipKind.DROPPED)
        sink.on_skipped(Marker(2.0, "Bild_\udce4"), "gap", SkipKind.GAP)
        got = [OscMessage(rx.recvfrom(4096)[0]).params for _ in range(2)]
    finally:
        sink.close()
        rx.close()
    assert got == [["a?b", "dropped: newest wins", "dropped"], ["Bild_?", "gap", "gap"]]


def test_an_ipv6_target_without_a_port_is_told_to_give_one():
    """osc:::1 was refused as "OSC target ::1 cannot be used (Name or service not known)": its '1' was the port."""
    import pytest

    from eegviz.errors import EegvizError

    sink_cls = _osc_sink_class()
    for spec in ("::1", "fe80::1"):
        with pytest.raises(EegvizError, match=rf"^--sink osc:{spec}: '{spec}' reads as an IPv6 address without a "
                                              r"port; give osc:\[ADDRESS\]:PORT, e\.g\. osc:\[::1\]:9000$"):
            sink_cls.check_spec(spec)
    assert sink_cls.parse_spec("fe80:::9000") == ("fe80::", 9000) and sink_cls.parse_spec("::1:9000") == ("::1", 9000)


def test_an_ipv4_target_may_be_a_broadcast_address():
    """Without SO_BROADCAST every send to a broadcast address (192.168.1.255) failed with "Permission denied"."""
    sink = _osc_sink_class().from_spec("127.0.0.1:9")
    try:
        assert sink.client._sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) == 1
    finally:
        sink.close()
