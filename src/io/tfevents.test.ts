import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { maskedCrc32c } from './crc32c.js';
import { ProtoWriter } from './protobuf.js';
import {
  TF2_SUMMARY_EVENTS,
  TF_HISTOGRAM_SUMMARY,
  TF_HISTOGRAM_VALUES,
  TORCH_SUMMARY_WRITER_EVENTS,
} from './tfevents-fixtures.js';
import {
  buildHistogram,
  DEFAULT_BUCKET_LIMITS,
  encodeEvent,
  encodeRecord,
  EventWriter,
  EventWriterError,
  FILE_VERSION,
  readEventDir,
  readEvents,
  scalarSeries,
  type HistogramData,
  type ParsedEvent,
  type ParsedValue,
} from './tfevents.js';

const root = mkdtempSync(join(tmpdir(), 'gradscope-tfevents-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (): string => join(root, `run${dirCount++}`);
/** A clock stuck at a fixed time, so file names and wall times are reproducible. */
const fixedClock = (seconds: number) => (): number => seconds;

const scalarsOf = (event: ParsedEvent): Array<[string, number]> =>
  event.values.flatMap((v) => (v.kind === 'scalar' ? [[v.tag, v.value] as [string, number]] : []));
const histogramOf = (event: ParsedEvent): HistogramData => {
  const value = event.values.find((v) => v.kind === 'histogram');
  assert.ok(value !== undefined && value.kind === 'histogram', `no histogram at step ${event.step}`);
  return value.histogram;
};

/** Bucket i must hold exactly the values in [bucketLimit[i - 1], bucketLimit[i]) (the first: below bucketLimit[0]). */
function assertBucketsHold(histogram: HistogramData, values: readonly number[]): void {
  const finite = values.filter(Number.isFinite);
  histogram.bucket.forEach((count, i) => {
    const low = i === 0 ? -Infinity : histogram.bucketLimit[i - 1]!;
    const high = histogram.bucketLimit[i]!;
    // MAX_VALUE has no edge above it: it joins the last bucket, as in TensorFlow.
    const inside = finite.filter(
      (v) => v >= low && (v < high || (v === high && high === Number.MAX_VALUE)),
    ).length;
    assert.equal(count, inside, `bucket ${i} [${low}, ${high})`);
  });
}

describe('default bucket edges', () => {
  it('are TensorFlow/PyTorch default edges: ±1e-12 * 1.1^k below 1e20, 0, and ±MAX_VALUE', () => {
    const limits = DEFAULT_BUCKET_LIMITS;
    assert.equal(limits.length, 2 * 774 + 3);
    assert.equal(limits[0], -Number.MAX_VALUE);
    assert.equal(limits[limits.length - 1], Number.MAX_VALUE);
    const zero = limits.indexOf(0);
    assert.equal(zero, 775);
    // Bit-for-bit the doubles of Python's `v = 1e-12; while v < 1e20: v *= 1.1` (PyTorch's default_bins).
    assert.equal(limits[zero + 1], 1e-12);
    assert.equal(limits[zero + 11], 2.593742460100002e-12);
    assert.equal(limits[zero + 301], 2.6170109961884593);
    assert.equal(limits[zero + 774], 9.920775621859783e19);
    for (let i = 1; i < limits.length; i++) assert.ok(limits[i - 1]! < limits[i]!, `ascending at ${i}`);
    for (let k = 1; k <= 774; k++) assert.equal(limits[zero - k], -limits[zero + k]!);
  });
});

describe('buildHistogram', () => {
  const values = [-1.5, -0.25, 0, 0, 1e-3, 0.5, 0.5, 2, 1e6, 1e-13, -1e30, 5e19];

  it('puts every finite value in the bucket its edges name, and the counts sum to num', () => {
    const { histogram, nonFinite } = buildHistogram(values);
    assert.deepEqual(nonFinite, { nan: 0, positiveInfinity: 0, negativeInfinity: 0 });
    assert.equal(histogram.num, values.length);
    assert.equal(
      histogram.bucket.reduce((a, b) => a + b, 0),
      histogram.num,
    );
    assert.equal(histogram.min, -1e30);
    assert.equal(histogram.max, 1e6 > 5e19 ? 1e6 : 5e19);
    assert.equal(
      histogram.sum,
      values.reduce((a, b) => a + b, 0),
    );
    assert.equal(
      histogram.sumSquares,
      values.reduce((a, b) => a + b * b, 0),
    );
    for (let i = 1; i < histogram.bucketLimit.length; i++) {
      assert.ok(histogram.bucketLimit[i - 1]! < histogram.bucketLimit[i]!, `limits ascending at ${i}`);
    }
    assertBucketsHold(histogram, values);
    // Empty runs are merged: no two consecutive empty buckets; the tail ends at a non-empty bucket.
    for (let i = 1; i < histogram.bucket.length; i++) {
      assert.ok(histogram.bucket[i - 1]! > 0 || histogram.bucket[i]! > 0, `merged empties at ${i}`);
    }
    assert.ok(histogram.bucket[histogram.bucket.length - 1]! > 0);
    assert.equal(histogram.bucket[0], 0, 'one empty bucket before the first value, as TF and PyTorch write');
  });

  it('counts NaN and infinities separately instead of dropping them or poisoning min/max/sum', () => {
    const { histogram, nonFinite } = buildHistogram([NaN, 1, Infinity, NaN, -Infinity, -Infinity, 2]);
    assert.deepEqual(nonFinite, { nan: 2, positiveInfinity: 1, negativeInfinity: 2 });
    assert.equal(histogram.num, 2);
    assert.equal(histogram.min, 1);
    assert.equal(histogram.max, 2);
    assert.equal(histogram.sum, 3);
    assert.equal(histogram.sumSquares, 5);
    assertBucketsHold(histogram, [1, 2]);
  });

  it('gives an all-zero one-bucket histogram when nothing is finite', () => {
    for (const input of [[], [NaN, Infinity], new Float32Array(0)]) {
      const { histogram } = buildHistogram(input);
      assert.deepEqual(histogram, {
        min: 0,
        max: 0,
        num: 0,
        sum: 0,
        sumSquares: 0,
        bucketLimit: [0],
        bucket: [0],
      });
    }
  });

  it('buckets values on, just below and just above every edge exactly as std::upper_bound would', () => {
    const bits = new DataView(new ArrayBuffer(8));
    const step = (x: number, by: number): number => {
      if (x === 0) return by * 5e-324;
      bits.setFloat64(0, x);
      bits.setBigInt64(0, bits.getBigInt64(0) + BigInt(x > 0 ? by : -by));
      return bits.getFloat64(0);
    };
    const probes: number[] = [];
    for (const edge of DEFAULT_BUCKET_LIMITS) {
      probes.push(edge);
      if (edge > -Number.MAX_VALUE) probes.push(step(edge, -1));
      if (edge < Number.MAX_VALUE) probes.push(step(edge, 1));
    }
    const { histogram } = buildHistogram(probes);
    assert.equal(histogram.num, probes.length);
    assertBucketsHold(histogram, probes);
  });

  it("matches TensorFlow's C++ histogram bucket for bucket (oracle fixture)", () => {
    // Wrap TF's serialized Summary in an Event (summary = field 5) and read it back.
    const summary = Uint8Array.from(Buffer.from(TF_HISTOGRAM_SUMMARY, 'base64'));
    const event = new ProtoWriter().double(1, 1).int64(2, 1).bytes(5, summary).finish();
    const { events, errors } = readEvents(encodeRecord(event));
    assert.deepEqual(errors, []);
    const tf = histogramOf(events[0]!);
    const ours = buildHistogram(TF_HISTOGRAM_VALUES).histogram;
    // TF also writes the merged empty tail up to MAX_VALUE; gradscope drops it (it carries no count).
    assert.equal(tf.bucketLimit[tf.bucketLimit.length - 1], Number.MAX_VALUE);
    assert.equal(tf.bucket[tf.bucket.length - 1], 0);
    assert.deepEqual(ours, {
      ...tf,
      bucketLimit: tf.bucketLimit.slice(0, -1),
      bucket: tf.bucket.slice(0, -1),
    });
  });

  it('handles extremes: zero, ±MAX_VALUE, subnormals, and typed arrays', () => {
    const extremes = [0, Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324, -5e-324];
    const { histogram } = buildHistogram(Float64Array.from(extremes));
    assert.equal(histogram.num, 5);
    assert.equal(
      histogram.bucket.reduce((a, b) => a + b, 0),
      5,
    );
    // MAX_VALUE has no edge above it; it joins the last bucket, as in TensorFlow.
    assert.equal(histogram.bucketLimit[histogram.bucketLimit.length - 1], Number.MAX_VALUE);
    const single = buildHistogram(new Float32Array([0.1])).histogram;
    assert.equal(single.max, Math.fround(0.1));
    assert.equal(single.bucket.length, 2);
  });
});

describe('EventWriter', () => {
  it('names the file events.out.tfevents.<seconds>.<hostname><suffix> and starts with the file version', () => {
    const dir = freshDir();
    const writer = EventWriter.open(dir, { filenameSuffix: '.test', wallClock: fixedClock(1700000000.75) });
    writer.close();
    assert.equal(basename(writer.path), `events.out.tfevents.1700000000.${hostname()}.test`);
    const { events, errors } = readEvents(writer.path);
    assert.deepEqual(errors, []);
    assert.deepEqual(events, [
      { offset: 0, wallTime: 1700000000.75, step: 0, fileVersion: FILE_VERSION, values: [] },
    ]);
  });

  it('never overwrites: a second writer in the same second gets a distinct name', () => {
    const dir = freshDir();
    const first = EventWriter.open(dir, { wallClock: fixedClock(1700000000) });
    const second = EventWriter.open(dir, { wallClock: fixedClock(1700000000), filenameSuffix: '.b' });
    const third = EventWriter.open(dir, { wallClock: fixedClock(1700000000) });
    for (const w of [first, second, third]) w.close();
    assert.equal(new Set([first.path, second.path, third.path]).size, 3);
    assert.equal(basename(third.path), `events.out.tfevents.1700000000.${hostname()}.1`);
    assert.equal(readdirSync(dir).length, 3);
  });

  it('round-trips scalars and histograms through readEvents', () => {
    const dir = freshDir();
    const writer = EventWriter.open(dir, { wallClock: fixedClock(1700000000) });
    const bigStep = 2 ** 33 + 7;
    writer.scalar('loss', 2.5, 0, 1700000001.5);
    writer.scalar('loss', 0.1, 1);
    writer.scalar('loss', NaN, 2);
    writer.scalar('huge', 1e39, 3);
    writer.scalars({ 'grad_norm/layer0': 1e-7, 'grad_norm/layer1': 3 }, bigStep);
    const gradient = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 13) - 9));
    const written = writer.histogram('grad/dense0.weight', gradient, 4);
    writer.close();

    const { events, errors } = readEvents(writer.path);
    assert.deepEqual(errors, []);
    assert.deepEqual(
      events.map((e) => e.step),
      [0, 0, 1, 2, 3, bigStep, 4],
    );
    assert.equal(events[1]!.wallTime, 1700000001.5);
    assert.equal(events[2]!.wallTime, 1700000000);
    assert.deepEqual(scalarsOf(events[1]!), [['loss', 2.5]]);
    assert.deepEqual(scalarsOf(events[2]!), [['loss', Math.fround(0.1)]], 'simple_value is float32');
    assert.ok(Number.isNaN(scalarsOf(events[3]!)[0]![1]));
    assert.deepEqual(scalarsOf(events[4]!), [['huge', Infinity]], 'beyond float32 range');
    assert.deepEqual(scalarsOf(events[5]!), [
      ['grad_norm/layer0', Math.fround(1e-7)],
      ['grad_norm/layer1', 3],
    ]);

    const read = histogramOf(events[6]!);
    assert.deepEqual(read, written.histogram);
    assert.equal(read.num, 1000);
    assert.equal(
      read.bucket.reduce((a, b) => a + b, 0),
      1000,
    );
    assertBucketsHold(read, Array.from(gradient));
    for (let i = 1; i < read.bucketLimit.length; i++)
      assert.ok(read.bucketLimit[i - 1]! < read.bucketLimit[i]!);

    const series = scalarSeries(events);
    assert.deepEqual(
      series.get('loss')!.map((p) => p.step),
      [0, 1, 2],
    );
  });

  it('returns and records non-finite counts of histogram inputs', () => {
    const dir = freshDir();
    const writer = EventWriter.open(dir, { wallClock: fixedClock(1700000000) });
    const result = writer.histogram('grad/w', [1, NaN, NaN, Infinity, -Infinity, 2], 7);
    writer.histogram('grad/w', [1, 2], 8);
    writer.close();
    assert.deepEqual(result.nonFinite, { nan: 2, positiveInfinity: 1, negativeInfinity: 1 });
    assert.equal(result.histogram.num, 2);
    const { events } = readEvents(writer.path);
    const [bad, good] = events.slice(1);
    assert.deepEqual(histogramOf(bad!), result.histogram);
    assert.deepEqual(scalarsOf(bad!), [
      ['grad/w/nan_count', 2],
      ['grad/w/pos_inf_count', 1],
      ['grad/w/neg_inf_count', 1],
    ]);
    assert.deepEqual(scalarsOf(good!), [], "'when-present' writes counts only at steps that had any");

    const always = EventWriter.open(freshDir(), { nonFiniteScalars: 'always' });
    always.histogram('h', [1], 0);
    const never = EventWriter.open(freshDir(), { nonFiniteScalars: 'never' });
    never.histogram('h', [NaN], 0);
    always.close();
    never.close();
    assert.equal(scalarsOf(readEvents(always.path).events[1]!).length, 3);
    assert.equal(scalarsOf(readEvents(never.path).events[1]!).length, 0);
  });

  it('hands each record to the OS at once: readable before flush or close', () => {
    const writer = EventWriter.open(freshDir());
    writer.scalar('loss', 1, 1);
    writer.histogram('h', [1, 2, 3], 1);
    const { events, errors } = readEvents(writer.path);
    assert.deepEqual(errors, []);
    assert.equal(events.length, 3);
    writer.flush();
    writer.close();
  });

  it('keeps what was written when the process is killed (SIGKILL, no close)', () => {
    const dir = freshDir();
    const moduleUrl = new URL('./tfevents.js', import.meta.url).href;
    const script = [
      `const { EventWriter } = await import(${JSON.stringify(moduleUrl)});`,
      `const w = EventWriter.open(${JSON.stringify(dir)});`,
      `for (let step = 0; step < 50; step++) w.scalar('loss', step, step);`,
      `process.kill(process.pid, 'SIGKILL');`,
    ].join('\n');
    // Inherit the loader flags (tsx when running from source) so the child can import this module.
    const child = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(child.signal, 'SIGKILL', `child did not die by SIGKILL: ${child.stderr}`);
    const [file] = readEventDir(dir);
    assert.ok(file !== undefined, 'no event file left by the killed process');
    assert.deepEqual(file.errors, []);
    assert.equal(file.events.length, 51);
    assert.deepEqual(scalarsOf(file.events[50]!), [['loss', 49]]);
  });

  it('refuses bad input with a coded error that says what to do', () => {
    const writer = EventWriter.open(freshDir());
    const code = (f: () => void): string => {
      try {
        f();
      } catch (error) {
        assert.ok(error instanceof EventWriterError);
        return error.code;
      }
      return 'no error';
    };
    assert.equal(
      code(() => writer.scalar('loss', 1, 1.5)),
      'invalid_value',
    );
    assert.equal(
      code(() => writer.scalar('loss', 1, 2 ** 60)),
      'invalid_value',
    );
    assert.equal(
      code(() => writer.scalar('', 1, 1)),
      'invalid_value',
    );
    assert.equal(
      code(() => writer.scalar('loss', 1, 1, NaN)),
      'invalid_value',
    );
    assert.throws(() => writer.scalar('loss', 1, 1.5), /Math\.round/);
    writer.close();
    writer.close();
    assert.equal(
      code(() => writer.scalar('loss', 1, 1)),
      'invalid_state',
    );
    assert.equal(readEvents(writer.path).events.length, 1, 'refused calls wrote nothing');
  });
});

