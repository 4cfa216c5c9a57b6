/**
 * The pure codec of TensorBoard event files (`events.out.tfevents.*`): TFRecord framing with CRC-32C, and the
 * protobuf encoding and decoding of events, scalar and histogram summaries, including what PyTorch's
 * `torch.utils.tensorboard.SummaryWriter` and TF2's `tf.summary` write. No `node:` imports, so the browser lab can
 * decode an event file it fetched; `tfevents.ts` adds the Node file writer and readers on top.
 *
 * An event file is a sequence of TFRecords, each holding one serialized `tensorboard.Event` proto:
 *
 *   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data[length] | uint32 masked CRC-32C of data
 *
 * The protos involved (field numbers from tensorboard/compat/proto/{event,summary,histogram,tensor,
 * tensor_shape,types}.proto, checked against tensorboard 2.21's generated descriptors):
 *
 *   Event           wall_time 1 double, step 2 int64, file_version 3 string, summary 5 Summary
 *   Summary         value 1 repeated Value
 *   Value           tag 1 string, simple_value 2 float, histo 5 HistogramProto, tensor 8 TensorProto,
 *                   metadata 9 SummaryMetadata, node_name 7 string (legacy tag)
 *   SummaryMetadata plugin_data 1 { plugin_name 1 string, content 2 bytes }
 *   HistogramProto  min 1, max 2, num 3, sum 4, sum_squares 5 (double), bucket_limit 6, bucket 7 (packed double)
 *   TensorProto     dtype 1 enum, tensor_shape 2 { dim 2 repeated { size 1 int64 } }, tensor_content 4 bytes,
 *                   float_val 5, double_val 6, int_val 7, int64_val 10, bool_val 11, half_val 13
 *
 * @example
 * const bytes = encodeRecord(encodeEvent({ wallTime: 0, step: 3, values: [{ kind: 'scalar', tag: 'loss', value: 0.5 }] }));
 * decodeEvents(bytes).events[0]?.values; // [{ kind: 'scalar', tag: 'loss', value: 0.5, source: 'simple_value' }]
 */
import { maskedCrc32c } from './crc32c.js';
import { ProtoDecodeError, ProtoReader, ProtoWriter, WireType } from './protobuf.js';

// ---------------------------------------------------------------------------------------------------------
// Histograms

/** A histogram as TensorBoard's `HistogramProto` holds it. */
export interface HistogramData {
  readonly min: number;
  readonly max: number;
  /** Number of values bucketed; equals the sum of `bucket`. */
  readonly num: number;
  readonly sum: number;
  readonly sumSquares: number;
  /**
   * Right (exclusive) edge of each bucket, ascending. Bucket i holds values in
   * `[bucketLimit[i - 1], bucketLimit[i])`; the first bucket's left edge is `min`.
   */
  readonly bucketLimit: readonly number[];
  /** Count of values in each bucket. */
  readonly bucket: readonly number[];
}

/** Values a histogram cannot bucket, counted rather than dropped silently. */
export interface NonFiniteCounts {
  readonly nan: number;
  readonly positiveInfinity: number;
  readonly negativeInfinity: number;
}

/** What {@link buildHistogram} and {@link EventWriter.histogram} measured. */
export interface HistogramResult {
  readonly histogram: HistogramData;
  readonly nonFinite: NonFiniteCounts;
}

/**
 * TensorFlow's default histogram bucket edges (tensorflow/core/lib/histogram/histogram.cc,
 * `InitDefaultBucketsInner`; the same edges as PyTorch SummaryWriter's `default_bins`): positive edges
 * 1e-12 * 1.1^k for every k with the edge below 1e20 (computed by repeated multiplication, exactly as TF does,
 * so the doubles match bit for bit), their negatives, 0, and ±Number.MAX_VALUE as outermost limits.
 * That is 774 edges each side: ~10% relative resolution over 32 orders of magnitude, enough to see a
 * gradient vanish to 1e-10 or explode to 1e10 on one plot.
 */
