/**
 * Property-based tests of the doctor's readers (issue 11): metrics.jsonl and TensorBoard event files corrupted,
 * truncated and spliced at random end in a diagnosis or in a `DoctorInputError` (the CLI's exit 2 with one
 * line), never another exception, a stack trace or a hang. Seeded and bounded here; for a longer run by hand:
 * `GRADSCOPE_FUZZ_RUNS=5000 node --test dist/doctor/diagnose-fuzz.test.js`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringifyFinite } from '../io/jsonl.js';
import { EventWriter, readEvents } from '../io/tfevents.js';
import { gradscope } from '../testing/cli.js';
import { diagnosePath, DoctorInputError, readMetricsFile, readMetricsText } from './diagnose.js';
import { craftRun } from './test-records.js';

const RUNS = Number(process.env['GRADSCOPE_FUZZ_RUNS'] ?? 150);
const SEED = 11;
const dir = mkdtempSync(join(tmpdir(), 'gradscope-fuzz-'));

const RECORDS = craftRun(12, 10, (_step, i) => ({
  loss: i === 7 ? NaN : 1 / (i + 1),
  gradNorm: i === 7 ? Infinity : 0.5,
  skipped: i === 7,
  layers: [{ grad: 1e-3 }, { grad: 0.1 }, { grad: 0.4 }],
  activations: [{}, {}],
}));
const LINES = RECORDS.map((r) => stringifyFinite(r));

/** A line of metrics.jsonl damaged one of the ways a file meets: cut, spliced, a value replaced, garbage. */
const damagedLine = fc.oneof(
  fc.constantFrom(...LINES),
  fc.tuple(fc.constantFrom(...LINES), fc.nat()).map(([line, cut]) => line.slice(0, cut % (line.length + 1))),
  fc
    .tuple(fc.constantFrom(...LINES), fc.nat(), fc.string({ maxLength: 8 }))
    .map(([line, at, text]) => line.slice(0, at % line.length) + text + line.slice(at % line.length)),
  fc
    .tuple(
      fc.constantFrom(...LINES),
      fc.constantFrom('step', 'loss', 'params', 'gradNorm', 'name', 'layer'),
      fc.jsonValue(),
    )
    .map(([line, key, value]) => {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (key === 'name' || key === 'layer') {
        const params = record['params'] as Array<Record<string, unknown>>;
        if (params[0]) params[0][key] = value;
      } else record[key] = value;
      return JSON.stringify(record);
    }),
  fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '',
    'NaN',
    '"NaN"',
    '{}',
    '[]',
    '{"step":"NaN","params":[null,1,"x"],"loss":1,"gradNorm":1}',
  ),
);

/** Either a diagnosis or a DoctorInputError whose message is one line; anything else fails. */
function diagnosesOrRefuses(path: string): 'diagnosed' | 'refused' {
  try {
    const report = diagnosePath(path);
    assert.ok(report.input.records > 0);
    return 'diagnosed';
  } catch (error) {
    if (!(error instanceof DoctorInputError)) throw error;
    assert.doesNotMatch(error.message, /\n/);
    return 'refused';
  }
}

describe('fuzzed readers', () => {
  it('metrics.jsonl: any mixture of damaged lines is diagnosed or refused, with every bad line named', (t) => {
    const outcomes = { diagnosed: 0, refused: 0 };
    fc.assert(
      fc.property(fc.array(damagedLine, { maxLength: 30 }), (lines) => {
        const text = lines.join('\n');
        const { problems } = readMetricsText(text, 'm.jsonl');
        assert.ok(problems.every((p) => !p.includes('\n')));
        const path = join(dir, 'metrics.jsonl');
        writeFileSync(path, text);
        outcomes[diagnosesOrRefuses(path)]++;
      }),
      { seed: SEED, numRuns: RUNS },
    );
    t.diagnostic(`${RUNS} inputs: ${JSON.stringify(outcomes)}`);
    assert.ok(outcomes.diagnosed > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
  });

  it('TensorBoard event files: cut, flipped or spliced bytes are read as far as valid, never thrown', (t) => {
    const events = join(dir, 'events');
    const writer = EventWriter.open(events, { wallClock: () => 1 });
    for (let step = 1; step <= 20; step++) {
      writer.scalars({ loss: 1 / step, 'grad_norm/layers.0.weight': 0.1 * step }, step);
      writer.histogram('grad/layers.0.weight', [0.1, -0.2, 0.3 * step], step);
    }
    writer.close();
    const bytes = new Uint8Array(readFileSync(writer.path));
    const outcomes = { diagnosed: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.nat({ max: bytes.length }),
        fc.array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 })), {
          maxLength: 6,
        }),
        fc.uint8Array({ maxLength: 24 }),
        (cut, flips, junk) => {
          const damaged = new Uint8Array([...bytes.subarray(0, cut), ...junk]);
          for (const [at, mask] of flips)
            if (at < damaged.length) damaged[at] = (damaged[at] as number) ^ mask;
          const readout = readEvents(damaged);
          assert.ok(Array.isArray(readout.events) && Array.isArray(readout.errors));
          const path = join(dir, 'fuzzed.tfevents');
          writeFileSync(path, damaged);
          outcomes[diagnosesOrRefuses(path)]++;
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    t.diagnostic(`${RUNS} inputs: ${JSON.stringify(outcomes)}`);
    assert.ok(outcomes.diagnosed > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
  });

  it('the streamed reader reads a file as the text reader reads its text, lines across 1 MiB chunks included', () => {
    const lines: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 3.2 * 1024 ** 2; i++) {
      const line =
        i % 97 === 5
          ? '{"step": 3, "bro'
          : (LINES[i % LINES.length] as string).replace(/"step":\d+/, `"step":${i + 1}`);
      lines.push(line);
      bytes += line.length + 1;
    }
    const text = lines.join('\n') + '\n';
    const path = join(dir, 'long.jsonl');
    writeFileSync(path, text);
    const streamed = readMetricsFile(path);
    const whole = readMetricsText(text, path);
    assert.deepEqual(streamed.problems, whole.problems);
    assert.equal(streamed.records.length, whole.records.length);
    assert.deepEqual(
      streamed.records.map((r) => r.step),
      whole.records.map((r) => r.step),
    );
  });

  it('through the CLI: exit 0 or exit 2 with one line on stderr, never a stack trace', () => {
    fc.assert(
      fc.property(fc.array(damagedLine, { maxLength: 12 }), (lines) => {
        const path = join(dir, 'cli.jsonl');
        writeFileSync(path, lines.join('\n'));
        const r = gradscope(['doctor', path, '--json']);
        assert.ok(r.status === 0 || r.status === 2, `exit ${r.status}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
        if (r.status === 2) assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        else JSON.parse(r.stdout);
      }),
      { seed: SEED, numRuns: 6 },
    );
  });
});
