"""Reading pickled numpy containers (np.save of a dict, pickle.dump of one) without letting them run code.

Unpickling calls whatever callable the file names, so np.load(allow_pickle=True) on a downloaded file is code
execution by whoever made the file. Datasets such as THINGS-EEG2 are nevertheless released as pickled dicts of
arrays, so this module unpickles them with an allow-list: the few numpy functions and types that rebuild arrays,
dtypes and scalars (under numpy 2's `numpy._core` and numpy 1's `numpy.core` module names alike), plus the few
builtins pickle calls for data (sets, bytes, complex numbers). The list was taken from pickletools.dis of np.save'd
and pickle.dump'ed dicts of arrays (protocols 2 to 5, object and structured arrays included). Any other global
ends the load with an EegvizError naming it; nothing the file names is imported or called first.

Two more checks keep corrupt files (not only crafted ones) from crashing the interpreter, both found by
fuzzing (tests/data/test_fuzz.py): every length-prefixed opcode is checked against the file size before the
unpickler sees it, and every pickled dtype state must equal the state numpy itself writes for that dtype.
A third, found by review: numpy.ndarray is allowed as an argument (numpy's own pickles pass it to
_reconstruct) but never as a callable, since ndarray(shape, object dtype, buffer=file bytes) is an array of
pointers the file chose. And, also from review (a 52-byte file asking set(range(10**12))): no call may cost
memory the file does not hold, so each allowed callable takes only the arguments pickle and numpy write for
data, and every pickled array state is checked as the dtype states are. Last, from review: a dtype's state is
set once, on the dtype the pickle has just made, before anything uses it. numpy's pickles always do so, and a
second state applied later (np.dtype.__setstate__ on a dtype an array already has) would turn the array's bytes,
which the file chose, into object pointers: a plain V8 array re-typed as [('a', 'O')].

A .npy file is parsed with numpy.lib.format (magic, header); a non-object array is read with
allow_pickle=False, an object array's payload goes through the restricted unpickler. Anything that is not a
.npy file is read as a plain pickle the same way.
"""

from __future__ import annotations

import collections
import math
import os
import pickle
import pickletools
import warnings
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from eegviz.errors import EegvizError, one_line

NPY_MAGIC = b"\x93NUMPY"

