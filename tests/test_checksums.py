"""Tests for chunked_upload.engine.checksums (no Django needed)."""

from __future__ import annotations

import array
import hashlib
import itertools
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunked_upload.engine import checksums
from chunked_upload.engine.checksums import (
    SHA256_BACKEND,
    Sha256State,
    crc32,
    crc32_combine,
    format_crc,
    parse_crc,
)

_PY = checksums._PySha256
_RH = checksums._RehashesSha256
HAVE_REHASHES = SHA256_BACKEND == "rehashes"
BACKENDS = [
    _PY,
    pytest.param(_RH, marks=pytest.mark.skipif(not HAVE_REHASHES, reason="no rehashes")),
]
AVAILABLE: list[type[Sha256State]] = [_PY, _RH] if HAVE_REHASHES else [_PY]
crc_values = st.integers(0, 0xFFFFFFFF)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Split *data* at the given (unsorted, possibly repeated) positions."""
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# ------------------------------------------------------------------------ CRC-32


@given(st.binary(max_size=2000), crc_values)
def test_crc32_matches_zlib(data: bytes, value: int) -> None:
    assert crc32(data, value) == zlib.crc32(data, value)
    assert crc32(bytearray(data), value) == zlib.crc32(data, value)
    assert crc32(memoryview(b"xx" + data)[2:], value) == zlib.crc32(data, value)


def test_crc32_default_and_range() -> None:
    assert crc32(b"") == 0
    assert crc32(b"123456789") == 0xCBF43926
    with pytest.raises(ValueError):
        crc32(b"", -1)
    with pytest.raises(ValueError):
        crc32(b"", 1 << 32)


@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=4))
def test_crc32_combine(data: bytes, cuts: list[int]) -> None:
    running = 0
    for part in _split(data, cuts):
        running = crc32_combine(running, zlib.crc32(part), len(part))
    assert running == zlib.crc32(data)


@given(crc_values, crc_values, st.integers(0, 1 << 70))
def test_crc32_combine_linear(a: int, b: int, n: int) -> None:
    # combining with an empty part is the identity; huge lengths stay cheap
    assert crc32_combine(a, 0, 0) == a
    assert crc32_combine(a, b, n) ^ crc32_combine(a, 0, n) == b


def test_crc32_combine_large_length() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    whole = zlib.crc32(data * 3)
    assert crc32_combine(zlib.crc32(data), zlib.crc32(data * 2), 2 * len(data)) == whole
    with pytest.raises(ValueError):
        crc32_combine(0, 0, -1)
    with pytest.raises(ValueError):
        crc32_combine(1 << 32, 0, 1)


@given(crc_values)
def test_format_parse_round_trip(value: int) -> None:
    text = format_crc(value)
    assert text == text.upper()
    assert text == "0" or not text.startswith("0")
    assert parse_crc(text) == value
    assert parse_crc(f"  {value:08x}\n") == value


def test_format_parse_examples() -> None:
    assert format_crc(0) == "0"
    assert format_crc(0x3F2B1C0) == "3F2B1C0"
    assert format_crc(0xFFFFFFFF) == "FFFFFFFF"
    assert parse_crc("3F2B1C0") == parse_crc("03F2B1C0") == parse_crc("3f2b1c0")
    assert parse_crc(" 0 ") == 0
    with pytest.raises(ValueError):
        format_crc(-1)
    with pytest.raises(ValueError):
        format_crc(1 << 32)


@pytest.mark.parametrize(
    "text", ["", "  ", "123456789", "xyz", "-1", "+1", "0x1", "1_0", "1 2", "١٢"]
)
def test_parse_crc_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_crc(text)


# ----------------------------------------------------------------------- SHA-256


def test_default_backend() -> None:
    state = Sha256State()
    assert isinstance(state, Sha256State)
    assert type(state) is (_RH if HAVE_REHASHES else _PY)
    assert isinstance(Sha256State(state.to_bytes()), type(state))


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000])
def test_known_lengths(cls: type[Sha256State], size: int) -> None:
    data = bytes(i * 7 % 251 for i in range(size))
    state = cls()
    state.update(data)
    assert state.hexdigest() == hashlib.sha256(data).hexdigest()
    assert state.digest() == hashlib.sha256(data).digest()
    assert state.length == size


@pytest.mark.parametrize("cls", BACKENDS)
def test_buffer_types(cls: type[Sha256State]) -> None:
    data = bytes(range(256)) * 5
    ints = array.array("I", range(100))
    inputs = [
        bytearray(data),
        memoryview(data),
        memoryview(b"ab" + data + b"cd")[2:-2],  # read-only slice with an offset
        memoryview(bytearray(b"ab" + data))[2:],  # writable slice
        memoryview(data).cast("I"),  # multi-byte items: hashed as raw bytes
    ]
    for item in inputs:
        state = cls()
        state.update(item)
        assert state.hexdigest() == hashlib.sha256(data).hexdigest()
    state = cls()
    state.update(ints)
    assert state.hexdigest() == hashlib.sha256(ints.tobytes()).hexdigest()
    state = cls()
    state.update(memoryview(data)[::2])  # non-contiguous: hashed in logical order
    assert state.hexdigest() == hashlib.sha256(data[::2]).hexdigest()
    state = cls()
    state.update(memoryview(data)[::-1])  # the whole object, backwards: still logical order
    assert state.hexdigest() == hashlib.sha256(data[::-1]).hexdigest()
    with pytest.raises(TypeError):
        state.update("text")  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=700),
    st.lists(st.integers(0, 700), max_size=6),
    st.lists(st.booleans(), min_size=7, max_size=7),
)
def test_split_resume_interchangeable(data: bytes, cuts: list[int], use_python: list[bool]) -> None:
    """Arbitrary splits, serialised after each piece, resumed by either backend."""
    classes = [_PY if flag or not HAVE_REHASHES else _RH for flag in use_python]
    saved = classes[0]().to_bytes()
    hashed = 0
    for i, part in enumerate(_split(data, cuts)):
        state = classes[i % len(classes)](saved)
        assert state.length == hashed
        state.update(part)
        hashed += len(part)
        saved = state.to_bytes()
        assert len(saved) == 41 + hashed % 64
    expected = hashlib.sha256(data).hexdigest()
    for cls in AVAILABLE:
        final = cls(saved)
        assert final.hexdigest() == expected
        assert final.to_bytes() == saved


@pytest.mark.skipif(not HAVE_REHASHES, reason="no rehashes")
@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_backends_produce_identical_states(head: bytes, tail: bytes) -> None:
    py, ssl = _PY(), _RH()
    for state in (py, ssl):
        state.update(head)
    assert py.to_bytes() == ssl.to_bytes()
    for state in (py, ssl):
        state.update(tail)
    assert py.to_bytes() == ssl.to_bytes()
    assert py.hexdigest() == ssl.hexdigest() == hashlib.sha256(head + tail).hexdigest()


@pytest.mark.parametrize("cls", BACKENDS)
def test_hexdigest_and_copy_do_not_disturb(cls: type[Sha256State]) -> None:
    state = cls()
    state.update(b"a" * 100)
    before = state.to_bytes()
    assert state.hexdigest() == hashlib.sha256(b"a" * 100).hexdigest()
    assert state.hexdigest() == hashlib.sha256(b"a" * 100).hexdigest()
    assert state.to_bytes() == before
    clone = state.copy()
    assert type(clone) is cls
    clone.update(b"b")
    assert state.to_bytes() == before
    state.update(b"c")
    assert clone.hexdigest() == hashlib.sha256(b"a" * 100 + b"b").hexdigest()
    assert state.hexdigest() == hashlib.sha256(b"a" * 100 + b"c").hexdigest()
    assert state.length == clone.length == 101
    assert "length=101" in repr(state)


@pytest.mark.parametrize("cls", BACKENDS)
def test_state_accepts_bytes_like(cls: type[Sha256State]) -> None:
    state = cls()
    state.update(b"x" * 70)
    saved = state.to_bytes()
    for raw in (bytearray(saved), memoryview(saved)):
        assert cls(raw).hexdigest() == hashlib.sha256(b"x" * 70).hexdigest()


def _valid_state(length: int) -> bytes:
    state = _PY()
    state.update(b"q" * length)
    return state.to_bytes()


BAD_STATES = [
    b"",
    b"\x01",
    _valid_state(0)[:-1],
    _valid_state(70) + b"x",  # pending block longer than length % 64
    _valid_state(70)[:-1],  # pending block shorter
    b"\x02" + _valid_state(0)[1:],  # unknown version
    b"\x00" + _valid_state(0)[1:],
    _valid_state(10)[:1] + b"\0" * 32 + _valid_state(10)[33:],  # h != IV before a block
    struct.pack(">B8IQ", 1, *checksums._IV, 1 << 61),
]


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("bad", BAD_STATES)
def test_bad_states_rejected(cls: type[Sha256State], bad: bytes) -> None:
    with pytest.raises(ValueError):
        cls(bad)


@pytest.mark.parametrize("cls", BACKENDS)
def test_state_type_checked(cls: type[Sha256State]) -> None:
    with pytest.raises(TypeError):
        cls(_valid_state(3).hex())  # type: ignore[arg-type]


@pytest.mark.skipif(not HAVE_REHASHES, reason="no rehashes")
def test_rehashes_large_update_matches_hashlib() -> None:
    data = bytes(range(256)) * 40000 + b"tail"  # ~10 MB, odd length
    state = _RH()
    state.update(memoryview(data)[3:])
    state.update(bytearray(data))
    assert state.length == 2 * len(data) - 3
    assert state.hexdigest() == hashlib.sha256(data[3:] + data).hexdigest()
    resumed = _PY(state.to_bytes())
    resumed.update(b"!")
    assert resumed.hexdigest() == hashlib.sha256(data[3:] + data + b"!").hexdigest()


@pytest.mark.skipif(not HAVE_REHASHES, reason="no rehashes")
def test_rehashes_gets_a_whole_read_itself_and_a_copy_of_anything_else() -> None:
    class Recording:
        """Stands in for the rehashes hasher, keeping what it is handed."""

        def __init__(self, hasher) -> None:
            self.hasher, self.handed = hasher, []

        def update(self, data: bytes) -> None:
            self.handed.append(data)
            self.hasher.update(data)

        def serialize(self) -> bytes:
            return self.hasher.serialize()

    read = bytes(range(256)) * 8  # one read of the body, as the parser views it
    state = _RH()
    state._hasher = recording = Recording(state._hasher)
    state.update(memoryview(read))  # the whole read: no copy
    state.update(memoryview(read)[5:])  # a part of it: rehashes takes bytes only
    assert recording.handed[0] is read
    assert type(recording.handed[1]) is bytes and recording.handed[1] == read[5:]
    assert state.hexdigest() == hashlib.sha256(read + read[5:]).hexdigest()


FALLBACK_SCRIPT = """
import hashlib, sys

