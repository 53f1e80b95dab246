"""Pickled THINGS-EEG2 files are read with an allow-list: genuine files load, code-running ones are refused."""

import codecs
import os
import pickle
import pickletools
import re
import time

import numpy as np
import pytest

from eegviz.data.safe_pickle import load_pickled
from eegviz.data.things_eeg2 import load_things_eeg2
from eegviz.errors import EegvizError

CH = [f"C{k}" for k in range(3)]
TIMES = np.round(np.arange(-2, 8) / 10.0, 2)


class RunsCode:
    """Unpickling this calls a builtin with an argument of the attacker's choosing."""

    def __init__(self, call, arg):
        self.call, self.arg = call, arg

    def __reduce__(self):
        return self.call, (self.arg,)


def _release_dict(extra=None):
    d = {"preprocessed_eeg_data": np.arange(2 * 2 * 3 * 10, dtype=np.float64).reshape(2, 2, 3, 10),
         "ch_names": CH, "times": TIMES}
    d.update(extra or {})
    return d


def _globals(path_or_bytes) -> set[str]:
    raw = path_or_bytes
    if not isinstance(raw, bytes):
        raw = open(path_or_bytes, "rb").read()
    if raw.startswith(b"\x93NUMPY"):
        raw = raw[10 + int.from_bytes(raw[8:10], "little"):] if raw[6] == 1 else raw[12 + int.from_bytes(raw[8:12], "little"):]
    out, strings = set(), []
    for op, arg, _ in pickletools.genops(raw):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            out.add(".".join(strings[-2:]))
        elif op.name == "GLOBAL":
            out.add(arg.replace(" ", "."))
    return out


@pytest.mark.parametrize("how", ["np.save", "pickle4", "pickle5", "pickle2", "numpy1-protocol3"])
def test_genuine_files_load(tmp_path, how):
    d = _release_dict({"scalar": np.float64(2.5), "names": np.array(["a", "bb"]),
                       "objects": np.array(["x", 1], dtype=object), "rec": np.zeros(2, [("a", "<i4"), ("b", "U3")])})
    path = tmp_path / "f.npy"
    if how == "np.save":
        np.save(path, d)
    elif how.startswith("pickle"):
        path.write_bytes(pickle.dumps(d, protocol=int(how[-1])))
    else:  # numpy 1.x wrote protocol 3 with the 'numpy.core' module names: text GLOBAL opcodes, easy to rename
        np.save(path, d)
        raw = path.read_bytes()
        header_end = 10 + int.from_bytes(raw[8:10], "little")
        payload = pickle.dumps(np.array(d, dtype=object), protocol=3).replace(b"numpy._core", b"numpy.core")
        path.write_bytes(raw[:header_end] + payload)
        assert any(g.startswith("numpy.core.") for g in _globals(path))
    obj = load_pickled(path)
    obj = obj.item() if isinstance(obj, np.ndarray) else obj
    for k, v in d.items():
        np.testing.assert_array_equal(obj[k], v)


