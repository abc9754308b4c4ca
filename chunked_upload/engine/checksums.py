"""Checksums for chunked uploads: CRC-32 helpers and a resumable SHA-256.

A :class:`Sha256State` is serialised with :meth:`Sha256State.to_bytes` after each
accepted chunk (e.g. into a database row) and resumed, possibly in another
process, with ``Sha256State(saved)``.  The serialised form is our own portable
format, identical for both backends (a state saved by one resumes in the other)::

    version (1 byte, = 1) | 8 chaining words (u32 big-endian)
    | total byte length (u64 big-endian) | pending partial block (length % 64 bytes)

Where the state comes from, decided (issue 15): hashlib cannot export its
state, and OpenSSL has no supported way to either (3.0 has none; its only
route is the low-level ``SHA256_*`` functions, deprecated since 3.0, with a
context struct laid out by hand; the libcrypto that hashlib links could be
found from ``_hashlib`` itself, but the functions stay deprecated). So:

- **rehashes** (CERT Polska, BSD; RustCrypto's ``sha2`` with SHA-NI), whose
  hashers serialise their state through a supported API (as fast as hashlib;
  figures in docs/performance.md). Unlike hashlib it holds the GIL while it
  hashes (0.3.0, measured), so the chunk path hashes in line: a helper
  thread could not hash beside the request's Python, and beside its system
  calls it bought nothing measurable (docs/benchmarks.md). Its
  serialised form is translated to ours; the translation is verified at
  import against known vectors, and the backend is used only if every
  vector passes.
- Otherwise a pure-Python SHA-256, correct but thousands of times slower: a
  system check (``chunked_upload.W201``) reports it with the rate measured
  on this host, so a site never runs on it without being told.

Importing this module loads no shared library by name and cannot abort the
interpreter. This module does not import Django.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import sys
import time
import zlib

try:
    from isal.isal_zlib import crc32 as _crc32_impl
    from isal.isal_zlib import crc32_combine as _crc32_combine_impl
except ImportError:  # pragma: no cover - depends on the environment
    _crc32_impl = zlib.crc32
    _crc32_combine_impl = None

BytesLike = bytes | bytearray | memoryview
_MASK = 0xFFFFFFFF
_CRC_POLY = 0xEDB88320  # CRC-32 (IEEE 802.3) polynomial, reflected
_CRC_RE = re.compile(r"[0-9A-Fa-f]{1,8}")


def _check_crc(*values: int) -> None:
    if not all(0 <= value <= _MASK for value in values):
        raise ValueError("CRC-32 value out of range")


def crc32(data: BytesLike, value: int = 0) -> int:
    """Return zlib's CRC-32 of *data*, continuing from the running CRC *value*."""
    _check_crc(value)
    return _crc32_impl(data, value)


def _multmodp(a: int, b: int) -> int:
    """Multiply two polynomials modulo the CRC-32 polynomial (reflected bit order)."""
    product, m = 0, 1 << 31
    while a:
        if a & m:
            product ^= b
            a ^= m
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1
    return product


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """Return the CRC-32 of A+B from ``crc32(A)``, ``crc32(B)`` and ``len(B)``.

    zlib's algorithm, in its >= 1.2.12 form (equivalent to the older GF(2)
    matrix squaring): *crc1* is multiplied by x^(8*len2) mod P, computed by
    repeated squaring in O(log len2).
    """
    _check_crc(crc1, crc2)
    if len2 < 0:
        raise ValueError("len2 must be non-negative")
    # ISA-L's C (zlib's algorithm), once per chunk; it takes a C ssize_t length.
    if _crc32_combine_impl is not None and len2 <= sys.maxsize:
        return _crc32_combine_impl(crc1, crc2, len2)
    return _multmodp(_zeros_operator(len2), crc1) ^ crc2