export const DEFAULT_BUCKET_LIMITS: Float64Array = (() => {
  const positive: number[] = [];
  for (let edge = 1e-12; edge < 1e20; edge *= 1.1) positive.push(edge);
  const limits = new Float64Array(2 * positive.length + 3);
  let i = 0;
  limits[i++] = -Number.MAX_VALUE;
  for (let k = positive.length - 1; k >= 0; k--) limits[i++] = -positive[k]!;
  limits[i++] = 0;
  for (const edge of positive) limits[i++] = edge;
  limits[i++] = Number.MAX_VALUE;
  return limits;
})();

const ZERO_INDEX = DEFAULT_BUCKET_LIMITS.indexOf(0);
const LOG_GROWTH = Math.log(1.1);

/**
 * Index of the first default limit strictly greater than `value` (C++ `std::upper_bound`, as TF's
 * `Histogram::Add`), clamped to the last bucket. The edges are geometric, so a logarithm lands within a step
 * or two of the answer and the two loops make it exact (about 3x faster than a binary search over 1551 edges).
 */
function defaultBucketIndex(value: number): number {
  const limits = DEFAULT_BUCKET_LIMITS;
  const last = limits.length - 1;
  const scaled = Math.abs(value) * 1e12;
  let index: number;
  if (scaled < 1) {
    index = value >= 0 ? ZERO_INDEX + 1 : ZERO_INDEX;
  } else {
    // |value| in [1e-12 * 1.1^k, 1e-12 * 1.1^(k+1)) up to rounding.
    const k = Math.floor(Math.log(scaled) / LOG_GROWTH);
    index = Math.min(Math.max(value > 0 ? ZERO_INDEX + 2 + k : ZERO_INDEX - 1 - k, 0), last);
  }
  while (index > 0 && limits[index - 1]! > value) index--;
  while (index < last && limits[index]! <= value) index++;
  return index;
}

/**
 * Buckets `values` the way TensorFlow's `Histogram::Add` + `EncodeToProto` do: a value v lands in the
 * bucket whose limit is the first edge > v; runs of empty buckets are merged into one; the output keeps one
 * empty bucket before the first non-empty one (its limit is the first non-empty bucket's left edge, as TF and
 * PyTorch write it) and drops the empty tail. Apart from that tail (TF writes one last empty bucket reaching
MAX_VALUE), the result is identical to TensorFlow's, bucket for bucket; a test checks it against TF's output.
 *
 * NaN and ±Infinity cannot be bucketed: they are counted in `nonFinite` and excluded from min, max, num,
 * sum and sumSquares, so `num` always equals the sum of the bucket counts. With no finite value the
 * histogram is all zeros with one empty bucket at limit 0 (older TensorBoard loaders fail on zero buckets).
 *
 * @example
 * const { histogram, nonFinite } = buildHistogram([0.5, -2, NaN]);
 * histogram.num;  // 2
 * nonFinite.nan;  // 1
 */
export function buildHistogram(values: ArrayLike<number>): HistogramResult {
  const limits = DEFAULT_BUCKET_LIMITS;
  const counts = new Float64Array(limits.length);
  let nan = 0;
  let positiveInfinity = 0;
  let negativeInfinity = 0;
  let num = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSquares = 0;
  const lastBucket = limits.length - 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== v) {
      nan++;
      continue;
    }
    if (v === Infinity) {
      positiveInfinity++;
      continue;
    }
    if (v === -Infinity) {
      negativeInfinity++;
      continue;
    }
    num++;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    sumSquares += v * v;
    counts[defaultBucketIndex(v)]!++;
  }
  const nonFinite = { nan, positiveInfinity, negativeInfinity };
  if (num === 0) {
    return {
      histogram: { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [0], bucket: [0] },
      nonFinite,
    };
  }
  let first = 0;
  while (counts[first] === 0) first++;
  let last = lastBucket;
  while (counts[last] === 0) last--;
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  if (first > 0) {
    bucketLimit.push(limits[first - 1]!);
    bucket.push(0);
  }
  for (let i = first; i <= last;) {
    if (counts[i]! > 0) {
      bucketLimit.push(limits[i]!);
      bucket.push(counts[i]!);
      i++;
      continue;
    }
    // Merge a run of empty buckets into one that ends where the run ends.
    let j = i;
    while (counts[j + 1] === 0) j++;
    bucketLimit.push(limits[j]!);
    bucket.push(0);
    i = j + 1;
  }
  return { histogram: { min, max, num, sum, sumSquares, bucketLimit, bucket }, nonFinite };
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