def test_plain_npy_array_is_read_without_pickle(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(load_pickled(tmp_path / "a.npy"), np.arange(6.0).reshape(2, 3))


def _things_root(tmp_path, d, meta=None):
    root = tmp_path / "things"
    (root / "sub-01").mkdir(parents=True)
    for part in ("training", "test"):
        np.save(root / "sub-01" / f"preprocessed_eeg_{part}.npy", d)
    if meta is not None:
        np.save(root / "image_metadata.npy", meta)
    return root


@pytest.mark.parametrize("where", ["data", "metadata", "nice-pickle"])
def test_code_running_pickle_is_refused_and_never_runs(tmp_path, where):
    marker = tmp_path / "pwned"
    evil = RunsCode(exec, f"open({str(marker)!r}, 'w').write('ran')")
    if where == "data":
        root = _things_root(tmp_path, _release_dict({"payload": evil}))
    elif where == "metadata":
        root = _things_root(tmp_path, _release_dict(), meta={"train_img_concepts": evil})
    else:
        root = _things_root(tmp_path, _release_dict())
        with open(root / "sub-01" / "preprocessed_eeg_training.npy", "wb") as f:
            pickle.dump(_release_dict({"payload": RunsCode(os.system, f"touch {marker}")}), f)
    with pytest.raises(EegvizError) as err:
        load_things_eeg2(root)
    msg = str(err.value)
    assert not marker.exists()
    assert "\n" not in msg and "could run code" in msg
    assert ("builtins.exec" if where != "nice-pickle" else "system") in msg


def test_trust_unpickles_anything(tmp_path):
    """The escape hatch, as EEG-ImageNet's: trust=True reads objects the allow-list refuses."""
    import datetime

    root = _things_root(tmp_path, _release_dict({"recorded": datetime.date(2020, 1, 1)}))
    with pytest.raises(EegvizError, match="datetime.date"):
        load_things_eeg2(root)
    assert load_things_eeg2(root, trust=True).eeg.shape == (2 * 2 + 2 * 2, 3, 10)


def test_genuine_things_folder_still_loads(tmp_path):
    ds = load_things_eeg2(_things_root(tmp_path, _release_dict()))
    assert ds.eeg.shape == (8, 3, 10) and ds.ch_names == tuple(CH)


def test_a_genuine_text_protocol_pickle_of_a_large_array_loads(tmp_path):
    """Protocol 0 (Python 2's pickle.dump default) writes an array's bytes as one escaped line; the length check
    read at most 64 KB of a line and called every array larger than that a corrupt file."""
    d = _release_dict({"preprocessed_eeg_data": np.random.default_rng(0).normal(size=(2, 2, 3, 2000))})
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(d, protocol=0))
    np.testing.assert_array_equal(load_pickled(tmp_path / "p.pkl")["preprocessed_eeg_data"],
                                  d["preprocessed_eeg_data"])
    (tmp_path / "cut.pkl").write_bytes(pickle.dumps(d, protocol=0)[:100_000])  # cut inside that line
    with pytest.raises(EegvizError, match="corrupt"):
        load_pickled(tmp_path / "cut.pkl")


@pytest.mark.parametrize("raw", [b"", b"\x93NUMPY\x01\x00", b"\x80\x04garbage", b"PK\x03\x04zip", b"\x93NUMPY\x09\x00xx"])
def test_corrupt_files_are_one_line_errors(tmp_path, raw):
    (tmp_path / "x.npy").write_bytes(raw)
    with pytest.raises(EegvizError) as err:
        load_pickled(tmp_path / "x.npy")
    assert "\n" not in str(err.value) and "x.npy" in str(err.value)


def test_header_promising_more_data_than_the_file_holds(tmp_path):
    """A corrupt shape must be an error before numpy tries to allocate it."""
    from numpy.lib import format as npy_format

    with open(tmp_path / "a.npy", "wb") as f:
        npy_format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
        f.write(np.zeros(10).tobytes())
    with pytest.raises(EegvizError, match="corrupt.*promises"):
        load_pickled(tmp_path / "a.npy")


class _BadDtype:
    """Pickles as np.dtype('M8[D]') with the flags of an object dtype: numpy's own setstate segfaults on it."""

    def __reduce__(self):
        return np.dtype, ("M8", False, True), (4, "<", None, None, None, -1, -1, 63, (None, (b"D", 1, 1, 1)))


def test_inconsistent_dtype_state_is_refused_before_numpy_applies_it(tmp_path):
    (tmp_path / "d.pkl").write_bytes(pickle.dumps({"dt": _BadDtype()}))
    with pytest.raises(EegvizError, match="dtype has a state numpy would not write"):
        load_pickled(tmp_path / "d.pkl")


def test_length_past_the_end_is_refused_before_allocating(tmp_path):
    """A huge BYTEARRAY8 length: CPython 3.11's C unpickler corrupts memory on it; never handed over."""
    (tmp_path / "b.pkl").write_bytes(b"\x80\x05\x96" + (2**62).to_bytes(8, "little") + b"abc.")
    with pytest.raises(EegvizError, match="claims 4611686018427387904 bytes"):
        load_pickled(tmp_path / "b.pkl")