@functools.lru_cache(maxsize=64)
def _zeros_operator(length: int) -> int:
    """x^(8*length) mod P, which moves a CRC past ``length`` bytes.

    Cached: an upload's chunks nearly all have one length, and computing this
    costs some 20 polynomial products where applying it costs one.
    """
    shift, square, n = 1 << 31, 1 << 30, length * 8  # shift = x^0, square = x^1
    while n:
        if n & 1:
            shift = _multmodp(square, shift)
        n >>= 1
        if n:
            square = _multmodp(square, square)
    return shift


def format_crc(value: int) -> str:
    """Format a CRC-32 as upper-case hex without leading zeros (``"0"`` for 0)."""
    _check_crc(value)
    return f"{value:X}"


def parse_crc(text: str) -> int:
    """Parse 1 to 8 hex digits, any case, surrounding whitespace ignored."""
    stripped = text.strip()
    if not _CRC_RE.fullmatch(stripped):
        raise ValueError(f"invalid CRC-32: {text!r}")
    return int(stripped, 16)


# ---------------------------------------------------------------------------- SHA-256

_VERSION = 1
_HEAD = struct.Struct(">B8IQ")  # version, chaining words, byte length: 41 bytes
_MAX_LENGTH = (1 << 61) - 1  # the bit length must fit in 64 bits
_IV_HEX = "6a09e667 bb67ae85 3c6ef372 a54ff53a 510e527f 9b05688c 1f83d9ab 5be0cd19"
_IV = tuple(int(word, 16) for word in _IV_HEX.split())
_K_HEX = (
    "428a2f98 71374491 b5c0fbcf e9b5dba5 3956c25b 59f111f1 923f82a4 ab1c5ed5 "
    "d807aa98 12835b01 243185be 550c7dc3 72be5d74 80deb1fe 9bdc06a7 c19bf174 "
    "e49b69c1 efbe4786 0fc19dc6 240ca1cc 2de92c6f 4a7484aa 5cb0a9dc 76f988da "
    "983e5152 a831c66d b00327c8 bf597fc7 c6e00bf3 d5a79147 06ca6351 14292967 "
    "27b70a85 2e1b2138 4d2c6dfc 53380d13 650a7354 766a0abb 81c2c92e 92722c85 "
    "a2bfe8a1 a81a664b c24b8b70 c76c51a3 d192e819 d6990624 f40e3585 106aa070 "
    "19a4c116 1e376c08 2748774c 34b0bcb5 391c0cb3 4ed8aa4a 5b9cca4f 682e6ff3 "
    "748f82ee 78a5636f 84c87814 8cc70208 90befffa a4506ceb bef9a3f7 c67178f2 "
)
_K = tuple(int(word, 16) for word in _K_HEX.split())
_State = tuple[tuple[int, ...], int, bytes]  # chaining words, byte length, pending


def _decode_state(state: BytesLike) -> _State:
    """Parse and validate a serialised state (ValueError if invalid)."""
    if not isinstance(state, (bytes, bytearray, memoryview)):
        raise TypeError(f"state must be bytes, not {type(state).__name__}")
    raw = bytes(state)
    if len(raw) < _HEAD.size:
        raise ValueError("SHA-256 state too short")
    version, *words, length = _HEAD.unpack_from(raw)
    if version != _VERSION:
        raise ValueError(f"unsupported SHA-256 state version {version}")
    if length > _MAX_LENGTH or len(raw) != _HEAD.size + length % 64:
        raise ValueError("SHA-256 state length mismatch")
    if length < 64 and tuple(words) != _IV:
        raise ValueError("SHA-256 state: chaining words inconsistent with length")
    return tuple(words), length, raw[_HEAD.size :]