/** A file of `count` scalar events after the header, with the byte offset of each record. */
function sampleFile(count: number): { bytes: Uint8Array; offsets: number[] } {
  const records = [encodeRecord(encodeEvent({ wallTime: 1, step: 0, fileVersion: FILE_VERSION }))];
  for (let step = 1; step <= count; step++) {
    records.push(
      encodeRecord(
        encodeEvent({ wallTime: 1 + step, step, values: [{ kind: 'scalar', tag: 'x', value: step }] }),
      ),
    );
  }
  const offsets: number[] = [];
  let total = 0;
  for (const r of records) {
    offsets.push(total);
    total += r.length;
  }
  const bytes = new Uint8Array(total);
  records.forEach((r, i) => bytes.set(r, offsets[i]!));
  return { bytes, offsets };
}

describe('readEvents on damaged files', () => {
  it('returns the complete events of a truncated file and names the offset of the cut record', () => {
    const { bytes, offsets } = sampleFile(5);
    const last = offsets[5]!;
    for (const cut of [last + 3, last + 12, bytes.length - 1]) {
      const { events, errors } = readEvents(bytes.subarray(0, cut));
      assert.deepEqual(
        events.map((e) => e.step),
        [0, 1, 2, 3, 4],
      );
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.code, 'truncated-record');
      assert.equal(errors[0]!.offset, last);
      assert.match(errors[0]!.message, new RegExp(`at byte ${last}`));
    }
    assert.deepEqual(readEvents(bytes.subarray(0, last)).errors, [], 'a cut between records is no error');
    assert.deepEqual(readEvents(new Uint8Array(0)), { events: [], errors: [] });
  });

  it('skips a record whose data checksum fails and reads on', () => {
    const { bytes, offsets } = sampleFile(4);
    const damaged = bytes.slice();
    damaged[offsets[2]! + 14]! ^= 0x01;
    const { events, errors } = readEvents(damaged);
    assert.deepEqual(
      events.map((e) => e.step),
      [0, 1, 3, 4],
    );
    assert.deepEqual(
      errors.map((e) => [e.code, e.offset]),
      [['data-checksum-mismatch', offsets[2]]],
    );
  });

  it('stops at a record whose length checksum fails', () => {
    const { bytes, offsets } = sampleFile(4);
    const damaged = bytes.slice();
    damaged[offsets[3]!]! ^= 0x40;
    const { events, errors } = readEvents(damaged);
    assert.deepEqual(
      events.map((e) => e.step),
      [0, 1, 2],
    );
    assert.deepEqual(
      errors.map((e) => [e.code, e.offset]),
      [['length-checksum-mismatch', offsets[3]]],
    );
  });

  it('reports a record with valid checksums but an undecodable event', () => {
    const { bytes } = sampleFile(1);
    const garbage = encodeRecord(new Uint8Array([0x0a, 0x7f, 0x01]));
    const file = new Uint8Array(bytes.length + garbage.length);
    file.set(bytes);
    file.set(garbage, bytes.length);
    const { events, errors } = readEvents(file);
    assert.equal(events.length, 2);
    assert.deepEqual(
      errors.map((e) => [e.code, e.offset]),
      [['malformed-event', bytes.length]],
    );
  });

  it('frames records with both masked CRCs', () => {
    const data = new TextEncoder().encode('event bytes');
    const record = encodeRecord(data);
    const view = new DataView(record.buffer);
    assert.equal(view.getBigUint64(0, true), BigInt(data.length));
    assert.equal(view.getUint32(8, true), maskedCrc32c(record, 0, 8));
    assert.deepEqual(record.subarray(12, 12 + data.length), data);
    assert.equal(view.getUint32(12 + data.length, true), maskedCrc32c(data));
  });
});