/** One Summary.Value to write. */
export type SummaryValueInput =
  | { readonly kind: 'scalar'; readonly tag: string; readonly value: number }
  | { readonly kind: 'histogram'; readonly tag: string; readonly histogram: HistogramData };

/** One Event to write: a file-version header or a summary. */
export interface EventInput {
  readonly wallTime: number;
  readonly step: number;
  readonly fileVersion?: string;
  readonly values?: readonly SummaryValueInput[];
}

/** The file-version string TensorBoard expects in the first event of a file. */
export const FILE_VERSION = 'brain.Event:2';

/** Serializes an Event proto (without TFRecord framing). */
export function encodeEvent(event: EventInput): Uint8Array {
  const writer = new ProtoWriter(64);
  writer.double(1, event.wallTime);
  if (event.step !== 0) writer.int64(2, event.step);
  if (event.fileVersion !== undefined) writer.string(3, event.fileVersion);
  const values = event.values;
  if (values !== undefined && values.length > 0) {
    writer.message(5, (summary) => {
      for (const value of values) {
        summary.message(1, (v) => {
          v.string(1, value.tag);
          if (value.kind === 'scalar') {
            v.float(2, value.value);
          } else {
            const h = value.histogram;
            v.message(5, (proto) => {
              proto
                .double(1, h.min)
                .double(2, h.max)
                .double(3, h.num)
                .double(4, h.sum)
                .double(5, h.sumSquares);
              proto.packedDoubles(6, h.bucketLimit).packedDoubles(7, h.bucket);
            });
          }
        });
      }
    });
  }
  return writer.finish();
}

/** Wraps `data` in TFRecord framing: length, masked CRC of the length, data, masked CRC of the data. */
export function encodeRecord(data: Uint8Array): Uint8Array {
  const record = new Uint8Array(data.length + 16);
  const view = new DataView(record.buffer);
  view.setUint32(0, data.length % 4294967296, true);
  view.setUint32(4, Math.floor(data.length / 4294967296), true);
  view.setUint32(8, maskedCrc32c(record, 0, 8), true);
  record.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return record;
}

// ---------------------------------------------------------------------------------------------------------
// Reader

/** One decoded Summary.Value. Values of other plugins (images, text, audio, ...) are listed as `other`. */
export type ParsedValue =
  | {
      readonly kind: 'scalar';
      readonly tag: string;
      readonly value: number;
      /** `simple_value` (TF1, PyTorch default) or a rank-0 `tensor` of the 'scalars' plugin (TF2, PyTorch new_style). */
      readonly source: 'simple_value' | 'tensor';
    }
  | {
      readonly kind: 'histogram';
      readonly tag: string;
      readonly histogram: HistogramData;
      /**
       * `histo`: a HistogramProto (TF1, PyTorch), exact. `tensor`: a [k, 3] tensor of (left, right, count)
       * rows of the 'histograms' plugin (TF2): min/max are the outer bucket edges and sum/sumSquares are
       * estimated from bucket midpoints.
       */
      readonly source: 'histo' | 'tensor';
    }
  | { readonly kind: 'other'; readonly tag: string; readonly pluginName: string | null };

export interface ParsedEvent {
  /** Byte offset of this event's record in the file. */
  readonly offset: number;
  /** Seconds since the Unix epoch. */
  readonly wallTime: number;
  /** Exact below 2^53. */
  readonly step: number;
  /** Present on a file's header event (`brain.Event:2`). */
  readonly fileVersion?: string;
  /** The summary's values; empty for events without a summary (header, graph, session log). */
  readonly values: readonly ParsedValue[];
}

export type ReadErrorCode =
  | 'truncated-record'
  | 'length-checksum-mismatch'
  | 'data-checksum-mismatch'
  | 'malformed-event'
  | 'too-large';