class Sha256State:
    """Resumable SHA-256.

    ``Sha256State()`` starts fresh, ``Sha256State(saved)`` resumes from
    :meth:`to_bytes` output (ValueError if invalid).  Instantiating this class
    gives an instance of the best available backend subclass.  Like hashlib
    objects, an instance must not be updated from two threads at once.
    """

    __slots__ = ()

    def __new__(cls, state: BytesLike | None = None) -> Sha256State:
        """Pick the backend subclass when the base class is instantiated."""
        del state  # handled by __init__
        return object.__new__(_DEFAULT_BACKEND if cls is Sha256State else cls)

    def __init__(self, state: BytesLike | None = None) -> None:
        """Start fresh (*state* None) or resume from serialised *state*."""
        self._load(*(_decode_state(state) if state is not None else (_IV, 0, b"")))

    def _load(self, words: tuple[int, ...], length: int, pending: bytes) -> None:
        raise NotImplementedError

    def _dump(self) -> _State:
        raise NotImplementedError

    def update(self, data: BytesLike) -> None:
        """Hash more data (C-contiguous buffers are hashed without copying)."""
        raise NotImplementedError

    def digest(self) -> bytes:
        """Return the 32-byte digest of the data so far; the state is unchanged."""
        raise NotImplementedError

    @property
    def length(self) -> int:
        """Total number of bytes hashed so far."""
        return self._dump()[1]

    def to_bytes(self) -> bytes:
        """Serialise the running state in the portable, backend-independent format."""
        words, length, pending = self._dump()
        return _HEAD.pack(_VERSION, *words, length) + pending

    def copy(self) -> Sha256State:
        """Return an independent copy of this state (same backend)."""
        other = object.__new__(type(self))
        other._load(*self._dump())
        return other

    def hexdigest(self) -> str:
        """Return the hex digest of the data so far; the state is unchanged."""
        return self.digest().hex()

    def __repr__(self) -> str:
        """Show the backend and the length."""
        return f"<{type(self).__name__} length={self.length}>"


def _compress(h: list[int], block: BytesLike, offset: int) -> None:
    """Pure-Python SHA-256 compression of the 64-byte block at *offset* into *h*.

    Rotations leave junk above bit 31: only the sums that are kept get masked.
    """
    w = list(struct.unpack_from(">16I", block, offset))
    for i in range(16, 64):
        x, y = w[i - 15], w[i - 2]
        s0 = (x >> 7 | x << 25) ^ (x >> 18 | x << 14) ^ (x >> 3)
        s1 = (y >> 17 | y << 15) ^ (y >> 19 | y << 13) ^ (y >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & _MASK)
    a, b, c, d, e, f, g, hh = h
    for k, wi in zip(_K, w, strict=True):
        s1 = (e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)
        t1 = hh + s1 + (g ^ (e & (f ^ g))) + k + wi
        s0 = (a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)
        t2 = s0 + ((a & b) | (c & (a | b)))
        hh, g, f, e = g, f, e, (d + t1) & _MASK
        d, c, b, a = c, b, a, (t1 + t2) & _MASK
    h[:] = [(x + y) & _MASK for x, y in zip(h, (a, b, c, d, e, f, g, hh), strict=True)]


class _PySha256(Sha256State):
    """Pure-Python backend: slow (W201 reports its rate), used only without rehashes."""

    __slots__ = ("_buf", "_h", "_length")

    def _load(self, words: tuple[int, ...], length: int, pending: bytes) -> None:
        self._h, self._length, self._buf = list(words), length, bytearray(pending)

    def _dump(self) -> _State:
        return tuple(self._h), self._length, bytes(self._buf)

    def update(self, data: BytesLike) -> None:
        view = memoryview(data)
        view = (view if view.c_contiguous else memoryview(view.tobytes())).cast("B")
        n, pos, buf = len(view), 0, self._buf
        self._length += n
        if buf:
            pos = min(64 - len(buf), n)
            buf += view[:pos]
            if len(buf) < 64:
                return
            _compress(self._h, buf, 0)
            buf.clear()
        while pos + 64 <= n:
            _compress(self._h, view, pos)
            pos += 64
        buf += view[pos:]

    def digest(self) -> bytes:
        tail = self._buf + b"\x80" + bytes((55 - len(self._buf)) % 64)
        tail += struct.pack(">Q", self._length * 8)
        h = list(self._h)
        for offset in range(0, len(tail), 64):
            _compress(h, tail, offset)
        return struct.pack(">8I", *h)


