/** End to end through the command line, as a user runs it (built CLI under dist/). */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseJsonl } from '../io/jsonl.js';
import { gradscope, tempDir } from '../testing/cli.js';

function writeConfig(dir: string, config: unknown): string {
  const path = join(dir, 'config.in.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe('gradscope run (end to end)', () => {
  it('a 4x64 ReLU/He MLP with Adam learns spirals to at least 95% accuracy', () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      seed: 1,
      task: { name: 'spirals' },
      model: { kind: 'mlp', depth: 4, width: 64, activation: 'relu', init: 'he-normal' },
      optimizer: { name: 'adam', learningRate: 0.01 },
      train: { steps: 1200, batchSize: 64 },
      monitor: { every: 50 },
    });
    const r = gradscope(['run', config, '--out', join(dir, 'run'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { eval: { accuracy: number }; steps: number };
    assert.equal(summary.steps, 1200);
    assert.ok(summary.eval.accuracy >= 0.95, `accuracy ${summary.eval.accuracy}`);
    const written = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8')) as unknown;
    assert.deepEqual(written, summary);
    const resolved = JSON.parse(readFileSync(join(dir, 'run', 'config.json'), 'utf8')) as {
      model: { hidden: number[] };
    };
    assert.deepEqual(resolved.model.hidden, [64, 64, 64, 64]);
    const { records, errors } = parseJsonl<{ step: number; params: Array<{ name: string; layer: number }> }>(
      readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8'),
    );
    assert.equal(errors.length, 0);
    assert.equal(records[0]?.step, 1, 'the first record is the state at initialisation');
    assert.deepEqual(
      records[0]?.params.map((p) => `${p.name}@${p.layer}`),
      [0, 1, 2, 3, 4].flatMap((l) => [`layers.${l}.weight@${l}`, `layers.${l}.bias@${l}`]),
    );
  });

  it('a 2-hidden-layer MLP on mnist reaches at least 93% test accuracy on the held-out digits', () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      seed: 0,
      task: { name: 'mnist' },
      model: { kind: 'mlp', hidden: [128, 64], activation: 'relu', init: 'he-normal' },
      optimizer: { name: 'adam', learningRate: 0.002 },
      train: { steps: 700, batchSize: 64 },
      monitor: { every: 100 },
    });
    const r = gradscope(['run', config, '--out', join(dir, 'run'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { eval: { accuracy: number } };
    assert.ok(summary.eval.accuracy >= 0.93, `test accuracy ${summary.eval.accuracy}`);
  });

  it('the same seed twice gives an identical metrics.jsonl; another seed does not', () => {
    const dir = tempDir();
    const run = (name: string, seed: number): string => {
      const r = gradscope([
        'run',
        'deep-sigmoid',
        '--steps',
        '30',
        '--seed',
        String(seed),
        '--out',
        join(dir, name),
      ]);
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(join(dir, name, 'metrics.jsonl'), 'utf8');
    };
    const a = run('a', 3);
    const b = run('b', 3);
    const c = run('c', 4);
    assert.ok(a.length > 100);
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  it('an unknown config key exits 2 naming the key and the nearest valid one', () => {
    const dir = tempDir();
    const config = writeConfig(dir, { task: { name: 'spirals' }, model: { kind: 'mlp', actvation: 'relu' } });
    const r = gradscope(['run', config, '--out', join(dir, 'run')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /actvation/);
    assert.match(r.stderr, /activation/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('bad input exits 2 with one clear message: missing file, malformed JSON, unknown preset, bad flag', () => {
    const dir = tempDir();
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "task": { "name": "spirals" }, }');
    for (const args of [
      ['run', join(dir, 'missing.json')],
      ['run', broken],
      ['run', 'no-such-preset'],
      ['run', 'deep-sigmoid', '--steps', '-3'],
      ['run', 'deep-sigmoid', '--bogus'],
      ['frobnicate'],
    ]) {
      const r = gradscope(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.trim().length > 0);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('refuses to overwrite an existing run directory', () => {
    const dir = tempDir();
    assert.equal(gradscope(['run', 'deep-sigmoid', '--steps', '2', '--out', join(dir, 'r')]).status, 0);
    const before = readFileSync(join(dir, 'r', 'metrics.jsonl'), 'utf8');
    const r = gradscope(['run', 'deep-sigmoid', '--steps', '2', '--out', join(dir, 'r')]);
    assert.equal(r.status, 2);
    assert.equal(readFileSync(join(dir, 'r', 'metrics.jsonl'), 'utf8'), before);
  });

  it('compare writes each run, comparison.json and one self-contained report', () => {
    const dir = join(tempDir(), 'cmp');
    const r = gradscope(['compare', 'deep-sigmoid', 'deep-relu-he', '--steps', '20', '--out', dir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const comparison = JSON.parse(r.stdout) as {
      runs: Array<{ name: string; dir: string }>;
      best: string | null;
    };
    assert.deepEqual(
      comparison.runs.map((x) => x.name),
      ['deep-sigmoid', 'deep-relu-he'],
    );
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'comparison.json'), 'utf8')), comparison);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    assert.match(html, /<svg/);
    assert.doesNotMatch(html, /(src|href)="https?:/);
    for (const run of comparison.runs) {
      for (const file of ['config.json', 'metrics.jsonl', 'summary.json', 'report.html']) {
        assert.ok(readFileSync(join(dir, run.dir, file), 'utf8').length > 0, `${run.dir}/${file}`);
      }
    }
  });

  it('presets --json lists every preset with a description', () => {
    const r = gradscope(['presets', '--json']);
    assert.equal(r.status, 0);
    const list = JSON.parse(r.stdout) as Array<{ name: string; description: string }>;
    assert.ok(list.length >= 5);
    for (const p of list) assert.ok(p.description.length > 10, p.name);
  });
});