/** A problem found while reading; `offset` is the byte offset of the record concerned. */
export interface ReadError {
  readonly code: ReadErrorCode;
  readonly offset: number;
  readonly message: string;
}

export interface EventFileReadout {
  readonly events: ParsedEvent[];
  readonly errors: ReadError[];
}

/**
 * Decodes the bytes of one event file, verifying both CRCs of every record (pure: the browser can call it on a
 * fetched file; {@link readEvents} in tfevents.ts reads a path).
 *
 * Problems become `errors`, never exceptions: a truncated tail (a run still writing, or killed mid-write)
 * stops reading after the last complete record; a bad length checksum stops reading (the length cannot be
 * trusted, so neither can anything after it, as in TensorFlow's reader); a bad data checksum or an
 * undecodable event skips that one record. Only failing to read the file itself throws.
 *
 * Tensor-valued summaries are matched to plugins by their `metadata`, which TF2 writes only with the first
 * value of each tag; later values inherit it.
 *
 * @example
 * const { events, errors } = decodeEvents(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 * for (const e of events) for (const v of e.values) if (v.kind === 'scalar') console.log(v.tag, e.step, v.value);
 */
export function decodeEvents(raw: Uint8Array): EventFileReadout {
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: ParsedEvent[] = [];
  const errors: ReadError[] = [];
  const pluginOfTag = new Map<string, string>();
  let offset = 0;
  while (offset < bytes.length) {
    const remaining = bytes.length - offset;
    if (remaining < 12) {
      errors.push({
        code: 'truncated-record',
        offset,
        message: `truncated record at byte ${offset}: ${remaining} of the 12 header bytes present`,
      });
      break;
    }
    const length = view.getUint32(offset + 4, true) * 4294967296 + view.getUint32(offset, true);
    if (maskedCrc32c(bytes, offset, offset + 8) !== view.getUint32(offset + 8, true)) {
      errors.push({
        code: 'length-checksum-mismatch',
        offset,
        message: `record length checksum mismatch at byte ${offset}; the rest of the file (${remaining} bytes) is unreadable`,
      });
      break;
    }
    if (remaining < 16 + length) {
      errors.push({
        code: 'truncated-record',
        offset,
        message: `truncated record at byte ${offset}: needs ${16 + length} bytes, ${remaining} present`,
      });
      break;
    }
    const dataStart = offset + 12;
    const dataEnd = dataStart + length;
    if (maskedCrc32c(bytes, dataStart, dataEnd) !== view.getUint32(dataEnd, true)) {
      errors.push({
        code: 'data-checksum-mismatch',
        offset,
        message: `record data checksum mismatch at byte ${offset} (${length} data bytes); record skipped`,
      });
    } else {
      try {
        events.push(decodeEvent(bytes.subarray(dataStart, dataEnd), offset, pluginOfTag));
      } catch (error) {
        if (!(error instanceof ProtoDecodeError) && !(error instanceof TensorDecodeError)) throw error;
        errors.push({
          code: 'malformed-event',
          offset,
          message: `undecodable event in record at byte ${offset}: ${error.message}; record skipped`,
        });
      }
    }
    offset = dataEnd + 4;
  }
  return { events, errors };
}

/** One point of a scalar series. */
export interface ScalarPoint {
  readonly step: number;
  readonly wallTime: number;
  readonly value: number;
}

/**
 * Groups the scalars of `events` by tag, in file order.
 *
 * @example
 * scalarSeries(readEvents(path).events).get('loss'); // [{ step: 0, wallTime, value: 2.3 }, ...]
 */
export function scalarSeries(events: readonly ParsedEvent[]): Map<string, ScalarPoint[]> {
  const series = new Map<string, ScalarPoint[]>();
  for (const event of events) {
    for (const value of event.values) {
      if (value.kind !== 'scalar') continue;
      let points = series.get(value.tag);
      if (points === undefined) series.set(value.tag, (points = []));
      points.push({ step: event.step, wallTime: event.wallTime, value: value.value });
    }
  }
  return series;
}