# (module, name) pairs a pickled array/dtype/scalar needs, with numpy 1.x 'numpy.core' mapped onto 'numpy._core'.
_NUMPY = {
    ("numpy._core.multiarray", "_reconstruct"),  # ndarray.__reduce__ (protocols < 5)
    ("numpy._core.multiarray", "scalar"),  # numpy scalars (np.float64(1.0), ...)
    ("numpy._core.numeric", "_frombuffer"),  # ndarray.__reduce_ex__(5)
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


def _takes(kind: type, data: tuple[type, ...]):
    """`kind` (set, bytes, ...) as pickle calls it: on nothing, or on the data it copies, of a type in `data`.
    Any other argument can cost memory the file does not hold: bytes(2**31) and bytearray(2**31) allocate 2 GB,
    set(range(10**12)) never ends, each from a pickle of about 50 bytes."""
    def call(*args):
        if args and not isinstance(args[0], data):
            raise pickle.UnpicklingError(f"the pickle calls {kind.__name__}({type(args[0]).__name__}), which "
                                         "pickle never writes (crafted file)")
        return kind(*args)

    return call


def _latin1(text: object, encoding: object) -> bytes:
    """_codecs.encode as protocol 2 calls it for bytes: on a str, with latin1. Other codecs (hex, base64) grow
    what they are given, and a chain of calls would grow it exponentially."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("the pickle calls _codecs.encode other than on text with latin1, which pickle "
                                     "never writes (crafted file)")
    return text.encode("latin1")


def _empty_array(subtype, shape, dtype):
    """numpy's _reconstruct as numpy's own pickles call it: every array starts empty and __setstate__ (BUILD)
    fills it. Any other shape is allocated before anything is checked (10**9 objects: 8 GB of zeros)."""
    if shape != (0,):
        raise pickle.UnpicklingError(f"the pickle starts an array of shape {shape!r:.40}, where numpy writes (0,) "
                                     "(crafted file)")
    return _numpy_global("numpy._core.multiarray", "_reconstruct")(subtype, shape, dtype)


# The builtins pickle calls for data (protocols 2 and 3: sets, bytes, bytearrays; complex; slice), by name. No
# others: int, str, list, range and the rest are never called by a pickle of data, and some can be made to
# allocate without bound (list(range(10**12)); str() of a list holding one long string many times).
_BUILTINS = {"complex": complex, "slice": slice, "set": _takes(set, (list, tuple)),
             "frozenset": _takes(frozenset, (list, tuple)), "bytes": _takes(bytes, (bytes, bytearray, str)),
             "bytearray": _takes(bytearray, (bytes, bytearray, str))}
_OTHER = {
    ("_codecs", "encode"): _latin1,  # how protocol 2 rebuilds bytes (bytes are data, codecs do not run user code)
    ("collections", "OrderedDict"): collections.OrderedDict,
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


def _dtype_from_state(inst: np.dtype, state: tuple) -> np.dtype:
    """The dtype numpy's public constructor builds from what `state` (a pickled dtype's __setstate__ argument)
    describes: byte order, sub-array, fields, size, datetime unit."""
    byteorder, sub, names, fields, elsize, _align, flags = state[1:8]
    if sub is not None:
        base, shape = sub
        return np.dtype((base, shape))
    if names is not None:
        spec = {"names": list(names), "formats": [fields[n][0] for n in names],
                "offsets": [fields[n][1] for n in names], "itemsize": elsize}
        titles = [fields[n][2] if len(fields[n]) > 2 else None for n in names]
        if any(t is not None for t in titles):
            spec["titles"] = titles
        return np.dtype(spec, align=bool(flags & 0x80))  # 0x80: NPY_ALIGNED_STRUCT
    order = byteorder if byteorder in "<>" else "|"
    if inst.kind in "mM":
        unit, count = state[8][1][:2]
        unit = unit.decode("ascii") if isinstance(unit, bytes) else str(unit)
        return np.dtype(f"{order}{inst.char}8" + ("" if unit == "generic" else f"[{count}{unit}]"))
    if inst.kind in "USV":
        return np.dtype(f"{order}{inst.char}{elsize // 4 if inst.kind == 'U' else elsize}")
    return np.dtype(inst.str[1:]).newbyteorder(order) if order != "|" else np.dtype(inst.str)


def _check_dtype_state(inst: np.dtype, state: object) -> None:
    """Refuse a pickled dtype state unless it is exactly what numpy writes for the dtype it describes.

    np.dtype.__setstate__ takes flags, sizes and alignment from the file as they are, and a state numpy would
    never write can crash the interpreter (one flipped bit in the flags of a datetime dtype does) or make
    numpy read file bytes as object pointers. So the state is compared, before it is applied, with the state
    of the dtype rebuilt through numpy's public constructor from the same description.
    """
    try:
        ok = (isinstance(state, tuple) and len(state) in (8, 9)
              and _dtype_from_state(inst, state).__reduce__()[2] == state)
    except Exception:
        ok = False
    if not ok:
        raise pickle.UnpicklingError("a pickled dtype has a state numpy would not write (corrupt or crafted file)")


def _check_array_state(state: object, max_elements: int) -> None:
    """Refuse a pickled array state unless it is shaped as numpy writes it: (version, shape, dtype, fortran,
    data), with one list item per element when the dtype holds objects, and at most `max_elements` elements.

    numpy's __setstate__ takes an object array's elements from the list without checking its length (a list
    shorter than the shape crashes the interpreter), and a dtype of itemsize 0 needs no data at all, so a few
    bytes could make an array of 10**12 elements for a loader to iterate. Each element numpy writes costs the
    file a byte at least, so the file's size bounds them; and each 8 bytes of memory too (a number's bytes are in
    the file, an object pointer's object costs it a byte at least), which an element of an object sub-array
    dtype would escape: one list item, 10**8 pointers (found by review: 287 bytes, 800 MB).
    """
    try:
        shape, dtype, _fortran, data = state[-4:]
        n = math.prod(shape) if all(isinstance(k, int) and k >= 0 for k in shape) else -1
        ok = (isinstance(state, tuple) and len(state) in (4, 5) and isinstance(dtype, np.dtype)
              and 0 <= n <= max_elements and n * dtype.itemsize <= 8 * max_elements
              and (not dtype.hasobject or (isinstance(data, list) and len(data) == n)))
    except Exception:
        ok = False
    if not ok:
        raise pickle.UnpicklingError("a pickled array has a state numpy would not write (corrupt or crafted file)")


class RestrictedUnpickler(pickle._Unpickler):
    """Unpickler that resolves only the allow-listed globals (else RefusedGlobal) and checks every rebuilt dtype.

    The pure-Python unpickler, so that BUILD can be checked: the C one applies __setstate__ out of reach. The
    cost is small for these files: their bulk is a few large byte strings, which are read, not interpreted.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, fp, max_elements: int, **kwargs):
        super().__init__(fp, **kwargs)
        self.max_elements = max_elements
        self._unset: dict[int, np.dtype] = {}

    def find_class(self, module: str, name: str):
        if module in ("builtins", "__builtin__"):  # Python 2 pickles say __builtin__
            if name in _BUILTINS:
                return _BUILTINS[name]
        elif (module, name) in _OTHER:
            return _OTHER[(module, name)]
        else:
            obj = _numpy_global(module, name)
            if obj is np.dtype:
                return self._new_dtype
            if obj is np.ndarray:  # an argument only (see load_reduce)
                return obj
            if obj is not None:  # _reconstruct, _frombuffer, scalar: they build arrays and scalars of a dtype
                return self._using_dtypes(_empty_array if name == "_reconstruct" else obj)
        raise RefusedGlobal(module, name)

    # A dtype's state may be set once, right after the pickle made it, before anything uses it (module docstring).
    # _unset holds the dtypes made in this load whose state may still be set, by id (the objects are kept alive
    # by the unpickler's memo and stack, and by the dict itself).
    def _new_dtype(self, *args):
        """np.dtype as numpy's pickles call it: (type string, align, copy=True), so the result is a new object.
        copy=False would hand back numpy's own shared instance (np.dtype('f8') of every array in the process),
        whose state the file must never set."""
        if len(args) != 3 or args[2] != 1:  # True == 1: numpy 2 writes True, Python 2 era pickles 1
            raise pickle.UnpicklingError("the pickle makes a dtype other than as numpy writes it (crafted file)")
        dt = np.dtype(*args)
        self._unset[id(dt)] = dt
        return dt

    def _use(self, obj) -> None:
        """From now on `obj`'s dtypes (a dtype, its fields' and sub-array's, or a dtype state's) are in use:
        their state can no longer be set."""
        if isinstance(obj, np.dtype):
            self._unset.pop(id(obj), None)
            for field in (obj.fields or {}).values():
                self._use(field[0])
            if obj.subdtype is not None:
                self._use(obj.subdtype[0])
        elif isinstance(obj, (tuple, list)):
            for x in obj:
                self._use(x)
        elif isinstance(obj, dict):
            for x in obj.values():
                self._use(x)

    def _using_dtypes(self, fn):
        """`fn` (a numpy callable that builds an array or scalar), marking the dtypes it is given as in use."""
        def call(*args):
            self._use(args)
            return fn(*args)
        return call

    def load_build(self):
        if len(self.stack) >= 2 and isinstance(self.stack[-2], np.dtype):
            dt, state = self.stack[-2], self.stack[-1]
            if self._unset.pop(id(dt), None) is None:
                raise pickle.UnpicklingError("the pickle sets the state of a dtype that is already set or in use "
                                             "(crafted file)")
            _check_dtype_state(dt, state)
            self._use(state)
        elif len(self.stack) >= 2 and isinstance(self.stack[-2], np.ndarray):
            _check_array_state(self.stack[-1], self.max_elements)
            self._use(self.stack[-1][-3])  # the array's dtype (its elements' own dtypes do not type its memory)
        super().load_build()

    # numpy.ndarray is on the allow-list only as the argument numpy's own pickles hand to _reconstruct. Called
    # itself (REDUCE, NEWOBJ, NEWOBJ_EX), its `buffer` argument makes an array of any dtype over the file's bytes:
    # an object array whose pointers are whatever the file says, which crashes the interpreter when read.
    def load_reduce(self):
        _refuse_array_call(self.stack[-2] if len(self.stack) >= 2 else None)
        super().load_reduce()

    def load_newobj(self):
        _refuse_array_call(self.stack[-2] if len(self.stack) >= 2 else None)
        super().load_newobj()

    def load_newobj_ex(self):
        _refuse_array_call(self.stack[-3] if len(self.stack) >= 3 else None)
        super().load_newobj_ex()

    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex


