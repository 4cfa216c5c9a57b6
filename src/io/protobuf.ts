/**
 * The small part of the Protocol Buffers wire format that TensorBoard event files need, by hand.
 * Reference: https://protobuf.dev/programming-guides/encoding/
 *
 * A message is a sequence of fields; each field is a key `(fieldNumber << 3) | wireType` as a varint,
 * then its payload: a varint (wire type 0), 8 little-endian bytes (1), a varint length and that many
 * bytes (2: strings, bytes, nested messages, packed repeated scalars), or 4 little-endian bytes (5).
 * Wire types 3 and 4 (groups) are obsolete; the reader skips them, the writer never emits them.
 */

export const WireType = {
  varint: 0,
  fixed64: 1,
  lengthDelimited: 2,
  startGroup: 3,
  endGroup: 4,
  fixed32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** Input that is not a well-formed protobuf message; `offset` is the byte where decoding failed. */
import { GradscopeError } from '../util/errors.js';

export class ProtoDecodeError extends GradscopeError {
  override name = 'ProtoDecodeError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super({
      code: 'unreadable',
      path: `byte ${offset}`,
      value: offset,
      message: `${message} at byte ${offset}`,
    });
  }
}

const TWO_32 = 4294967296;
const TWO_64 = 18446744073709551616n;

/**
 * ZigZag encoding of a signed integer (protobuf `sint32`/`sint64`): 0, -1, 1, -2, ... map to 0, 1, 2, 3, ...
 * so small negative numbers stay short varints. Exact for every safe integer.
 *
 * @example
 * zigzagEncode(-1); // 1
 * zigzagEncode(2 ** 40); // 2 ** 41
 */