function decodeEvent(bytes: Uint8Array, offset: number, pluginOfTag: Map<string, string>): ParsedEvent {
  const reader = new ProtoReader(bytes);
  let wallTime = 0;
  let step = 0;
  let fileVersion: string | undefined;
  const values: ParsedValue[] = [];
  while (!reader.done) {
    const { fieldNumber, wireType } = reader.key();
    if (fieldNumber === 1 && wireType === WireType.fixed64) wallTime = reader.double();
    else if (fieldNumber === 2 && wireType === WireType.varint) step = reader.int64();
    else if (fieldNumber === 3 && wireType === WireType.lengthDelimited) fileVersion = reader.string();
    else if (fieldNumber === 5 && wireType === WireType.lengthDelimited) {
      // Summary: repeated Value value = 1. A repeated message field may also arrive split; append.
      const summary = new ProtoReader(reader.bytesView());
      while (!summary.done) {
        const field = summary.key();
        if (field.fieldNumber === 1 && field.wireType === WireType.lengthDelimited) {
          values.push(decodeValue(summary.bytesView(), pluginOfTag));
        } else summary.skip(field.wireType);
      }
    } else reader.skip(wireType);
  }
  return fileVersion === undefined
    ? { offset, wallTime, step, values }
    : { offset, wallTime, step, fileVersion, values };
}

function decodeValue(bytes: Uint8Array, pluginOfTag: Map<string, string>): ParsedValue {
  const reader = new ProtoReader(bytes);
  let tag = '';
  let nodeName = '';
  let pluginName: string | null = null;
  let simpleValue: number | undefined;
  let histo: HistogramData | undefined;
  let tensor: Uint8Array | undefined;
  let otherKind = false;
  while (!reader.done) {
    const { fieldNumber, wireType } = reader.key();
    if (fieldNumber === 1 && wireType === WireType.lengthDelimited) tag = reader.string();
    else if (fieldNumber === 7 && wireType === WireType.lengthDelimited) nodeName = reader.string();
    else if (fieldNumber === 2 && wireType === WireType.fixed32) simpleValue = reader.float();
    else if (fieldNumber === 5 && wireType === WireType.lengthDelimited)
      histo = decodeHistogram(reader.bytesView());
    else if (fieldNumber === 8 && wireType === WireType.lengthDelimited) tensor = reader.bytesView();
    else if (fieldNumber === 9 && wireType === WireType.lengthDelimited)
      pluginName = decodePluginName(reader.bytesView());
    else {
      // image 4, audio 6, obsolete_old_style_histogram 3 and anything newer.
      if (fieldNumber >= 3 && fieldNumber <= 6) otherKind = true;
      reader.skip(wireType);
    }
  }
  if (tag === '') tag = nodeName;
  if (pluginName !== null && pluginName !== '') pluginOfTag.set(tag, pluginName);
  else pluginName = pluginOfTag.get(tag) ?? null;
  if (simpleValue !== undefined) return { kind: 'scalar', tag, value: simpleValue, source: 'simple_value' };
  if (histo !== undefined) return { kind: 'histogram', tag, histogram: histo, source: 'histo' };
  if (tensor !== undefined && !otherKind) {
    if (pluginName === 'scalars') {
      const decoded = decodeTensor(tensor);
      if (decoded.values.length !== 1) {
        throw new TensorDecodeError(`scalar '${tag}' has ${decoded.values.length} elements, expected 1`);
      }
      return { kind: 'scalar', tag, value: decoded.values[0]!, source: 'tensor' };
    }
    if (pluginName === 'histograms') {
      return {
        kind: 'histogram',
        tag,
        histogram: histogramFromTensor(tag, decodeTensor(tensor)),
        source: 'tensor',
      };
    }
  }
  return { kind: 'other', tag, pluginName };
}

function decodePluginName(bytes: Uint8Array): string | null {
  const metadata = new ProtoReader(bytes);
  let name: string | null = null;
  while (!metadata.done) {
    const { fieldNumber, wireType } = metadata.key();
    if (fieldNumber === 1 && wireType === WireType.lengthDelimited) {
      const pluginData = new ProtoReader(metadata.bytesView());
      while (!pluginData.done) {
        const field = pluginData.key();
        if (field.fieldNumber === 1 && field.wireType === WireType.lengthDelimited)
          name = pluginData.string();
        else pluginData.skip(field.wireType);
      }
    } else metadata.skip(wireType);
  }
  return name;
}

