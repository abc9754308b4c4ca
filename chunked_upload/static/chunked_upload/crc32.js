// CRC-32 (IEEE 802.3, the zlib/zip/PNG one), slicing-by-8: eight 256-entry
// tables let the loop consume eight bytes per step, several times faster than
// the one-table byte loop on large chunks.

const TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/**
 * Continue a CRC-32 over `bytes` (a Uint8Array). Start with `crc = 0`;
 * the result is an unsigned 32-bit number.
 */
export function crc32(bytes, crc = 0) {
  const t = TABLES;
  let c = ~crc;
  let i = 0;
  const n = bytes.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c =
      t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^
      t[1280 + ((a >>> 16) & 0xff)] ^ t[1024 + (a >>> 24)] ^
      t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]] ^
      t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
    i += 8;
  }
  while (i < n) c = t[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** The protocol's hex form: upper case, no leading zeros. */
export function hex(crc) {
  return (crc >>> 0).toString(16).toUpperCase();
}

// Combining two CRCs (zlib's crc32_combine): the CRC of A+B from CRC(A),
// CRC(B) and B's length, by multiplying in GF(2) modulo the polynomial. Lets
// the whole file's CRC follow the chunks' without reading any byte twice.
const POLY = 0xedb88320;

function multmodp(a, b) {
  let m = 1 << 31;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

const X2N = (() => {
  const t = new Uint32Array(32);
  let p = 1 << 30; // x^1
  t[0] = p;
  for (let n = 1; n < 32; n++) t[n] = p = multmodp(p, p);
  return t;
})();

function x2nmodp(n, k) {
  let p = 1 << 31; // x^0
  while (n) {
    if (n % 2) p = multmodp(X2N[k & 31], p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** The CRC-32 of A followed by B, from CRC(A), CRC(B) and B's length. */
export function crc32Combine(crcA, crcB, lengthB) {
  return (multmodp(x2nmodp(lengthB, 3), crcA) ^ crcB) >>> 0;
}
