"""The one table of stream sample formats, shared by LSL reading, LSL recording and the XDF writer.

LSL and XDF name the formats alike (float32, double64, string, int8..int64); liblsl numbers them (pylsl's cf_*
constants, fixed by liblsl's C API); the XDF writer and the recorder need each one's little-endian numpy dtype.
The codes are written here as numbers so that code which only writes XDF need not load liblsl to know them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelFormat:
    name: str  # as LSL's and XDF's stream headers spell it
    lsl_code: int  # liblsl's channel_format number (pylsl.cf_float32 == 1, ...)
    dtype: str | None  # little-endian numpy dtype of one value; None for strings


CHANNEL_FORMATS = (
    ChannelFormat("float32", 1, "<f4"),
    ChannelFormat("double64", 2, "<f8"),
    ChannelFormat("string", 3, None),
    ChannelFormat("int32", 4, "<i4"),
    ChannelFormat("int16", 5, "<i2"),
    ChannelFormat("int8", 6, "<i1"),
    ChannelFormat("int64", 7, "<i8"),
)
BY_NAME = {f.name: f for f in CHANNEL_FORMATS}
BY_LSL_CODE = {f.lsl_code: f for f in CHANNEL_FORMATS}


def lsl_format_name(code: int, unknown: str = "unknown") -> str:
    """The name of liblsl's channel_format `code` (what a notice or a listing shows)."""
    fmt = BY_LSL_CODE.get(code)
    return fmt.name if fmt is not None else unknown