# ---------------------------------------------------------------- rehashes backend

# rehashes' serialised SHA-256 state: 8 chaining words (u32 little-endian),
# the number of 64-byte blocks compressed (u64 little-endian), the pending
# bytes' count (1 byte) and the pending bytes, padded to 63 bytes.
_RH_HEAD = struct.Struct("<8IQB")
_RH_SIZE = _RH_HEAD.size + 63


def _to_rehashes(words: tuple[int, ...], length: int, pending: bytes) -> bytes:
    return _RH_HEAD.pack(*words, length // 64, len(pending)) + pending.ljust(63, b"\0")


def _from_rehashes(raw: bytes) -> _State:
    if len(raw) != _RH_SIZE:
        raise ValueError("unexpected rehashes state")
    *words, blocks, pending = _RH_HEAD.unpack_from(raw)
    return tuple(words), blocks * 64 + pending, raw[_RH_HEAD.size:_RH_HEAD.size + pending]


class _RehashesSha256(Sha256State):
    """rehashes backend: hashed in Rust, holding the GIL."""

    __slots__ = ("_hasher",)

    def _load(self, words: tuple[int, ...], length: int, pending: bytes) -> None:
        self._hasher = _rehashes.PySha256.deserialize(_to_rehashes(words, length, pending))

    def _dump(self) -> _State:
        return _from_rehashes(self._hasher.serialize())

    def update(self, data: BytesLike) -> None:
        # It takes bytes only. A view of a whole bytes object (most pieces of a
        # large chunk: each read of the body, whole) is hashed as that object;
        # any other buffer is copied first.
        if (type(data) is memoryview and type(data.obj) is bytes and data.c_contiguous
                and data.nbytes == len(data.obj)):
            data = data.obj
        self._hasher.update(data if type(data) is bytes else bytes(data))

    def digest(self) -> bytes:
        # finalize() consumes a hasher: finish a copy, keep this one going.
        return bytes.fromhex(_rehashes.PySha256.deserialize(self._hasher.serialize()).finalize())


#: Lengths around every block boundary the translation must get right.
_VECTOR_LENGTHS = (0, 1, 55, 56, 63, 64, 65, 119, 127, 128, 129, 1000)


def _rehashes_works() -> bool:
    """Do rehashes and our translation give hashlib's digests and our states?"""
    sample = bytes(range(256)) * 4
    try:
        for length in _VECTOR_LENGTHS:
            data = sample[:length]
            expected = _PySha256()
            expected.update(data)
            state = _RehashesSha256()
            state.update(data)
            if state._dump() != expected._dump():
                return False
            resumed = _RehashesSha256(expected.to_bytes())
            resumed.update(sample[length:])
            if resumed.digest() != hashlib.sha256(sample).digest():
                return False
            if state.digest() != hashlib.sha256(data).digest():
                return False
    except Exception:  # any failure means: do not use it
        return False
    return True


def measure_rate(seconds: float = 0.05) -> float:
    """Bytes per second the default backend hashes on this host (a rough figure)."""
    piece, state, hashed = bytes(16384), Sha256State(), 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        state.update(piece)
        hashed += len(piece)
    return hashed / elapsed


try:
    import rehashes as _rehashes
except ImportError:  # pragma: no cover - depends on the environment
    _rehashes = None

if _rehashes is not None and _rehashes_works():
    _DEFAULT_BACKEND: type[Sha256State] = _RehashesSha256
    SHA256_BACKEND = "rehashes"
else:  # pragma: no cover - depends on the environment
    _DEFAULT_BACKEND = _PySha256
    SHA256_BACKEND = "python"