/** Builds a Summary.Value holding a tensor, as TF2 / PyTorch new_style write them. */
function tensorValue(
  tag: string,
  plugin: string | null,
  tensor: (w: ProtoWriter) => void,
): (summary: ProtoWriter) => void {
  return (summary) =>
    summary.message(1, (value) => {
      value.string(1, tag).message(8, tensor);
      if (plugin !== null) value.message(9, (m) => m.message(1, (p) => p.string(1, plugin)));
    });
}
function tensorEvent(step: number, ...values: Array<(summary: ProtoWriter) => void>): Uint8Array {
  const event = new ProtoWriter()
    .double(1, 1700000000)
    .int64(2, step)
    .message(5, (summary) => values.forEach((v) => v(summary)));
  return encodeRecord(event.finish());
}
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
const f32Bytes = (x: number): Uint8Array => new Uint8Array(Float32Array.of(x).buffer);
const f64Bytes = (xs: number[]): Uint8Array => new Uint8Array(Float64Array.from(xs).buffer);

describe('readEvents on tensor-valued summaries', () => {
  it('decodes float32/float64/half scalars from float_val, double_val, half_val and tensor_content', () => {
    const DT_FLOAT = 1;
    const DT_DOUBLE = 2;
    const DT_HALF = 19;
    const file = concat(
      tensorEvent(
        1,
        tensorValue('packed_float_val', 'scalars', (t) =>
          t
            .int64(1, DT_FLOAT)
            .message(2, () => {})
            .bytes(5, f32Bytes(0.5)),
        ),
      ),
      tensorEvent(
        2,
        tensorValue('unpacked_float_val', 'scalars', (t) => t.int64(1, DT_FLOAT).float(5, 0.25)),
      ),
      tensorEvent(
        3,
        tensorValue('content_float', 'scalars', (t) => t.int64(1, DT_FLOAT).bytes(4, f32Bytes(-3))),
      ),
      tensorEvent(
        4,
        tensorValue('content_double', 'scalars', (t) => t.int64(1, DT_DOUBLE).bytes(4, f64Bytes([0.1]))),
      ),
      tensorEvent(
        5,
        tensorValue('double_val', 'scalars', (t) => t.int64(1, DT_DOUBLE).packedDoubles(6, [1e-300])),
      ),
      tensorEvent(
        6,
        tensorValue('half_val', 'scalars', (t) => t.int64(1, DT_HALF).int64(13, 0x3c00 + 0x200)),
      ),
      tensorEvent(
        7,
        tensorValue('content_nan', 'scalars', (t) => t.int64(1, DT_FLOAT).bytes(4, f32Bytes(NaN))),
      ),
    );
    const { events, errors } = readEvents(file);
    assert.deepEqual(errors, []);
    const got = events.map((e) => e.values[0]!);
    const expected: Array<[string, number]> = [
      ['packed_float_val', 0.5],
      ['unpacked_float_val', 0.25],
      ['content_float', -3],
      ['content_double', 0.1],
      ['double_val', 1e-300],
      ['half_val', 1.5],
      ['content_nan', NaN],
    ];
    assert.deepEqual(
      got,
      expected.map(([tag, value]): ParsedValue => ({ kind: 'scalar', tag, value, source: 'tensor' })),
    );
  });

  it('applies plugin metadata sent only with the first value of a tag to later values (TF2 behaviour)', () => {
    const scalar = (x: number) => (t: ProtoWriter) => t.int64(1, 1).bytes(4, f32Bytes(x));
    const file = concat(
      tensorEvent(1, tensorValue('loss', 'scalars', scalar(3)), tensorValue('blob', null, scalar(9))),
      tensorEvent(2, tensorValue('loss', null, scalar(2))),
      tensorEvent(3, tensorValue('loss', null, scalar(1))),
    );
    const { events } = readEvents(file);
    assert.deepEqual(
      [...scalarSeries(events).get('loss')!].map((p) => [p.step, p.value]),
      [
        [1, 3],
        [2, 2],
        [3, 1],
      ],
    );
    assert.deepEqual(events[0]!.values[1], { kind: 'other', tag: 'blob', pluginName: null });
  });

  it('reports a scalars-plugin tensor that is not a scalar, without losing the rest of the file', () => {
    const file = concat(
      tensorEvent(
        1,
        tensorValue('bad', 'scalars', (t) => t.int64(1, 2).bytes(4, f64Bytes([1, 2]))),
      ),
      tensorEvent(
        2,
        tensorValue('bad', 'scalars', (t) => t.int64(1, 7).bytes(4, new Uint8Array(1))),
      ),
      tensorEvent(
        3,
        tensorValue('ok', 'scalars', (t) => t.int64(1, 1).float(5, 4)),
      ),
    );
    const { events, errors } = readEvents(file);
    assert.deepEqual(
      events.map((e) => e.step),
      [3],
    );
    assert.deepEqual(
      errors.map((e) => e.code),
      ['malformed-event', 'malformed-event'],
    );
    assert.match(errors[1]!.message, /unsupported tensor dtype 7/);
  });
});