sys.modules["rehashes"] = None  # simulated: not installed
from chunked_upload.engine import checksums as c

assert c.SHA256_BACKEND == "python", c.SHA256_BACKEND
state = c.Sha256State()
assert type(state) is c._PySha256
state.update(b"abc" * 50)
assert state.hexdigest() == hashlib.sha256(b"abc" * 50).hexdigest()
print(state.to_bytes().hex())
"""


def test_fallback_when_rehashes_missing() -> None:
    root = Path(checksums.__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", FALLBACK_SCRIPT],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    saved = bytes.fromhex(result.stdout.strip())
    for cls in AVAILABLE:  # a state from the fallback resumes here, in any backend
        state = cls(saved)
        state.update(b"!")
        assert state.hexdigest() == hashlib.sha256(b"abc" * 50 + b"!").hexdigest()


def test_a_backend_failing_the_start_up_vectors_is_not_used(monkeypatch) -> None:
    monkeypatch.setattr(checksums, "_RH_HEAD", struct.Struct(">8IQB"))  # a changed layout
    assert not checksums._rehashes_works()


def test_the_slow_fallback_is_a_system_check_warning_with_its_rate(monkeypatch) -> None:
    from chunked_upload.checks import check_sha256_backend

    assert check_sha256_backend() == [] or SHA256_BACKEND == "python"
    monkeypatch.setattr(checksums, "SHA256_BACKEND", "python")
    monkeypatch.setattr(checksums, "_DEFAULT_BACKEND", _PY)
    [warning] = check_sha256_backend()
    assert warning.id == "chunked_upload.W201"
    assert "MB/s" in warning.hint


def test_importing_loads_no_library_by_name() -> None:
    source = Path(checksums.__file__).read_text()
    assert "find_library" not in source and "CDLL" not in source
