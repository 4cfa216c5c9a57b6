/** Reading logs: metrics.jsonl (corrupt, truncated), run directories, TensorBoard events; the online hook's cost. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findPreset, resolveConfig } from '../config/index.js';
import { stringifyFinite } from '../io/jsonl.js';
import type { MetricsRecord } from '../io/runlog.js';
import { EventWriter } from '../io/tfevents.js';
import { diagnoseOnline, diagnosePath, DoctorInputError, readMetricsText } from './diagnose.js';
import { THRESHOLDS } from './rules.js';
import { craftRecord, craftRun, healthyLayers } from './test-records.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gradscope-doctor-'));
}

const vanishingRun = (): MetricsRecord[] =>
  craftRun(20, 10, () => ({
    layers: [{ grad: 1e-13, maxAbs: 1e-14 }, { grad: 1e-10 }, { grad: 1e-7 }, { grad: 1e-4 }, { grad: 0.4 }],
    activations: [{}, {}, {}, {}],
  }));

function jsonl(records: readonly MetricsRecord[]): string {
  return records.map((r) => stringifyFinite(r)).join('\n') + '\n';
}

describe('readMetricsText', () => {
  it('keeps every valid line and names each bad one: invalid JSON, a non-record, a truncated tail', () => {
    const lines = jsonl(vanishingRun()).trimEnd().split('\n');
    lines.splice(3, 0, '{"step": 35, "loss": 0.5, "params": [{"name"');
    lines.splice(6, 0, '{"hello": "world"}');
    const text = lines.join('\n').slice(0, -25);
    const { records, problems } = readMetricsText(text, 'm.jsonl');
    assert.equal(records.length, 19, 'the 20 records less the truncated last one');
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0] as string, /^m\.jsonl line 4: .*skipped/);
    assert.match(problems.find((p) => p.includes('line 22')) ?? '', /line 22/);
    assert.match(
      problems.find((p) => p.includes('not a metrics record')) ?? '',
      /line 7: not a metrics record \(missing step, loss, gradNorm, params\)/,
    );
  });

  it('reads "NaN" and "Infinity" strings back as numbers', () => {
    const text = jsonl([craftRecord({ step: 1, layers: healthyLayers(), loss: NaN, gradNorm: Infinity })]);
    const { records } = readMetricsText(text, 'x');
    assert.ok(Number.isNaN(records[0]?.loss));
    assert.equal(records[0]?.gradNorm, Infinity);
  });
});

describe('diagnosePath', () => {
  it('diagnoses a run directory with its config: specific causes, kind run-directory', () => {
    const dir = tempDir();
    const config = resolveConfig(findPreset('deep-sigmoid')?.config, { defaultName: 'deep-sigmoid' });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    writeFileSync(join(dir, 'metrics.jsonl'), jsonl(vanishingRun()));
    const report = diagnosePath(dir);
    assert.equal(report.verdict, 'vanishing');
    assert.equal(report.input.kind, 'run-directory');
    assert.equal(report.input.records, 20);
    assert.deepEqual(report.input.steps, [1, 190]);
    assert.equal(report.input.config, join(dir, 'config.json'));
    assert.match(report.findings[0]?.cause ?? '', /20-layer sigmoid MLP/);
  });

  it('diagnoses a bare metrics file of any name with generic causes, and a bad config.json is a note, not a failure', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'log.jsonl'), jsonl(vanishingRun()));
    writeFileSync(join(dir, 'config.json'), '{"model": {"activation": "sigmod"}}');
    const report = diagnosePath(join(dir, 'log.jsonl'));
    assert.equal(report.verdict, 'vanishing');
    assert.equal(report.input.kind, 'metrics');
    assert.equal(report.input.config, null);
    assert.ok(
      report.problems.some((p) => p.includes('config.json') && p.includes('generic')),
      report.problems.join('\n'),
    );
  });

  it('reads a truncated metrics.jsonl up to the bad line and says which line it was', () => {
    const dir = tempDir();
    const path = join(dir, 'metrics.jsonl');
    writeFileSync(path, jsonl(vanishingRun()));
    truncateSync(path, readFileSync(path).length - 40);
    const report = diagnosePath(path);
    assert.equal(report.verdict, 'vanishing');
    assert.equal(report.input.records, 19);
    assert.ok(
      report.problems.some((p) => p.includes('line 20')),
      report.problems.join('\n'),
    );
  });

  it('throws an input error naming the path, the problem and what is accepted when nothing is readable', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'garbage.jsonl'), 'not json\n{"also": "not a record"}\n');
    assert.throws(
      () => diagnosePath(join(dir, 'garbage.jsonl')),
      (error: unknown) =>
        error instanceof DoctorInputError &&
        error.message.includes('garbage.jsonl') &&
        error.message.includes('line 1') &&
        error.message.includes('no readable metrics record') &&
        error.message.includes('accepts a run directory'),
    );
    assert.throws(
      () => diagnosePath(join(dir, 'missing')),
      (e: unknown) => e instanceof DoctorInputError && /does not exist/.test(e.message),
    );
    mkdirSync(join(dir, 'empty-run'));
    assert.throws(
      () => diagnosePath(join(dir, 'empty-run')),
      (e: unknown) => e instanceof DoctorInputError && /without metrics\.jsonl/.test(e.message),
    );
    writeFileSync(join(dir, 'empty.jsonl'), '');
    assert.throws(
      () => diagnosePath(join(dir, 'empty.jsonl')),
      (e: unknown) => e instanceof DoctorInputError && /is empty/.test(e.message),
    );
  });
});

/** Write records as gradscope's TensorBoard tags (CONTRACT.md): scalars and gradient histograms. */
function writeEvents(
  dir: string,
  records: readonly MetricsRecord[],
  options: { lossTag?: string; histograms?: boolean } = {},
): string {
  const writer = EventWriter.open(dir);
  for (const r of records) {
    writer.scalar(options.lossTag ?? 'loss', r.loss, r.step);
    writer.scalar('lr', r.lr, r.step);
    writer.scalar('grad_norm/global', r.gradNorm, r.step);
    for (const p of r.params) {
      writer.scalar(`grad_norm/${p.name}`, p.gradNorm, r.step);
      writer.scalar(`weight_norm/${p.name}`, p.weightNorm, r.step);
      writer.scalar(`update_ratio/${p.name}`, p.updateRatio, r.step);
      if (options.histograms) writer.histogram(`grad/${p.name}`, [p.maxAbsGrad, -p.maxAbsGrad / 2], r.step);
    }
  }
  writer.close();
  return writer.path;
}