describe('readEvents on files from real TensorBoard writers', () => {
  it('reads PyTorch SummaryWriter output: simple_value, new_style float/double tensors, histograms, text', () => {
    const { events, errors } = readEvents(Buffer.from(TORCH_SUMMARY_WRITER_EVENTS, 'base64'));
    assert.deepEqual(errors, []);
    assert.equal(events[0]!.fileVersion, FILE_VERSION);
    const rows = events
      .slice(1)
      .map((e) => [e.step, e.wallTime, e.values.map((v) => `${v.kind}:${v.tag}`).join()]);
    assert.deepEqual(rows, [
      [0, 1700000000.5, 'scalar:loss'],
      [1, 1700000001, 'scalar:loss'],
      [2, 1700000002, 'scalar:loss'],
      [2 ** 33 + 7, 1700000003, 'scalar:big_step'],
      [5, 1700000004, 'scalar:new_style'],
      [6, 1700000005, 'scalar:new_style_double'],
      [3, 1700000006, 'histogram:weights'],
      [4, 1700000007, 'other:note/text_summary'],
    ]);
    const series = scalarSeries(events);
    assert.deepEqual(
      series.get('loss')!.map((p) => p.value),
      [2.5, 0.125, NaN],
    );
    assert.equal(series.get('new_style')![0]!.value, Math.fround(0.1));
    assert.equal(series.get('new_style_double')![0]!.value, 0.1);
    const histogram = histogramOf(events[7]!);
    assert.equal(histogram.min, 0.25);
    assert.equal(histogram.max, 3);
    assert.equal(histogram.num, 5);
    assert.equal(histogram.sum, 5.25);
    assert.equal(histogram.sumSquares, 10.5625);
    assert.equal(
      histogram.bucket.reduce((a, b) => a + b, 0),
      5,
    );
    // PyTorch bins with the same default edges as gradscope: its limits are a run of ours.
    const start = DEFAULT_BUCKET_LIMITS.indexOf(histogram.bucketLimit[0]!);
    assert.ok(start > 0);
    assert.deepEqual(
      histogram.bucketLimit,
      Array.from(DEFAULT_BUCKET_LIMITS.subarray(start, start + histogram.bucketLimit.length)),
    );
    const ours = buildHistogram([0.25, 0.5, 0.5, 1, 3]).histogram;
    assert.deepEqual(
      ours.bucketLimit.filter((_, i) => ours.bucket[i]! > 0),
      histogram.bucketLimit.filter((_, i) => histogram.bucket[i]! > 0),
      'same values land under the same edges',
    );
  });

  it('reads TF2 tf.summary output: tensor scalars and [k, 3] histogram tensors', () => {
    const { events, errors } = readEvents(Buffer.from(TF2_SUMMARY_EVENTS, 'base64'));
    assert.deepEqual(errors, []);
    const series = scalarSeries(events);
    assert.deepEqual(
      series.get('loss')!.map((p) => [p.step, p.value]),
      [
        [0, 1],
        [1, 0.5],
        [2, Math.fround(1 / 3)],
      ],
    );
    assert.deepEqual(
      series.get('loss64')!.map((p) => p.value),
      [Math.fround(0.1)],
    );
    const histograms = events.flatMap((e) =>
      e.values.filter((v) => v.kind === 'histogram').map((v) => [e.step, v] as const),
    );
    assert.equal(histograms.length, 2);
    const [step, value] = histograms[0]!;
    assert.equal(step, 4);
    assert.ok(value.kind === 'histogram');
    assert.equal(value.source, 'tensor');
    assert.equal(value.histogram.min, 0.25);
    assert.equal(value.histogram.max, 3);
    assert.equal(value.histogram.num, 5);
    assert.deepEqual(value.histogram.bucket, [4, 0, 1]);
    assert.ok(events.some((e) => e.values.some((v) => v.kind === 'other' && v.pluginName === 'text')));
  });
});

