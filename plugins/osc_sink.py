"""First-party example plugin: an OSC sink that sends each reconstruction's summary over UDP.

Shows the plugin API: a module in the plugins directory calls eegviz.plugins.register(group, name, obj). A sink
implements on_result / on_skipped / close. OSC is what TouchDesigner, Max/MSP and most VJ tools listen to, so a
demo can drive visuals from decoded EEG. Default target is 127.0.0.1 (this machine only).
"""

from __future__ import annotations

import socket
import struct

from eegviz.plugins import register


def _pad(b: bytes) -> bytes:
    return b + b"\x00" * (4 - len(b) % 4)


def osc_message(address: str, *args) -> bytes:
    """Encode an OSC 1.0 message with int32 (i), float32 (f) and string (s) arguments."""
    tags, payload = ",", b""
    for a in args:
        if isinstance(a, bool) or isinstance(a, int):
            tags, payload = tags + "i", payload + struct.pack(">i", int(a))
        elif isinstance(a, float):
            tags, payload = tags + "f", payload + struct.pack(">f", a)
        else:
            tags, payload = tags + "s", payload + _pad(str(a).encode("utf-8"))
    return _pad(address.encode()) + _pad(tags.encode()) + payload


class OscSink:
    name = "osc"

    def __init__(self, host: str = "127.0.0.1", port: int = 9000):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def on_result(self, rec, stimulus=None) -> None:
        msg = osc_message("/eegviz/reconstruction", rec.marker.payload, rec.decoded.top_class,
                          float(rec.decoded.class_scores.max()), float(rec.timings_ms.get("marker_to_image", 0.0)))
        self.sock.sendto(msg, self.addr)

    def on_skipped(self, marker, reason: str) -> None:
        self.sock.sendto(osc_message("/eegviz/skipped", marker.payload, reason), self.addr)

    def close(self) -> None:
        self.sock.close()


register("sinks", "osc", OscSink)
