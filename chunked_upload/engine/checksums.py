"""Checksums for chunked uploads: CRC-32 helpers and a resumable SHA-256.

A :class:`Sha256State` is serialised with :meth:`Sha256State.to_bytes` after each
accepted chunk (e.g. into a database row) and resumed, possibly in another
process, with ``Sha256State(saved)``.  The serialised form is our own portable
format, identical for both backends (a state saved by one resumes in the other)::

    version (1 byte, = 1) | 8 chaining words (u32 big-endian)
    | total byte length (u64 big-endian) | pending partial block (length % 64 bytes)

Backends: OpenSSL libcrypto's low-level ``SHA256_*`` functions through ctypes
(hashlib speed, GIL released, data not copied), else a slow pure-Python fallback.
This module does not import Django.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import re
import struct
import zlib
from collections.abc import Callable

try:
    from isal.isal_zlib import crc32 as _crc32_impl
except ImportError:  # pragma: no cover - depends on the environment
    _crc32_impl = zlib.crc32

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
    """Pure-Python backend: slow (~0.5 MB/s), used only without libcrypto."""

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


class _Sha256Ctx(ctypes.Structure):  # OpenSSL's public SHA256_CTX
    # fmt: off
    _fields_ = [("h", ctypes.c_uint * 8), ("Nl", ctypes.c_uint), ("Nh", ctypes.c_uint),
                ("data", ctypes.c_uint * 16), ("num", ctypes.c_uint),
                ("md_len", ctypes.c_uint)]
    # fmt: on


class _PyBuffer(ctypes.Structure):
    """CPython's ``Py_buffer``, filled by ``PyObject_GetBuffer``."""

    # fmt: off
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p),
                ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
                ("internal", ctypes.c_void_p)]
    # fmt: on


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_PyBuffer)]
_release_buffer.restype = None
_DATA_OFFSET = _Sha256Ctx.data.offset
_Fn = Callable[..., int]
_SAMPLE_DIGEST = hashlib.sha256(bytes(range(100))).digest()


def _check_libcrypto(init: _Fn, update: _Fn, final: _Fn) -> bool:
    """Check on a sample that the library's SHA256_CTX layout is the expected one."""
    ctx, sample, out = _Sha256Ctx(), bytes(range(100)), ctypes.create_string_buffer(32)
    ok = init(ctypes.byref(ctx)) == 1 and (tuple(ctx.h), ctx.md_len) == (_IV, 32)
    ok = ok and update(ctypes.byref(ctx), sample, len(sample)) == 1
    pending = ctypes.string_at(ctypes.addressof(ctx) + _DATA_OFFSET, min(ctx.num, 64))
    ok = ok and (ctx.Nl, ctx.Nh, pending) == (800, 0, sample[64:])
    return ok and final(out, ctypes.byref(ctx)) == 1 and out.raw == _SAMPLE_DIGEST


def _load_libcrypto() -> tuple[_Fn, _Fn, _Fn] | None:
    """Find a libcrypto exporting usable SHA256_Init/Update/Final, else None."""
    void_p, size_t = ctypes.c_void_p, ctypes.c_size_t
    argtypes = ([void_p], [void_p, void_p, size_t], [void_p, void_p])
    for name in ["libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.3.dylib", ""]:
        try:  # "" = ask ctypes.util (slow: it may run ldconfig), only as a last resort
            lib = ctypes.CDLL(name or ctypes.util.find_library("crypto") or "libcrypto")
            funcs = lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final
        except (OSError, AttributeError):
            continue
        for func, types in zip(funcs, argtypes, strict=True):
            func.argtypes, func.restype = types, ctypes.c_int
        if _check_libcrypto(*funcs):
            return funcs
    return None


_FUNCS = _load_libcrypto()


class _OpenSSLSha256(Sha256State):
    """libcrypto backend: the GIL is released while hashing; data is not copied."""

    __slots__ = ("_addr", "_ctx")

    def _load(self, words: tuple[int, ...], length: int, pending: bytes) -> None:
        # Exactly what SHA256_Init + SHA256_Update would have left in the context.
        self._ctx = ctx = _Sha256Ctx()
        self._addr = ctypes.addressof(ctx)
        ctx.h[:] = words
        ctx.Nl, ctx.Nh = length * 8 & _MASK, length * 8 >> 32
        ctypes.memmove(self._addr + _DATA_OFFSET, pending, len(pending))
        ctx.num, ctx.md_len = len(pending), 32

    def _dump(self) -> _State:
        ctx = self._ctx
        pending = ctypes.string_at(self._addr + _DATA_OFFSET, ctx.num)
        return tuple(ctx.h), (ctx.Nh << 32 | ctx.Nl) >> 3, pending

    def update(self, data: BytesLike) -> None:
        if type(data) is bytes:  # ctypes passes a pointer to the bytes' own storage
            _sha256_update(self._addr, data, len(data))
            return
        view = _PyBuffer()
        try:
            _get_buffer(data, view, 0)  # PyBUF_SIMPLE: contiguous bytes, zero copy
        except BufferError:  # non-contiguous memoryview: hash its logical bytes
            flat = memoryview(data).tobytes()
            _sha256_update(self._addr, flat, len(flat))
            return
        try:
            _sha256_update(self._addr, view.buf, view.len)
        finally:
            _release_buffer(view)

    def digest(self) -> bytes:
        ctx = _Sha256Ctx.from_buffer_copy(self._ctx)
        out = ctypes.create_string_buffer(32)
        _sha256_final(out, ctypes.byref(ctx))
        return out.raw

    @property
    def length(self) -> int:
        return (self._ctx.Nh << 32 | self._ctx.Nl) >> 3


if _FUNCS is not None:
    _sha256_update, _sha256_final = _FUNCS[1:]
    _DEFAULT_BACKEND: type[Sha256State] = _OpenSSLSha256
    SHA256_BACKEND = "openssl"
else:  # pragma: no cover - depends on the environment
    _DEFAULT_BACKEND = _PySha256
    SHA256_BACKEND = "python"