describe('readEventDir', () => {
  it('reads every tfevents file in name order, optionally recursing into run subdirectories', () => {
    const dir = freshDir();
    const later = EventWriter.open(dir, { wallClock: fixedClock(1700000100) });
    const earlier = EventWriter.open(dir, { wallClock: fixedClock(1700000000) });
    later.scalar('x', 2, 2);
    earlier.scalar('x', 1, 1);
    const nested = EventWriter.open(join(dir, 'eval'), { wallClock: fixedClock(1700000000) });
    nested.scalar('x', 3, 3);
    for (const w of [later, earlier, nested]) w.close();
    writeFileSync(join(dir, 'notes.txt'), 'not an event file');
    mkdirSync(join(dir, 'empty'));

    const files = readEventDir(dir);
    assert.deepEqual(
      files.map((f) => f.path),
      [earlier.path, later.path],
    );
    assert.deepEqual(
      files.map((f) => f.events.length),
      [2, 2],
    );
    const all = readEventDir(dir, { recursive: true });
    assert.deepEqual(
      all.map((f) => f.path),
      [earlier.path, later.path, nested.path],
    );
  });
});

/** scripts/read_tfevents.py, relative to this file in src/io or dist/io. */
const PYTHON_DECODER = fileURLToPath(new URL('../../scripts/read_tfevents.py', import.meta.url));