def _array_over_bytes(opcode: bytes) -> bytes:
    """A pickle that calls numpy.ndarray itself (REDUCE, NEWOBJ or NEWOBJ_EX) with an object dtype over bytes of
    the file's choosing: reading the result would follow those bytes as pointers. NULL pointers here, and the test
    never reads an element. Assembled from pickled pieces, as Python's pickler will not write NEWOBJ for ndarray."""
    def body(obj):  # a pickled piece without its protocol header, memo puts and STOP
        return pickletools.optimize(pickle.dumps(obj, protocol=2))[2:-1]

    args = ((2,), np.dtype("O"), bytes(16))
    if opcode == pickle.NEWOBJ_EX:
        return b"\x80\x02" + body(np.ndarray) + body(args) + body({}) + opcode + b"."
    return b"\x80\x02" + body(np.ndarray) + body(args) + opcode + b"."


@pytest.mark.parametrize("opcode", [pickle.REDUCE, pickle.NEWOBJ, pickle.NEWOBJ_EX], ids=["reduce", "newobj", "newobj_ex"])
def test_an_array_built_from_raw_bytes_is_refused(tmp_path, opcode):
    (tmp_path / "x.pkl").write_bytes(_array_over_bytes(opcode))
    with pytest.raises(EegvizError, match="builds a numpy array from raw bytes"):
        load_pickled(tmp_path / "x.pkl")


@pytest.mark.parametrize("protocol", range(6))
def test_builtins_pickle_calls_for_data_still_load(tmp_path, protocol):
    """What is left of the builtins, called as pickle calls them (protocols 0 to 3 call set, bytes, ...)."""
    import collections

    d = {"set": {1, 2}, "frozen": frozenset({"a"}), "bytes": b"\x00\xff", "empty": b"", "ba": bytearray(b"xy"),
         "eba": bytearray(), "complex": 1 + 2j, "slice": slice(1, 5, 2), "od": collections.OrderedDict(a=1)}
    (tmp_path / "d.pkl").write_bytes(pickle.dumps(d, protocol=protocol))
    assert load_pickled(tmp_path / "d.pkl") == d


@pytest.mark.parametrize("raw, refused", [
    (b"cbuiltins\nset\n(cbuiltins\nrange\n(I1000000000000\ntRtR.", "refused builtins.range"),  # set(range(10**12))
    (b"cbuiltins\nbytes\n(I2147483648\ntR.", "calls bytes(int)"),  # bytes(2**31)
    (b"cbuiltins\nbytearray\n(I2000000000\ntR.", "calls bytearray(int)"),
    (b"cbuiltins\nlist\n(cbuiltins\nrange\n(I1000000000000\ntRtR.", "refused builtins.list"),
], ids=["set-range", "bytes", "bytearray", "list-range"])
def test_a_tiny_pickle_cannot_exhaust_memory(tmp_path, raw, refused):
    """About 50 bytes each; the allow-list used to call them, taking gigabytes or never ending."""
    (tmp_path / "bomb.npy").write_bytes(raw)
    start = time.perf_counter()
    with pytest.raises(EegvizError) as err:
        load_pickled(tmp_path / "bomb.npy")
    assert time.perf_counter() - start < 5
    assert refused in str(err.value) and "\n" not in str(err.value)


