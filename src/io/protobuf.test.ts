import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ProtoDecodeError,
  ProtoReader,
  ProtoWriter,
  WireType,
  zigzagDecode,
  zigzagEncode,
} from './protobuf.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));
const varintBytes = (value: number | bigint): Uint8Array => new ProtoWriter().rawVarint(value).finish();

describe('varints', () => {
  const cases: Array<[number | bigint, string]> = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [2 ** 31 - 1, 'ffffffff07'],
    [2 ** 31, '8080808008'],
    [2 ** 32 - 1, 'ffffffff0f'],
    [2 ** 32, '8080808010'],
    [2 ** 33 + 7, '8780808020'],
    [2 ** 53 - 1, 'ffffffffffffff0f'],
    [2n ** 63n - 1n, 'ffffffffffffffff7f'],
    [2n ** 64n - 1n, 'ffffffffffffffffff01'],
    [-1, 'ffffffffffffffffff01'],
  ];

  it('encode to the documented bytes', () => {
    for (const [value, expected] of cases) assert.equal(hex(varintBytes(value)), expected, String(value));
  });

  it('decode back, as unsigned numbers, signed int64 and exact bigints', () => {
    for (const [value, encoded] of cases) {
      const bytes = fromHex(encoded);
      assert.equal(new ProtoReader(bytes).varintBig(), BigInt.asUintN(64, BigInt(value)), String(value));
      assert.equal(new ProtoReader(bytes).int64(), Number(BigInt.asIntN(64, BigInt(value))), String(value));
      if (typeof value === 'number' && value >= 0) assert.equal(new ProtoReader(bytes).varint(), value);
    }
    // Steps past 2^32 survive exactly.
    assert.equal(new ProtoReader(varintBytes(2 ** 40 + 3)).int64(), 2 ** 40 + 3);
  });

  it('reject truncated and over-long varints', () => {
    assert.throws(() => new ProtoReader(fromHex('8080')).varint(), ProtoDecodeError);
    assert.throws(() => new ProtoReader(new Uint8Array(11).fill(0x80)).varint(), /longer than 10 bytes/);
    assert.throws(() => new ProtoWriter().rawVarint(2n ** 64n), RangeError);
  });

  it('zigzag maps small magnitudes of either sign to small codes', () => {
    const pairs: Array<[number, number]> = [
      [0, 0],
      [-1, 1],
      [1, 2],
      [-2, 3],
      [2 ** 31 - 1, 2 ** 32 - 2],
      [-(2 ** 31), 2 ** 32 - 1],
      [2 ** 52, 2 ** 53],
      [-(2 ** 52), 2 ** 53 - 1],
    ];
    for (const [value, code] of pairs) {
      assert.equal(zigzagEncode(value), code, `encode ${value}`);
      assert.equal(zigzagDecode(code), value, `decode ${code}`);
    }
    const bytes = new ProtoWriter().sint64(1, -3).finish();
    assert.equal(hex(bytes), '0805');
    const reader = new ProtoReader(bytes);
    reader.key();
    assert.equal(reader.sint64(), -3);
  });
});

describe('messages', () => {
  it('round-trip every field kind the event format uses', () => {
    const bytes = new ProtoWriter()
      .double(1, 1700000000.25)
      .int64(2, 2 ** 33)
      .string(3, 'brain.Event:2 ✓')
      .float(4, 0.1)
      .message(5, (inner) => inner.packedDoubles(6, [1, -2.5, Infinity]))
      .bytes(6, new Uint8Array([1, 2, 3]))
      .finish();
    const reader = new ProtoReader(bytes);
    const seen: string[] = [];
    while (!reader.done) {
      const { fieldNumber, wireType } = reader.key();
      if (fieldNumber === 1) seen.push(`double ${reader.double()}`);
      else if (fieldNumber === 2) seen.push(`int64 ${reader.int64()}`);
      else if (fieldNumber === 3) seen.push(`string ${reader.string()}`);
      else if (fieldNumber === 4) seen.push(`float ${reader.float()}`);
      else if (fieldNumber === 5) {
        const inner = new ProtoReader(reader.bytesView());
        const key = inner.key();
        const values: number[] = [];
        inner.repeated(key.wireType, 'double', values);
        seen.push(`packed ${values.join(',')}`);
      } else {
        assert.equal(wireType, WireType.lengthDelimited);
        seen.push(`bytes ${hex(reader.bytesView())}`);
      }
    }
    assert.deepEqual(seen, [
      'double 1700000000.25',
      `int64 ${2 ** 33}`,
      'string brain.Event:2 ✓',
      `float ${Math.fround(0.1)}`,
      'packed 1,-2.5,Infinity',
      'bytes 010203',
    ]);
  });

  it('read repeated fields both packed and unpacked', () => {
    const bytes = new ProtoWriter().double(7, 1.5).double(7, 2.5).packedDoubles(7, [3.5]).finish();
    const reader = new ProtoReader(bytes);
    const values: number[] = [];
    while (!reader.done) reader.repeated(reader.key().wireType, 'double', values);
    assert.deepEqual(values, [1.5, 2.5, 3.5]);
  });

  it('skip unknown fields of every wire type, groups included', () => {
    // field 1 varint, 2 fixed64, 3 bytes, 4 group { 1 varint }, 5 fixed32, then field 9 varint 42.
    const bytes = fromHex('0896011100000000000000001a0161' + '23' + '0801' + '24' + '2d00000000' + '482a');
    const reader = new ProtoReader(bytes);
    let found = -1;
    while (!reader.done) {
      const { fieldNumber, wireType } = reader.key();
      if (fieldNumber === 9) found = reader.varint();
      else reader.skip(wireType);
    }
    assert.equal(found, 42);
  });

  it('report malformed input with its offset', () => {
    const truncated = new ProtoWriter().string(1, 'hello').finish().subarray(0, 4);
    const reader = new ProtoReader(truncated);
    reader.key();
    assert.throws(
      () => reader.bytesView(),
      (error: unknown) =>
        error instanceof ProtoDecodeError && error.offset === 2 && /truncated/.test(error.message),
    );
    assert.throws(() => new ProtoReader(new Uint8Array([0x07])).key(), /invalid field key/);
    assert.throws(() => new ProtoReader(new Uint8Array([0x00])).key(), /invalid field key/);
  });
});
