"""Reading pickled numpy containers (np.save of a dict, pickle.dump of one) without letting them run code.

Unpickling calls whatever callable the file names, so np.load(allow_pickle=True) on a downloaded file is code
execution by whoever made the file. Datasets such as THINGS-EEG2 are nevertheless released as pickled dicts of
arrays, so this module unpickles them with an allow-list: the few numpy functions and types that rebuild arrays,
dtypes and scalars (under numpy 2's `numpy._core` and numpy 1's `numpy.core` module names alike), plus builtin
containers and numbers. The list was taken from pickletools.dis of np.save'd and pickle.dump'ed dicts of
arrays (protocols 2 to 5, object and structured arrays included). Any other global ends the load with an
EegvizError naming it; nothing the file names is imported or called first.

A .npy file is parsed with numpy.lib.format (magic, header); a non-object array is read with
allow_pickle=False, an object array's payload goes through the restricted unpickler. Anything that is not a
.npy file is read as a plain pickle the same way.
"""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from eegviz.errors import EegvizError

NPY_MAGIC = b"\x93NUMPY"

# (module, name) pairs a pickled array/dtype/scalar needs, with numpy 1.x 'numpy.core' mapped onto 'numpy._core'.
_NUMPY = {
    ("numpy._core.multiarray", "_reconstruct"),  # ndarray.__reduce__ (protocols < 5)
    ("numpy._core.multiarray", "scalar"),  # numpy scalars (np.float64(1.0), ...)
    ("numpy._core.numeric", "_frombuffer"),  # ndarray.__reduce_ex__(5)
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}
_BUILTINS = {"complex", "set", "frozenset", "bytearray", "slice", "range", "bool", "int", "float", "str", "bytes",
             "list", "tuple", "dict"}
_OTHER = {
    ("_codecs", "encode"),  # how protocol 2 rebuilds bytes (bytes are data, codecs do not run user code)
    ("collections", "OrderedDict"),
}


def _numpy_global(module: str, name: str):
    """The numpy object (module, name) refers to, found without importing modules the file names."""
    if module.startswith("numpy.core"):  # pickled by numpy 1.x; numpy 2 keeps these in numpy._core
        module = "numpy._core" + module[len("numpy.core"):]
    if (module, name) not in _NUMPY:
        return None
    if module == "numpy":
        return getattr(np, name)
    try:
        from numpy._core import multiarray, numeric  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric
    return getattr(multiarray if module.endswith("multiarray") else numeric, name)


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list."""

    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.qualname = f"{module}.{name}"


class RestrictedUnpickler(pickle.Unpickler):
    """pickle.Unpickler that resolves only the allow-listed globals; anything else raises RefusedGlobal."""

    def find_class(self, module: str, name: str):
        if module in ("builtins", "__builtin__"):  # Python 2 pickles say __builtin__
            if name in _BUILTINS:
                return getattr(__import__("builtins"), name)
        elif (module, name) in _OTHER:
            return super().find_class(module, name)
        else:
            obj = _numpy_global(module, name)
            if obj is not None:
                return obj
        raise RefusedGlobal(module, name)


def _unpickle(fp, path: Path, what: str):
    try:
        # latin1: numpy arrays pickled by Python 2 hold their buffers as str (numpy's own advice for them)
        return RestrictedUnpickler(fp, encoding="latin1").load()
    except RefusedGlobal as e:
        raise EegvizError(f"{what} {path} holds pickled objects that could run code when loaded (refused "
                          f"{e.qualname}); only numpy arrays, dicts, lists, strings and numbers are read") from None


def _one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())[:200]


def load_pickled(path: str | Path, what: str = "file") -> object:
    """The object in a .npy file (np.save, pickled or not) or a plain pickle file, read without running code.

    Errors are EegvizError with one line: a missing file, a refused global, or a file that is corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise EegvizError(f"{what} {path} does not exist")
    try:
        with open(path, "rb") as f:
            head = f.read(len(NPY_MAGIC))
            f.seek(0)
            if head != NPY_MAGIC:
                return _unpickle(f, path, what)
            major, _minor = npy_format.read_magic(f)
            if major == 1:
                shape, fortran, dtype = npy_format.read_array_header_1_0(f)
            elif major in (2, 3):
                shape, fortran, dtype = npy_format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy format version {major}")
            if not dtype.hasobject:
                need = math.prod(shape) * dtype.itemsize
                have = os.fstat(f.fileno()).st_size - f.tell()
                if need > have:  # checked first: a corrupt header must not make numpy allocate its shape
                    raise ValueError(f"header promises {need} bytes of {dtype} data, the file holds {have}")
                f.seek(0)
                return npy_format.read_array(f, allow_pickle=False)
            # np.save pickles the object array itself: a saved dict comes back as a 0-d object array around it
            return _unpickle(f, path, what)
    except EegvizError:
        raise
    except Exception as e:  # corrupt or foreign files: UnpicklingError, EOFError, ValueError, MemoryError, ...
        raise EegvizError(f"{what} {path} is corrupt or not a .npy/pickle file ({_one_line(e)})") from None