def _refuse_array_call(func) -> None:
    if isinstance(func, type) and issubclass(func, np.ndarray):
        raise pickle.UnpicklingError("the pickle builds a numpy array from raw bytes itself, which numpy never "
                                     "writes (crafted file)")


def _size(fp) -> int:
    """Bytes in the file (or BytesIO) `fp` reads."""
    return os.fstat(fp.fileno()).st_size if hasattr(fp, "fileno") else len(fp.getbuffer())


def _check_lengths(fp) -> None:
    """Walk the pickle's opcodes, skipping (not reading) their data, and raise ValueError if an opcode is unknown
    or a length-prefixed argument runs past the end of the file.

    Why: a corrupt length makes the C unpickler try to allocate it (gigabytes from one flipped bit), and on a
    huge BYTEARRAY8 length CPython 3.11's _pickle even corrupts memory (SystemError, then a segfault). Checking
    lengths against the file size first turns both into an ordinary error, at the cost of one pass of seeks.
    """
    start = fp.tell()
    end = _size(fp)
    sizes = {pickletools.TAKEN_FROM_ARGUMENT1: (1, False), pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
             pickletools.TAKEN_FROM_ARGUMENT4U: (4, False), pickletools.TAKEN_FROM_ARGUMENT8U: (8, False)}

    def take(n: int) -> bytes:
        if fp.tell() + n > end:
            raise ValueError(f"pickle data truncated at byte {fp.tell()}")
        return fp.read(n)

    while True:
        code = take(1)
        op = pickletools.code2op.get(code.decode("latin1"))
        if op is None:
            raise ValueError(f"unknown pickle opcode {code!r} at byte {fp.tell() - 1}")
        if op.name == "STOP":
            break
        arg = op.arg
        if arg is None:
            continue
        if arg.n >= 0:
            take(arg.n)
        elif arg.n == pickletools.UP_TO_NEWLINE:
            for _ in range(2 if arg.name == "stringnl_noescape_pair" else 1):
                # a piece at a time, to the line's end: protocol 0 (Python 2's default) writes an array's bytes as
                # one escaped line, and a line cut at 64 KB called every genuine array larger than that corrupt
                piece = fp.readline(1 << 16)
                while piece and not piece.endswith(b"\n"):
                    piece = fp.readline(1 << 16)
                if not piece:
                    raise ValueError(f"pickle data truncated or corrupt in {op.name} at byte {fp.tell()}")
        else:
            width, signed = sizes[arg.n]
            n = int.from_bytes(take(width), "little", signed=signed)
            if n < 0 or fp.tell() + n > end:
                raise ValueError(f"{op.name} at byte {fp.tell() - width - 1} claims {n} bytes; "
                                 f"only {end - fp.tell()} remain")
            fp.seek(n, os.SEEK_CUR)
    fp.seek(start)


def _unpickle(fp, path: Path, what: str):
    _check_lengths(fp)
    try:
        with warnings.catch_warnings():  # numpy's deprecation notes about a corrupt file's odd arguments
            warnings.simplefilter("ignore")
            # latin1: numpy arrays pickled by Python 2 hold their buffers as str (numpy's own advice for them)
            return RestrictedUnpickler(fp, max_elements=_size(fp), encoding="latin1").load()
    except RefusedGlobal as e:
        raise EegvizError(f"{what} {path} holds pickled objects that could run code when loaded (refused "
                          f"{e.qualname}); only numpy arrays, dicts, lists, strings and numbers are read") from None


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
        raise EegvizError(f"{what} {path} is corrupt or not a .npy/pickle file ({one_line(e)})") from None