class _Reduced:
    """Pickles as the call func(*args), then BUILD with `state` when one is given."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


_RECONSTRUCT = np.zeros(0).__reduce__()[0]  # numpy's _reconstruct, which its own array pickles call


@pytest.mark.parametrize("obj, message", [
    # hex doubles what it is given, so nested calls grow a file's bytes exponentially
    (_Reduced(codecs.encode, (b"ab", "hex")), "calls _codecs.encode other than on text with latin1"),
    # numpy writes (0,) here; any other shape is allocated (zero-filled for objects) before anything is checked
    (_Reduced(_RECONSTRUCT, (np.ndarray, (10**6,), b"O")), "starts an array of shape (1000000,)"),
    # itemsize 0: 10**12 elements from no data at all
    (_Reduced(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (10**12,), np.dtype("V0"), False, b"")),
     "a pickled array has a state numpy would not write"),
    # an object array with fewer list items than its shape: numpy's own setstate crashes the interpreter on it
    (_Reduced(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (10,), np.dtype("O"), False, [1])),
     "a pickled array has a state numpy would not write"),
    # one element of a huge object sub-array: one list item in the file, 80 MB (10**10: the OOM killer) in memory
    (_Reduced(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (1,), np.dtype([("a", "O", (10**7,))]), False,
                                                         [((None,),)])),
     "a pickled array has a state numpy would not write"),
], ids=["codec-chain", "reconstruct-shape", "itemsize-0", "short-object-list", "object-subarray"])
def test_allowed_calls_take_only_what_pickle_and_numpy_write(tmp_path, obj, message):
    (tmp_path / "x.pkl").write_bytes(pickle.dumps({"a": obj}, protocol=2))
    with pytest.raises(EegvizError, match=re.escape(message)):
        load_pickled(tmp_path / "x.pkl")


def _retyped_array(second_state_first: bool = False) -> bytes:
    """A pickle that makes a plain 8-byte void dtype, builds an array of the file's bytes with it, and then applies
    the state numpy writes for [('a', 'O')] to that same dtype object: the array's bytes would become an object
    pointer (NULL here, so that even a loader without the check only holds None). With second_state_first the
    dtype gets its own (plain V8) state first and the object state as a second one, before any array uses it."""
    def body(obj):  # a pickled piece without its protocol header, memo puts and STOP
        return pickletools.optimize(pickle.dumps(obj, protocol=2))[2:-1]

    def text(s):
        return b"X" + len(s).to_bytes(4, "little") + s.encode()

    void = b"cnumpy\ndtype\n" + text("V8") + pickle.NEWFALSE + pickle.NEWTRUE + pickle.TUPLE3 + pickle.REDUCE
    void += b"q\x00"  # BINPUT 0: the dtype object, fetched again below
    if second_state_first:
        void += body(np.dtype("V8").__reduce__()[2]) + pickle.BUILD
    to_object = b"h\x00" + body(np.dtype([("a", "O")]).__reduce__()[2]) + pickle.BUILD + pickle.POP
    def array(dtype: bytes) -> bytes:  # _frombuffer(8 bytes of the file, dtype, (1,), "C")
        return b"cnumpy._core.numeric\n_frombuffer\n(C\x08" + bytes(8) + dtype + body((1,)) + text("C") + b"tR"

    if second_state_first:
        return b"\x80\x02" + void + pickle.POP + to_object + array(b"h\x00") + b"."
    return b"\x80\x02" + array(void) + to_object + b"."


@pytest.mark.parametrize("second_state_first", [False, True], ids=["after-use", "twice"])
def test_a_dtype_cannot_be_retyped_once_it_is_set_or_used(tmp_path, second_state_first):
    """Found by review: each state alone is what numpy writes, but a dtype's state is set once, before use."""
    raw = _retyped_array(second_state_first)
    assert {"numpy.dtype", "numpy._core.numeric._frombuffer"} == _globals(raw)  # both on the allow-list
    (tmp_path / "r.pkl").write_bytes(raw)
    with pytest.raises(EegvizError, match="state of a dtype that is already set or in use"):
        load_pickled(tmp_path / "r.pkl")


def test_a_dtype_shared_across_the_process_is_never_handed_to_the_file(tmp_path):
    """np.dtype('f8', False, False) is numpy's own float64 instance, every float array's; numpy writes copy=True."""
    raw = b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00f8" + pickle.NEWFALSE + pickle.NEWFALSE + pickle.TUPLE3 + b"R."
    (tmp_path / "s.pkl").write_bytes(raw)
    with pytest.raises(EegvizError, match="makes a dtype other than as numpy writes it"):
        load_pickled(tmp_path / "s.pkl")
