"""`from eegviz import ...`: every public name resolves, lazily, and `import eegviz` alone stays light."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import eegviz


@pytest.mark.parametrize("name", eegviz.__all__)
def test_every_public_name_resolves_to_its_module_object(name):
    value = getattr(eegviz, name)
    if name == "__version__":
        assert isinstance(value, str)
        return
    module = eegviz._LAZY[name]
    assert value is getattr(sys.modules[module], name)
    assert name in dir(eegviz)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        eegviz.NoSuchThing  # noqa: B018


def test_import_eegviz_loads_no_heavy_library():
    code = ("import sys, eegviz; heavy = [m for m in ('torch', 'pylsl', 'mne', 'diffusers', 'eegviz.pipeline') "
            "if m in sys.modules]; print(','.join(heavy))")
    here = str(Path(eegviz.__file__).resolve().parent.parent)  # this checkout's eegviz, not another install's
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == ""
