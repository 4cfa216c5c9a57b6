import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c, maskCrc32c, maskedCrc32c, unmaskCrc32c } from './crc32c.js';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The textbook byte-at-a-time CRC, as the oracle for the slicing-by-8 implementation. */
function bitwiseCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('matches the standard check value and the RFC 3720 (iSCSI) test vectors', () => {
    assert.equal(crc32c(ascii('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  });

  it('agrees with a bitwise CRC on every length and alignment (slicing-by-8 tail handling)', () => {
    const bytes = Uint8Array.from({ length: 100 }, (_, i) => (i * 151 + 7) & 0xff);
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= bytes.length; end++) {
        assert.equal(
          crc32c(bytes, start, end),
          bitwiseCrc32c(bytes.subarray(start, end)),
          `[${start}, ${end})`,
        );
      }
    }
  });

  it('masks as TFRecord does, and unmasking inverts it', () => {
    // Value from TensorFlow's masked_crc32c (tensorboard.compat.tensorflow_stub) of b'123456789'.
    assert.equal(maskedCrc32c(ascii('123456789')), 0xc78ab0e5);
    assert.equal(maskCrc32c(0xe3069283), 0xc78ab0e5);
    assert.equal(maskCrc32c(0), 0xa282ead8);
    for (const crc of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xe3069283]) {
      assert.equal(unmaskCrc32c(maskCrc32c(crc)), crc);
      const masked = maskCrc32c(crc);
      assert.ok(Number.isInteger(masked) && masked >= 0 && masked <= 0xffffffff);
    }
  });
});