describe('TensorBoard input', () => {
  it('maps gradscope tags back onto records and diagnoses them like metrics.jsonl', () => {
    const dir = tempDir();
    writeEvents(dir, vanishingRun(), { histograms: true });
    const report = diagnosePath(dir);
    assert.equal(report.input.kind, 'tensorboard');
    assert.equal(report.input.records, 20);
    assert.equal(report.verdict, 'vanishing');
    const f = report.findings[0];
    assert.equal(f?.code, 'vanishing_gradient');
    assert.ok(
      f?.evidence.some((e) => e.includes('layer 0 gradient norm 1e-13')),
      f?.evidence.join('\n'),
    );
  });

  it('reads a single event file, reports a truncated tail by byte offset, and accepts PyTorch-style loss tags', () => {
    const dir = tempDir();
    const path = writeEvents(
      dir,
      craftRun(12, 10, () => ({ layers: healthyLayers() })),
      { lossTag: 'Loss/train' },
    );
    truncateSync(path, readFileSync(path).length - 7);
    const report = diagnosePath(path);
    assert.equal(report.verdict, 'healthy');
    assert.ok(
      report.problems.some((p) => /byte \d+: truncated record/.test(p)),
      report.problems.join('\n'),
    );
    assert.ok(report.input.records >= 11);
  });

  it('an event file with nothing the doctor can use is an input error that lists the tags it found', () => {
    const dir = tempDir();
    const writer = EventWriter.open(dir);
    writer.scalar('accuracy/val', 0.9, 1);
    writer.close();
    assert.throws(
      () => diagnosePath(dir),
      (e: unknown) =>
        e instanceof DoctorInputError &&
        e.message.includes('accuracy/val') &&
        e.message.includes('grad_norm/<param>'),
    );
  });
});

describe('diagnoseOnline', () => {
  it('looks only at the first record and a bounded tail, whatever the length of the history', () => {
    const real = vanishingRun();
    const poisoned = new Proxy({} as MetricsRecord, {
      get(): never {
        throw new Error('diagnoseOnline read a record outside its window');
      },
    });
    const history = [
      real[0] as MetricsRecord,
      ...Array.from({ length: 10_000 }, () => poisoned),
      ...real.slice(-THRESHOLDS.onlineWindow),
    ];
    const findings = diagnoseOnline(history, null);
    assert.equal(findings[0]?.code, 'vanishing_gradient');
  });

  it('reports at step 1 what is visible at initialisation', () => {
    const first = craftRecord({
      step: 1,
      layers: Array.from({ length: 6 }, () => ({ grad: 1e-6, update: 1e-7 })),
    });
    assert.deepEqual(
      diagnoseOnline([first], null).map((f) => f.code),
      ['tiny_updates'],
    );
    assert.deepEqual(diagnoseOnline([], null), []);
  });
});
