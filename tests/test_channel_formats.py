"""The one channel-format table agrees with liblsl's numbering and with numpy."""

import numpy as np
import pylsl

from eegviz.channel_formats import BY_LSL_CODE, BY_NAME, CHANNEL_FORMATS, lsl_format_name


def test_codes_are_liblsls_and_dtypes_fit_the_names():
    for name in ("float32", "double64", "string", "int32", "int16", "int8", "int64"):
        assert BY_NAME[name].lsl_code == getattr(pylsl, f"cf_{name}")
    assert len(BY_LSL_CODE) == len(BY_NAME) == len(CHANNEL_FORMATS)
    for f in CHANNEL_FORMATS:
        if f.dtype is not None:
            bits = np.dtype(f.dtype).itemsize * 8
            assert f.name.endswith(str(bits)) and np.dtype(f.dtype).byteorder in "<=|"
    assert BY_NAME["string"].dtype is None
    assert lsl_format_name(pylsl.cf_double64) == "double64" and lsl_format_name(99) == "unknown"
