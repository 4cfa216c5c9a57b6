/**
 * CRC-32C (Castagnoli), the checksum TFRecord framing uses, and TFRecord's "masked" form of it.
 *
 * Polynomial 0x1EDC6F41, reflected (0x82F63B78), initial value and final XOR 0xFFFFFFFF, as specified for
 * iSCSI in RFC 3720 section B.4. Castagnoli, Braeuer, Herrmann, "Optimization of cyclic redundancy-check
 * codes with 24 and 32 parity bits", IEEE Trans. Commun. 41(6), 1993.
 *
 * Slicing-by-8 (eight 256-entry tables, eight input bytes per step) keeps the reader fast on large logs:
 * a histogram-heavy event file is mostly checksummed bytes.
 */

const POLYNOMIAL = 0x82f63b78;

/** TABLES[k][b]: the CRC of byte b followed by k zero bytes. TABLES[0] is the classic byte-wise table. */
const TABLES: readonly Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const first = tables[0]!;
  for (let b = 0; b < 256; b++) {
    let crc = b;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    first[b] = crc >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    const previous = tables[k - 1]!;
    const table = tables[k]!;
    for (let b = 0; b < 256; b++) table[b] = (previous[b]! >>> 8) ^ first[previous[b]! & 0xff]!;
  }
  return tables;
})();

/**
 * CRC-32C of `bytes` (or of `bytes[start, end)`), as an unsigned 32-bit integer.
 *
 * @example
 * crc32c(new TextEncoder().encode('123456789')); // 0xe3069283
 */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let crc = 0xffffffff;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo =
      (crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    crc =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[bytes[i + 4]!]! ^
      t2[bytes[i + 5]!]! ^
      t1[bytes[i + 6]!]! ^
      t0[bytes[i + 7]!]!;
  }
  for (; i < end; i++) crc = (crc >>> 8) ^ t0[(crc ^ bytes[i]!) & 0xff]!;
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's mask constant (tensorflow/core/lib/hash/crc32c.h, `kMaskDelta`). */
const MASK_DELTA = 0xa282ead8;

/**
 * TFRecord's masked CRC: rotate right by 15 bits, then add a constant (mod 2^32).
 * Masking exists because a CRC of data that itself embeds CRCs is weak; TFRecord stores only masked values.
 *
 * @example
 * maskCrc32c(crc32c(new Uint8Array(0))); // 0xa282ead8 (the CRC of nothing is 0)
 */
export function maskCrc32c(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** Inverse of {@link maskCrc32c}. */
export function unmaskCrc32c(masked: number): number {
  const rotated = (masked - MASK_DELTA) >>> 0;
  return ((rotated >>> 17) | (rotated << 15)) >>> 0;
}

/** `maskCrc32c(crc32c(bytes[start, end)))`: the checksum as TFRecord stores it. */
export function maskedCrc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return maskCrc32c(crc32c(bytes, start, end));
}
