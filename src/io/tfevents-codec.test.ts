import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { histogram, rebinHistogram } from '../monitor/histogram.js';
import { Rng } from '../tensor/rng.js';
import {
  buildHistogram,
  decodeEvents,
  encodeEvent,
  encodeRecord,
  type HistogramData,
  type ParsedEvent,
} from './tfevents-codec.js';
import { TORCH_SUMMARY_WRITER_EVENTS } from './tfevents-fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Every module `file` imports, transitively, by relative path (the compiled .js beside this test). */
function importsOf(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
    const spec = match[1] as string;
    if (spec.startsWith('.')) importsOf(join(dirname(file), spec), seen);
    else seen.add(spec);
  }
  return seen;
}

function histogramOf(event: ParsedEvent | undefined): HistogramData {
  const value = event?.values[0];
  assert.ok(value?.kind === 'histogram', 'a histogram value');
  return value.histogram;
}

/** An equal-width histogram as a HistogramProto: bucket i's right edge, the last one max. */
function asProto(h: ReturnType<typeof histogram>, values: ArrayLike<number>): HistogramData {
  const k = h.counts.length;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      sum += v;
      sumSquares += v * v;
    }
  }
  return {
    min: h.min,
    max: h.max,
    num: h.counts.reduce((a, b) => a + b, 0),
    sum,
    sumSquares,
    bucketLimit: h.counts.map((_, i) => (i === k - 1 ? h.max : h.min + ((i + 1) / k) * (h.max - h.min))),
    bucket: h.counts,
  };
}

describe('tfevents codec', () => {
  it('imports nothing from node: (the browser can decode event files)', () => {
    const imports = [...importsOf(join(here, 'tfevents-codec.js'))];
    assert.deepEqual(
      imports.filter((spec) => spec.startsWith('node:') || !spec.startsWith('/')),
      [],
    );
    assert.ok(imports.some((path) => path.endsWith('crc32c.js')));
  });

  it('round-trips a 30-bucket monitor histogram as a HistogramProto, NaN counts aside', () => {
    const rng = new Rng(9);
    const values = Float32Array.from({ length: 500 }, () => rng.normal() * 0.02);
    values[3] = NaN;
    const h = histogram(values);
    const proto = asProto(h, values);
    const bytes = encodeRecord(
      encodeEvent({
        wallTime: 1700000000.25,
        step: 40,
        values: [{ kind: 'histogram', tag: 'layers.0.weight', histogram: proto }],
      }),
    );
    const { events, errors } = decodeEvents(bytes);
    assert.deepEqual(errors, []);
    assert.equal(events[0]?.step, 40);
    assert.equal(events[0]?.wallTime, 1700000000.25);
    const decoded = histogramOf(events[0]);
    assert.deepEqual(decoded, proto, 'every HistogramProto field, bit for bit');
    const back = rebinHistogram(decoded).counts;
    back.forEach((count, i) =>
      assert.ok(
        Math.abs(count - (h.counts[i] as number)) < 1e-9,
        `equal-width bucket ${i} comes back as it was`,
      ),
    );
    assert.equal(h.nan, 1);
  });

  it("decodes PyTorch SummaryWriter's histogram from bytes and re-bins it into equal widths", () => {
    const bytes = Uint8Array.from(atob(TORCH_SUMMARY_WRITER_EVENTS), (c) => c.charCodeAt(0));
    const { events, errors } = decodeEvents(bytes);
    assert.deepEqual(errors, []);
    const event = events.find((e) => e.values[0]?.kind === 'histogram');
    const torch = histogramOf(event);
    assert.equal(event?.step, 3);
    // add_histogram('weights', [0.25, 0.5, 0.5, 1.0, 3.0]) over [0.25, 3] in 4 buckets of width 0.6875.
    const rebinned = rebinHistogram(torch, 4);
    assert.equal(rebinned.min, 0.25);
    assert.equal(rebinned.max, 3);
    assert.ok(Math.abs(rebinned.counts.reduce((a, b) => a + b, 0) - 5) < 1e-9);
    const ours = histogram([0.25, 0.5, 0.5, 1, 3], 4);
    // TensorFlow's narrow buckets put each value within ~10% of itself, so each lands in the same wide bucket.
    rebinned.counts.forEach((count, i) =>
      assert.ok(Math.abs(count - (ours.counts[i] as number)) < 0.35, `${i}`),
    );
    assert.deepEqual(ours.counts, [3, 1, 0, 1]);
  });

  it('decodes what buildHistogram encodes (TensorFlow edges) with the same totals', () => {
    const values = [0.5, -2, 3e-12, 7, NaN];
    const { histogram: h } = buildHistogram(values);
    const { events } = decodeEvents(
      encodeRecord(
        encodeEvent({ wallTime: 0, step: 1, values: [{ kind: 'histogram', tag: 'g', histogram: h }] }),
      ),
    );
    const decoded = histogramOf(events[0]);
    assert.equal(decoded.num, 4);
    assert.deepEqual(decoded.bucket, h.bucket);
    const rebinned = rebinHistogram(decoded);
    assert.ok(Math.abs(rebinned.counts.reduce((a, b) => a + b, 0) - 4) < 1e-9);
    assert.equal(rebinned.min, -2);
    assert.equal(rebinned.max, 7);
  });
});