function decodeHistogram(bytes: Uint8Array): HistogramData {
  const reader = new ProtoReader(bytes);
  let min = 0;
  let max = 0;
  let num = 0;
  let sum = 0;
  let sumSquares = 0;
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  while (!reader.done) {
    const { fieldNumber, wireType } = reader.key();
    if (fieldNumber >= 1 && fieldNumber <= 5 && wireType === WireType.fixed64) {
      const value = reader.double();
      if (fieldNumber === 1) min = value;
      else if (fieldNumber === 2) max = value;
      else if (fieldNumber === 3) num = value;
      else if (fieldNumber === 4) sum = value;
      else sumSquares = value;
    } else if (
      fieldNumber === 6 &&
      (wireType === WireType.lengthDelimited || wireType === WireType.fixed64)
    ) {
      reader.repeated(wireType, 'double', bucketLimit);
    } else if (
      fieldNumber === 7 &&
      (wireType === WireType.lengthDelimited || wireType === WireType.fixed64)
    ) {
      reader.repeated(wireType, 'double', bucket);
    } else reader.skip(wireType);
  }
  if (bucketLimit.length !== bucket.length) {
    throw new TensorDecodeError(
      `histogram has ${bucketLimit.length} bucket limits but ${bucket.length} counts`,
    );
  }
  return { min, max, num, sum, sumSquares, bucketLimit, bucket };
}

/** A TensorProto we cannot turn into numbers (unsupported dtype, inconsistent sizes). */
class TensorDecodeError extends Error {
  override readonly name = 'TensorDecodeError';
}

/** tensorflow/core/framework/types.proto DataType values this reader decodes, with their byte width. */
const DTYPES: Readonly<Record<number, { readonly name: string; readonly bytes: number }>> = {
  1: { name: 'DT_FLOAT', bytes: 4 },
  2: { name: 'DT_DOUBLE', bytes: 8 },
  3: { name: 'DT_INT32', bytes: 4 },
  4: { name: 'DT_UINT8', bytes: 1 },
  5: { name: 'DT_INT16', bytes: 2 },
  6: { name: 'DT_INT8', bytes: 1 },
  9: { name: 'DT_INT64', bytes: 8 },
  10: { name: 'DT_BOOL', bytes: 1 },
  14: { name: 'DT_BFLOAT16', bytes: 2 },
  19: { name: 'DT_HALF', bytes: 2 },
};

interface DecodedTensor {
  readonly shape: readonly number[];
  readonly values: readonly number[];
}

function decodeTensor(bytes: Uint8Array): DecodedTensor {
  const reader = new ProtoReader(bytes);
  let dtype = 0;
  const shape: number[] = [];
  let content: Uint8Array | undefined;
  const listed: number[] = [];
  while (!reader.done) {
    const { fieldNumber, wireType } = reader.key();
    if (fieldNumber === 1 && wireType === WireType.varint) dtype = reader.varint();
    else if (fieldNumber === 2 && wireType === WireType.lengthDelimited)
      decodeShape(reader.bytesView(), shape);
    else if (fieldNumber === 4 && wireType === WireType.lengthDelimited) content = reader.bytesView();
    else if (fieldNumber === 5 && (wireType === WireType.lengthDelimited || wireType === WireType.fixed32)) {
      reader.repeated(wireType, 'float', listed);
    } else if (
      fieldNumber === 6 &&
      (wireType === WireType.lengthDelimited || wireType === WireType.fixed64)
    ) {
      reader.repeated(wireType, 'double', listed);
    } else if (
      (fieldNumber === 7 || fieldNumber === 10 || fieldNumber === 11 || fieldNumber === 13) &&
      (wireType === WireType.lengthDelimited || wireType === WireType.varint)
    ) {
      reader.repeated(wireType, 'int64', listed);
    } else reader.skip(wireType);
  }
  const type = DTYPES[dtype];
  if (type === undefined) throw new TensorDecodeError(`unsupported tensor dtype ${dtype}`);
  const count = shape.reduce((a, b) => a * b, 1);
  let values: number[];
  if (content !== undefined && content.length > 0) {
    if (content.length !== count * type.bytes) {
      throw new TensorDecodeError(
        `${type.name} tensor of shape [${shape.join(', ')}] has ${content.length} content bytes, expected ${count * type.bytes}`,
      );
    }
    values = decodeContent(content, dtype, count);
  } else {
    // The typed *_val fields; TensorFlow repeats the last listed value to fill the shape.
    if (listed.length === 0 && count > 0) throw new TensorDecodeError(`${type.name} tensor has no values`);
    if (listed.length > count) {
      throw new TensorDecodeError(`${type.name} tensor of ${count} elements lists ${listed.length} values`);
    }
    values = Array.from({ length: count }, (_, i) => listed[Math.min(i, listed.length - 1)]!);
    if (dtype === 19) values = values.map(halfToNumber);
    else if (dtype === 14) values = values.map(bfloat16ToNumber);
  }
  return { shape, values };
}

