"""First-party example plugin: an OSC sink that sends each reconstruction's summary over UDP.

Shows the plugin API: a module in a plugins directory calls eegviz.plugins.register(group, name, obj). A sink
implements on_result / on_skipped / close, and may offer from_spec(text) so that `--sink osc:HOST:PORT` (or
`sink = ["osc:HOST:PORT"]` in a config file) can build it. OSC is what TouchDesigner, Max/MSP and most VJ
tools listen to, so a demo can drive visuals from decoded EEG. The default target is 127.0.0.1 (this machine
only). Messages are encoded by python-osc, the maintained OSC library, not by hand.
"""

from __future__ import annotations

import logging
import re
import socket

from pythonosc.udp_client import SimpleUDPClient

from eegviz.errors import EegvizError
from eegviz.plugins import register

log = logging.getLogger("eegviz.plugins.osc")


class OscSink:
    """/eegviz/reconstruction (marker, decoded class, its score, marker->image ms: s s f f) and /eegviz/skipped
    (marker, reason, skip kind: s s s). The kind is SkipKind's value, as in results.jsonl's "skip": dropped, gap,
    nan, rejected (an artefact over --reject-uv), incomplete, stopped, error, no id or clock, so a patch can route
    on it."""

    name = "osc"

    # (host, port) -> (family, address) that check_spec found, taken by the next sink built for it: the name was
    # looked up twice, before the model loaded and again after (a slow DNS made a session wait for both, and a
    # name whose answers change could be checked at one address and sent to another)
    _checked: dict[tuple[str, int], tuple[int, str]] = {}

    def __init__(self, host: str = "127.0.0.1", port: int = 9000):
        port = int(port)
        if not 0 < port < 65536:
            raise EegvizError(f"OSC port {port} is not a UDP port (1-65535)")
        try:
            # The name is resolved once, and messages go to its address: python-osc keeps the name and sendto()
            # resolved it again for every message, in the session's generation thread (a slow or failing DNS
            # lookup held up each image, or lost the message). The lookup check_spec made before the model loaded
            # is the one used, if there was one.
            family, ip = self._checked.pop((host, port), None) or self._resolve(host, port)
            # A broadcast address (192.168.1.255: every visuals machine on the network) is allowed: without
            # SO_BROADCAST every send to one failed with "Permission denied", said once, and nothing arrived.
            self.client = SimpleUDPClient(ip, port, allow_broadcast=family == socket.AF_INET, family=family)
        except (OSError, OverflowError) as e:
            raise EegvizError(f"OSC target {host}:{port} cannot be used ({e})") from None
        self.target = f"{host}:{port}"
        self._warned = False
        self._say = None  # set_notice's function, if the session gave one

    @staticmethod
    def _resolve(host: str, port: int) -> tuple[int, str]:
        """(family, address) to send to. Where a name has both, its IPv4 address: macOS lists localhost as ::1
        first, and Max, TouchDesigner and python-osc's server listen on IPv4, so `osc:localhost:9000` sent every
        message to nobody."""
        found = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, address = next((a for a in found if a[0] == socket.AF_INET), found[0])
        ip = address[0]
        if family == socket.AF_INET6 and address[3]:  # a link-local fe80::1%en0: the scope leaves the text
            ip = f"{ip}%{address[3]}"
        return family, ip

    @staticmethod
    def parse_spec(spec: str) -> tuple[str, int]:
        """(host, port) from 'HOST:PORT', ':PORT' or 'PORT' (host 127.0.0.1), refused in one line naming the
        --sink. An IPv6 host is written bare (::1:9000) or in brackets ([::1]:9000, as in a URL: it was refused as
        an unknown host name), and spaces around either part (a hand-edited config list) are left out."""
        if "," in spec:  # sink = "osc:A:9000, osc:B:9001" was told that host "A:9000, osc:B" cannot be used
            raise EegvizError(f"--sink osc:{spec}: one target per --sink; give --sink once for each (in a config "
                              f"file, a list: sink = [\"osc:127.0.0.1:9000\", \"osc:127.0.0.1:9001\"])")
        host, _, port = spec.rpartition(":")
        host = host.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif host.endswith(":") and not host.endswith("::"):
            # an IPv6 address with no port (osc:::1, osc:fe80::1): its last group was read as the port, and the
            # rest (':') was refused as "OSC target ::1 cannot be used (Name or service not known)", as if ::1
            # could not be sent to
            raise EegvizError(f"--sink osc:{spec}: '{spec.strip()}' reads as an IPv6 address without a port; "
                              f"give osc:[ADDRESS]:PORT, e.g. osc:[::1]:9000")
        try:
            port_number = int(port.strip())
        except ValueError:
            raise EegvizError(f"--sink osc:{spec}: give osc:HOST:PORT, e.g. osc:127.0.0.1:9000") from None
        if not 0 < port_number < 65536:
            raise EegvizError(f"--sink osc:{spec}: port {port_number} is not a UDP port (1-65535)")
        return host or "127.0.0.1", port_number

    @classmethod
    def check_spec(cls, spec: str) -> None:
        """What from_spec would refuse, without opening a socket: eegviz.sinks.sink_class asks this before the
        session's model loads, so a mistyped port or host is said at once, not seconds later (in the window,
        once it was open). The address found is kept for the sink built next for that target (_checked); a
        target checked already and not built since is not looked up again (eegviz.sinks.make_sink checks first)."""
        host, port = cls.parse_spec(spec)
        try:
            if (host, port) not in cls._checked:
                cls._checked[(host, port)] = cls._resolve(host, port)
        except (OSError, OverflowError) as e:
            raise EegvizError(f"--sink osc:{spec}: OSC target {host}:{port} cannot be used ({e})") from None

    @classmethod
    def from_spec(cls, spec: str) -> OscSink:
        """'HOST:PORT', ':PORT' or 'PORT' (host 127.0.0.1): see parse_spec."""
        host, port = cls.parse_spec(spec)
        try:
            return cls(host, port)
        except EegvizError as e:
            raise EegvizError(f"--sink osc:{spec}: {e}") from None

    def set_notice(self, say) -> None:
        """say(text) puts a notice where the session's user sees it (a window's notices; eegviz.sinks)."""
        self._say = say

    def _send(self, address: str, values: list) -> None:
        """A visuals machine that is down must not end an EEG session: a failed send is said once, in the log
        and, in a window, among its notices."""
        try:
            self.client.send_message(address, values)
        except OSError as e:
            if not self._warned:
                self._warned = True
                text = f"sending to {self.target} failed ({e}); later failures are not reported"
                log.warning("OSC sink: %s", text)
                if self._say is not None:
                    self._say(text)

    @staticmethod
    def _text(value) -> str:
        """A string argument OSC can carry: its strings end at the first NUL, so a marker holding one ('a\\0b')
        moved every later argument at the receiver (python-osc's server got the reason as the skip kind), and a
        lone surrogate (a marker a source plugin read from bytes that were no text) made python-osc's encoder
        raise, which ended the session. Each becomes '?', as in the run report (eegviz.record.run_report)."""
        return re.sub("[\\x00\\ud800-\\udfff]", "?", str(value))

    def on_result(self, rec, stimulus=None) -> None:
        self._send("/eegviz/reconstruction", [
            self._text(rec.marker.payload), self._text(rec.decoded.top_class),
            float(rec.decoded.class_scores.max()), float(rec.timings_ms.get("marker_to_image", 0.0))])

    def on_skipped(self, marker, reason: str, kind) -> None:
        self._send("/eegviz/skipped", [self._text(marker.payload), self._text(reason), kind.value])

    def close(self) -> None:
        self.client.close()


register("sinks", "osc", OscSink)