export function zigzagEncode(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Inverse of {@link zigzagEncode}. */
export function zigzagDecode(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

/**
 * An append-only protobuf encoder backed by one growing buffer.
 *
 * @example
 * const w = new ProtoWriter();
 * w.double(1, 1.5).int64(2, 7).string(3, 'brain.Event:2');
 * const bytes = w.finish();
 */
export class ProtoWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(initialCapacity = 64) {
    this.buffer = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buffer.buffer);
  }

  /** Bytes written so far. */
  get byteLength(): number {
    return this.length;
  }

  /** A copy of the encoded message. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  private key(fieldNumber: number, wireType: WireType): void {
    this.rawVarint(fieldNumber * 8 + wireType);
  }

  /**
   * A varint without a key. Non-negative safe integers encode directly; negative ones as their 64-bit two's
   * complement (10 bytes), which is how protobuf encodes a negative `int64`.
   */
  rawVarint(value: number | bigint): this {
    if (typeof value === 'bigint' || value < 0 || value > Number.MAX_SAFE_INTEGER) {
      return this.rawVarintBig(BigInt(value));
    }
    this.reserve(8);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buffer[this.length++] = v;
    return this;
  }

  private rawVarintBig(value: bigint): this {
    if (value < -(TWO_64 / 2n) || value >= TWO_64) {
      throw new RangeError(`varint ${value} does not fit in 64 bits`);
    }
    let v = BigInt.asUintN(64, value);
    this.reserve(10);
    while (v >= 0x80n) {
      this.buffer[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.length++] = Number(v);
    return this;
  }

  /** Raw bytes without a key (used for framing). */
  rawBytes(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  /** An `int64`/`uint64`/`int32`/`enum`/`bool` field (wire type 0). */
  int64(fieldNumber: number, value: number | bigint): this {
    this.key(fieldNumber, WireType.varint);
    return this.rawVarint(value);
  }

  /** A `sint64` field: ZigZag then varint. */
  sint64(fieldNumber: number, value: number): this {
    this.key(fieldNumber, WireType.varint);
    return this.rawVarint(zigzagEncode(value));
  }

  /** A `double` field (wire type 1). */
  double(fieldNumber: number, value: number): this {
    this.key(fieldNumber, WireType.fixed64);
    this.reserve(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
    return this;
  }

  /** A `float` field (wire type 5); the value is rounded to float32. */
  float(fieldNumber: number, value: number): this {
    this.key(fieldNumber, WireType.fixed32);
    this.reserve(4);
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
    return this;
  }

  /** A `bytes` field, or an already-encoded nested message. */
  bytes(fieldNumber: number, value: Uint8Array): this {
    this.key(fieldNumber, WireType.lengthDelimited);
    this.rawVarint(value.length);
    return this.rawBytes(value);
  }

  /** A `string` field, UTF-8 encoded. */
  string(fieldNumber: number, value: string): this {
    return this.bytes(fieldNumber, textEncoder.encode(value));
  }

  /** A nested message field, encoded by `build` into a sub-writer. */
  message(fieldNumber: number, build: (writer: ProtoWriter) => void): this {
    const nested = new ProtoWriter();
    build(nested);
    this.key(fieldNumber, WireType.lengthDelimited);
    this.rawVarint(nested.length);
    this.reserve(nested.length);
    this.buffer.set(nested.buffer.subarray(0, nested.length), this.length);
    this.length += nested.length;
    return this;
  }

  /** A packed `repeated double` field (proto3's default encoding). Nothing is written for an empty list. */
  packedDoubles(fieldNumber: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    this.key(fieldNumber, WireType.lengthDelimited);
    this.rawVarint(values.length * 8);
    this.reserve(values.length * 8);
    for (let i = 0; i < values.length; i++) {
      this.view.setFloat64(this.length, values[i]!, true);
      this.length += 8;
    }
    return this;
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8');

/** One decoded field key. */
export interface FieldKey {
  readonly fieldNumber: number;
  readonly wireType: WireType;
}

/**
 * A cursor over one encoded message. Methods throw {@link ProtoDecodeError} on malformed or truncated input.
 *
 * @example
 * const r = new ProtoReader(bytes);
 * while (!r.done) {
 *   const { fieldNumber, wireType } = r.key();
 *   if (fieldNumber === 1 && wireType === WireType.fixed64) wallTime = r.double();
 *   else r.skip(wireType);
 * }
 */
export class ProtoReader {
  private readonly view: DataView;
  private position: number;

  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.position = start;
  }

  get done(): boolean {
    return this.position >= this.end;
  }

  /** Current byte offset within the underlying array. */
  get offset(): number {
    return this.position;
  }

  private need(count: number): void {
    if (this.position + count > this.end) {
      throw new ProtoDecodeError(
        `truncated message: need ${count} more bytes, have ${this.end - this.position}`,
        this.position,
      );
    }
  }

  key(): FieldKey {
    const at = this.position;
    const raw = this.varint();
    const wireType = raw % 8;
    const fieldNumber = Math.floor(raw / 8);
    if (fieldNumber === 0 || wireType > 5) {
      throw new ProtoDecodeError(
        `invalid field key ${raw} (field ${fieldNumber}, wire type ${wireType})`,
        at,
      );
    }
    return { fieldNumber, wireType: wireType as WireType };
  }

  /**
   * A varint as an unsigned 64-bit integer in a JS number: exact below 2^53, rounded above.
   * Use {@link ProtoReader.int64} for a signed `int64` field.
   */
  varint(): number {
    const { low, high } = this.varintParts();
    return high * TWO_32 + low;
  }

  /** A signed `int64`/`int32` field: negative values arrive as 10-byte two's complement varints. */
  int64(): number {
    const { low, high } = this.varintParts();
    return high >= 0x80000000 ? (high - TWO_32) * TWO_32 + low : high * TWO_32 + low;
  }

  /** A varint as an exact unsigned 64-bit bigint. */
  varintBig(): bigint {
    const { low, high } = this.varintParts();
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /** A `sint64` field (ZigZag varint). */
  sint64(): number {
    return zigzagDecode(this.varint());
  }

  private varintParts(): { low: number; high: number } {
    const start = this.position;
    let low = 0;
    let high = 0;
    for (let i = 0; i < 10; i++) {
      if (this.position >= this.end) throw new ProtoDecodeError('truncated varint', start);
      const byte = this.bytes[this.position++]!;
      const payload = byte & 0x7f;
      if (i < 4) {
        low |= payload << (7 * i);
      } else if (i === 4) {
        low |= (payload & 0x0f) << 28;
        high |= payload >>> 4;
      } else {
        high |= payload << (7 * i - 32);
      }
      if ((byte & 0x80) === 0) return { low: low >>> 0, high: high >>> 0 };
    }
    throw new ProtoDecodeError('varint longer than 10 bytes', start);
  }

  double(): number {
    this.need(8);
    const value = this.view.getFloat64(this.position, true);
    this.position += 8;
    return value;
  }

  float(): number {
    this.need(4);
    const value = this.view.getFloat32(this.position, true);
    this.position += 4;
    return value;
  }

  fixed32(): number {
    this.need(4);
    const value = this.view.getUint32(this.position, true);
    this.position += 4;
    return value;
  }

  /** A length-delimited payload as a view (not a copy) into the input. */
  bytesView(): Uint8Array {
    const length = this.varint();
    this.need(length);
    const start = this.position;
    this.position += length;
    return this.bytes.subarray(start, start + length);
  }

  string(): string {
    return textDecoder.decode(this.bytesView());
  }

  /**
   * The elements of a `repeated` scalar field, accepting both encodings a conforming parser must accept:
   * packed (one length-delimited run) and unpacked (one key per element, of the element's wire type).
   */
  repeated(wireType: WireType, element: 'double' | 'float' | 'varint' | 'int64', out: number[]): void {
    const readOne = (reader: ProtoReader): number =>
      element === 'double'
        ? reader.double()
        : element === 'float'
          ? reader.float()
          : element === 'int64'
            ? reader.int64()
            : reader.varint();
    if (wireType === WireType.lengthDelimited) {
      const payload = this.bytesView();
      const inner = new ProtoReader(payload);
      while (!inner.done) out.push(readOne(inner));
      return;
    }
    out.push(readOne(this));
  }

  /** Skip one field's payload of the given wire type. */
  skip(wireType: WireType): void {
    switch (wireType) {
      case WireType.varint:
        this.varintParts();
        return;
      case WireType.fixed64:
        this.need(8);
        this.position += 8;
        return;
      case WireType.lengthDelimited:
        this.bytesView();
        return;
      case WireType.fixed32:
        this.need(4);
        this.position += 4;
        return;
      case WireType.startGroup: {
        // Obsolete groups: skip nested fields up to the matching end-group key.
        for (;;) {
          if (this.done) throw new ProtoDecodeError('unterminated group', this.position);
          const inner = this.key();
          if (inner.wireType === WireType.endGroup) return;
          this.skip(inner.wireType);
        }
      }
      case WireType.endGroup:
        throw new ProtoDecodeError('unexpected end-group key', this.position);
      default:
        wireType satisfies never;
        throw new ProtoDecodeError(`unknown wire type ${String(wireType)}`, this.position);
    }
  }
}