function decodeShape(bytes: Uint8Array, shape: number[]): void {
  const reader = new ProtoReader(bytes);
  while (!reader.done) {
    const { fieldNumber, wireType } = reader.key();
    if (fieldNumber === 2 && wireType === WireType.lengthDelimited) {
      const dim = new ProtoReader(reader.bytesView());
      let size = 0;
      while (!dim.done) {
        const field = dim.key();
        if (field.fieldNumber === 1 && field.wireType === WireType.varint) size = dim.int64();
        else dim.skip(field.wireType);
      }
      if (size < 0) throw new TensorDecodeError('tensor shape has an unknown (-1) dimension');
      shape.push(size);
    } else reader.skip(wireType);
  }
}

function decodeContent(content: Uint8Array, dtype: number, count: number): number[] {
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  const values = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 1:
        values[i] = view.getFloat32(4 * i, true);
        break;
      case 2:
        values[i] = view.getFloat64(8 * i, true);
        break;
      case 3:
        values[i] = view.getInt32(4 * i, true);
        break;
      case 4:
      case 10:
        values[i] = view.getUint8(i);
        break;
      case 5:
        values[i] = view.getInt16(2 * i, true);
        break;
      case 6:
        values[i] = view.getInt8(i);
        break;
      case 9:
        values[i] = Number(view.getBigInt64(8 * i, true));
        break;
      case 14:
        values[i] = bfloat16ToNumber(view.getUint16(2 * i, true));
        break;
      default:
        values[i] = halfToNumber(view.getUint16(2 * i, true));
    }
  }
  return values;
}

/** IEEE 754 binary16 bits to a number. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const bfloat16View = new DataView(new ArrayBuffer(4));
/** bfloat16 bits (the top half of a float32) to a number. */
function bfloat16ToNumber(bits: number): number {
  bfloat16View.setUint32(0, (bits & 0xffff) << 16);
  return bfloat16View.getFloat32(0);
}

/** TF2's histogram plugin tensor: k rows of (left edge, right edge, count). */
function histogramFromTensor(tag: string, tensor: DecodedTensor): HistogramData {
  const { shape, values } = tensor;
  if (shape.length !== 2 || shape[1] !== 3) {
    throw new TensorDecodeError(`histogram '${tag}' tensor has shape [${shape.join(', ')}], expected [k, 3]`);
  }
  const rows = shape[0]!;
  if (rows === 0) return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  let num = 0;
  let sum = 0;
  let sumSquares = 0;
  for (let row = 0; row < rows; row++) {
    const left = values[3 * row]!;
    const right = values[3 * row + 1]!;
    const count = values[3 * row + 2]!;
    const middle = (left + right) / 2;
    bucketLimit.push(right);
    bucket.push(count);
    num += count;
    sum += count * middle;
    sumSquares += count * middle * middle;
  }
  return { min: values[0]!, max: values[3 * rows - 2]!, num, sum, sumSquares, bucketLimit, bucket };
}