type PyValue =
  | { kind: 'scalar'; tag: string; value: number | string }
  | {
      kind: 'histogram';
      tag: string;
      min: number;
      max: number;
      num: number;
      sum: number;
      sum_squares: number;
      bucket_limit: number[];
      bucket: number[];
    }
  | { kind: 'other'; tag: string; plugin: string | null };
interface PyOutput {
  files: Array<{
    path: string;
    events: Array<{
      offset: number;
      wall_time: number;
      step: number;
      file_version?: string;
      values: PyValue[];
    }>;
    errors: Array<{ offset: number; message: string }>;
  }>;
}

function runPythonDecoder(path: string): { status: number | null; output: PyOutput } | null {
  const run = spawnSync('python3', [PYTHON_DECODER, path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error !== undefined) return null;
  assert.ok(run.status === 0 || run.status === 1, `read_tfevents.py failed (${run.status}): ${run.stderr}`);
  return { status: run.status, output: JSON.parse(run.stdout) as PyOutput };
}
const pythonAvailable = spawnSync('python3', ['--version']).error === undefined;
const skipWithoutPython = pythonAvailable
  ? false
  : 'python3 not found on PATH: the independent decoder scripts/read_tfevents.py cannot run';
const fromPy = (x: number | string): number =>
  typeof x === 'number' ? x : x === 'NaN' ? NaN : x === 'Infinity' ? Infinity : -Infinity;

describe('independent decoder (scripts/read_tfevents.py)', () => {
  it(
    'agrees with the TypeScript writer on tags, steps, wall times, scalars and histograms',
    { skip: skipWithoutPython },
    () => {
      const dir = freshDir();
      const writer = EventWriter.open(dir, { wallClock: fixedClock(1700000000.125) });
      writer.scalar('loss', 0.1, 0);
      writer.scalar('loss', NaN, 1);
      writer.scalars({ 'grad_norm/a': 1e-30, 'grad_norm/b': -Infinity }, 2 ** 33 + 7, 1700000009.5);
      writer.histogram(
        'grad/w',
        Float64Array.from({ length: 500 }, (_, i) => Math.cos(i) * 2 ** ((i % 40) - 30)),
        3,
      );
      writer.histogram('grad/nan', [NaN, 1, -1], 4);
      writer.histogram('grad/empty', [], 5);
      writer.close();

      const result = runPythonDecoder(writer.path);
      assert.ok(result !== null);
      assert.equal(result.status, 0);
      const [file] = result.output.files;
      assert.ok(file !== undefined);
      assert.deepEqual(file.errors, []);
      const ours = readEvents(writer.path).events;
      assert.equal(file.events.length, ours.length);
      ours.forEach((event, i) => {
        const theirs = file.events[i]!;
        assert.equal(theirs.offset, event.offset);
        assert.equal(theirs.step, event.step);
        assert.equal(theirs.wall_time, event.wallTime);
        assert.equal(theirs.file_version, event.fileVersion);
        assert.equal(theirs.values.length, event.values.length);
        event.values.forEach((value, j) => {
          const other = theirs.values[j]!;
          assert.equal(other.tag, value.tag);
          assert.equal(other.kind, value.kind);
          if (value.kind === 'scalar' && other.kind === 'scalar')
            assert.equal(fromPy(other.value), value.value);
          if (value.kind === 'histogram' && other.kind === 'histogram') {
            const h = value.histogram;
            assert.deepEqual(
              [
                other.min,
                other.max,
                other.num,
                other.sum,
                other.sum_squares,
                other.bucket_limit,
                other.bucket,
              ],
              [h.min, h.max, h.num, h.sum, h.sumSquares, h.bucketLimit, h.bucket],
            );
          }
        });
      });
      assert.equal(file.events[3]!.step, 2 ** 33 + 7);
    },
  );

  it('finds the same damage at the same offsets', { skip: skipWithoutPython }, () => {
    const { bytes, offsets } = sampleFile(4);
    const damaged = bytes.slice(0, bytes.length - 5);
    damaged[offsets[1]! + 13]! ^= 0x10;
    const path = join(freshDir() + '.tfevents');
    writeFileSync(path, damaged);
    const result = runPythonDecoder(path);
    assert.ok(result !== null);
    assert.equal(result.status, 1);
    const theirs = result.output.files[0]!;
    const ours = readEvents(readFileSync(path));
    assert.deepEqual(
      theirs.errors.map((e) => e.offset),
      ours.errors.map((e) => e.offset),
    );
    assert.deepEqual(
      ours.errors.map((e) => e.code),
      ['data-checksum-mismatch', 'truncated-record'],
    );
    assert.deepEqual(
      theirs.events.map((e) => e.step),
      ours.events.map((e) => e.step),
    );
  });
});
