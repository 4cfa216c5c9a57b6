/** `gradscope fix` through the CLI: trials beside the control, ranked, in fixes.json and report.html. */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../config/index.js';
import { CLINIC } from '../../doctor/clinic.js';
import { gradscope, tempDir } from '../../testing/cli.js';
import { trainAll } from './fix.js';

function clinicConfig(dir: string, name: string, steps: number): string {
  const c = CLINIC.find((x) => x.name === name);
  assert.ok(c, name);
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ ...c.config, train: { steps, batchSize: 32 } }));
  return path;
}

interface FixesJson {
  budget: number;
  headline: string;
  best: string | null;
  control: { label: string; outcome: { accuracy?: number } };
  trials: { label: string; change: string; cures: boolean; outcome: { accuracy?: number }; patch: object }[];
}

describe('gradscope fix', () => {
  it('refuses an --out under a system file system before training, exit 2 in one line', () => {
    const r = gradscope(['fix', 'deep-sigmoid', '--out', '/proc/gradscope-fix']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--out \/proc\/gradscope-fix: lies under \/proc/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  it('--max-memory: a control or trial over the limit is refused before any training, naming the field', () => {
    const dir = tempDir();
    const out = join(dir, 'fixes');
    const r = gradscope([
      'fix',
      'deep-sigmoid',
      '--set',
      'train.batchSize=100000',
      '--max-memory',
      '256MiB',
      '--out',
      out,
    ]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^gradscope: train\.batchSize: \d+ makes .*; lower train\.batchSize/);
    assert.doesNotMatch(r.stderr, /training control/);
    const bad = gradscope(['fix', 'deep-sigmoid', '--max-memory', 'plenty', '--out', out]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--max-memory must be a size such as 4GiB/);
  });

  it('trains the top fixes beside the control and ranks them by what they measured', () => {
    const dir = tempDir();
    const config = clinicConfig(dir, 'sgd-lr-too-high-tanh', 200);
    const out = join(dir, 'fx');
    const r = gradscope(['fix', config, '--top', '2', '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as FixesJson;
    const written = JSON.parse(readFileSync(join(out, 'fixes.json'), 'utf8')) as FixesJson;
    assert.deepEqual(printed, written);
    assert.equal(written.budget, 200);
    assert.equal(written.trials.length, 2);
    const [best, second] = written.trials;
    assert.ok(best && second);
    assert.ok((best.outcome.accuracy ?? 0) >= (second.outcome.accuracy ?? 0), 'ranked by accuracy');
    assert.ok(best.cures, JSON.stringify(written));
    assert.equal(written.best, best.label);
    assert.match(
      written.headline,
      /^verified: \+\d+\.\d points accuracy in 200 steps with optimizer\.learningRate/,
    );
    for (const label of ['control', 'fix-1', 'fix-2'])
      assert.ok(existsSync(join(out, label, 'summary.json')), label);
    assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /fix-1/);
  });

  it('on a healthy run trains only the control and says so', () => {
    const dir = tempDir();
    const config = clinicConfig(dir, 'xor-relu', 300);
    const out = join(dir, 'fx');
    const r = gradscope(['fix', config, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /nothing to verify: the run is healthy/);
    assert.deepEqual(
      readdirSync(out).filter((f) => !f.includes('.')),
      ['control'],
    );
  });

  it('refuses a log it cannot re-train (no config.json) with exit 2 and the reason', () => {
    const dir = tempDir();
    const run = join(dir, 'run');
    const r0 = gradscope(['run', clinicConfig(dir, 'xor-relu', 20), '--out', run]);
    assert.equal(r0.status, 0, r0.stderr);
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    copyFileSync(join(run, 'metrics.jsonl'), join(foreign, 'metrics.jsonl'));
    const r = gradscope(['fix', foreign]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no config\.json.*cannot be verified/);
  });

  it('on a run directory writes its trials under it and records the verdict of verification in summary.json', () => {
    const dir = tempDir();
    const run = join(dir, 'run');
    assert.equal(gradscope(['run', clinicConfig(dir, 'adam-lr-too-small', 150), '--out', run]).status, 0);
    const r = gradscope(['fix', run, '--top', '1']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(run, 'fixes', 'fixes.json')));
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as {
      verified?: { headline: string };
    };
    assert.match(summary.verified?.headline ?? '', /^(verified|not verified)/);
  });

  it('run prints the top finding, its cause and fix #1 as a patch and as flags; --verify trains the fixes', () => {
    const dir = tempDir();
    const run = join(dir, 'run');
    const r = gradscope(['run', clinicConfig(dir, 'sgd-lr-too-high-tanh', 150), '--out', run, '--verify']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /cause: gradients were healthy at step 1.*the learning rate \(3\) is the cause/);
    assert.match(r.stderr, /fix #1: optimizer\.learningRate 0\.3 \(from 3\)/);
    assert.match(r.stderr, /flags: --set optimizer\.learningRate=0\.3/);
    assert.match(r.stderr, /^verified: \+/m);
    assert.ok(existsSync(join(run, 'fixes', 'fixes.json')));
  });

  it('a trial trained in a worker thread gives the same numbers as in this thread', async () => {
    const dir = tempDir();
    const c = CLINIC.find((x) => x.name === 'teacher-relu-adam');
    assert.ok(c);
    const config = resolveConfig(
      { ...c.config, train: { steps: 40, batchSize: 16 } },
      { defaultName: 'same' },
    );
    const jobs = [
      { config, dir: join(dir, 'a') },
      { config, dir: join(dir, 'b') },
    ];
    const [inWorker] = await trainAll(jobs, 2);
    const [here] = await trainAll([{ config, dir: join(dir, 'c') }], 1);
    assert.ok(inWorker && here);
    assert.equal(inWorker.eval.loss, here.eval.loss);
    assert.equal(inWorker.finalLoss, here.finalLoss);
    assert.equal(
      readFileSync(join(dir, 'a', 'metrics.jsonl'), 'utf8'),
      readFileSync(join(dir, 'c', 'metrics.jsonl'), 'utf8'),
    );
  });
});
