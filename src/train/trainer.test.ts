/** Checkpoints and resume in process: interrupted anywhere, a resumed run is the uninterrupted run, bit for bit. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/index.js';
import { CheckpointError } from '../io/checkpoint.js';
import { tempDir } from '../testing/cli.js';
import { TrainingSession } from './session.js';
import { train, type TrainResult } from './trainer.js';

const CONFIGS = {
  // Dropout (a generator inside the model), batch norm (running statistics), Adam, plateau schedule, AutoClip.
  mlp: {
    seed: 3,
    task: { name: 'spirals' },
    model: { kind: 'mlp', depth: 3, width: 16, norm: 'batch', dropout: 0.1 },
    optimizer: { name: 'adam', learningRate: 0.01 },
    schedule: { name: 'plateau', patience: 1 },
    clip: { name: 'autoclip' },
    train: { steps: 40, batchSize: 16, checkpointEvery: 7 },
    monitor: { every: 3 },
  },
  lstm: {
    seed: 1,
    task: { name: 'adding', length: 8 },
    model: { kind: 'lstm', hidden: 8 },
    optimizer: { name: 'momentum', learningRate: 0.05 },
    train: { steps: 30, batchSize: 8, checkpointEvery: 5 },
    monitor: { every: 4 },
  },
  // Rollback keeps a snapshot and halves the learning rate: guard state that a resume must carry.
  rollback: {
    seed: 2,
    task: { name: 'xor' },
    model: { kind: 'mlp', depth: 2, width: 8 },
    guard: 'rollback',
    optimizer: { name: 'rmsprop', learningRate: 0.01 },
    train: { steps: 30, batchSize: 8, checkpointEvery: 4 },
    monitor: { every: 5 },
  },
} as const;

/** The final weights' bytes, as text to compare exactly. */
const weights = (r: TrainResult): string =>
  r.model
    .parameters()
    .map((p) => new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength).join(','))
    .join(';');

/** summary.json without its wall-clock fields. */
function summaryText(dir: string): string {
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  delete summary['wallSeconds'];
  delete summary['stepsPerSecond'];
  return JSON.stringify(summary);
}

/** Train until `stopAt`, as an interrupt would stop it, and return the run directory. */
function interrupted(config: ReturnType<typeof resolveConfig>, stopAt: number, inject: number[]): string {
  const dir = tempDir();
  const controller = new AbortController();
  const r = train(config, {
    outDir: dir,
    checkpoints: true,
    injectNonFiniteAt: inject,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.step === stopAt) controller.abort();
    },
  });
  assert.equal(r.interrupted, true);
  assert.equal(r.summary.stoppedEarly, 'interrupted');
  assert.equal(r.summary.steps, stopAt);
  return dir;
}

describe('checkpoints and resume', () => {
  for (const [name, raw] of Object.entries(CONFIGS)) {
    it(`${name}: stopped at 1, 9, 17 or 23 steps and resumed, metrics, weights and summary are identical`, () => {
      const config = resolveConfig(raw, { defaultName: name });
      const inject = name === 'rollback' ? [6, 15] : [];
      const reference = tempDir();
      const full = train(config, { outDir: reference, checkpoints: true, injectNonFiniteAt: inject });
      const metrics = readFileSync(join(reference, 'metrics.jsonl'), 'utf8');
      for (const stopAt of [1, 9, 17, 23]) {
        const dir = interrupted(config, stopAt, inject);
        assert.notEqual(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'), metrics);
        const resumed = train(config, {
          outDir: dir,
          checkpoints: true,
          resume: true,
          injectNonFiniteAt: inject,
        });
        assert.equal(resumed.resumedFrom, stopAt);
        assert.equal(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'), metrics, `${name} from ${stopAt}`);
        assert.ok(weights(resumed) === weights(full), `${name} weights from ${stopAt}`);
        assert.equal(summaryText(dir), summaryText(reference));
      }
    });
  }

  it("a resumed run's summary times the whole run: the seconds before the checkpoint carry over", () => {
    const config = resolveConfig(CONFIGS.mlp, { defaultName: 'timed' });
    const first = new TrainingSession(config);
    for (let i = 0; i < 10; i++) first.step();
    first.trainingSeconds += 1000; // as if the first part had taken a long time
    const state = first.captureState();
    assert.equal(state.counters.trainingSeconds, first.trainingSeconds);
    const resumed = new TrainingSession(config);
    resumed.restore(state, []);
    while (!resumed.done) resumed.step();
    const summary = resumed.finish();
    assert.ok(summary.wallSeconds > 1000, `wallSeconds ${summary.wallSeconds}`);
    assert.ok(summary.stepsPerSecond < config.train.steps / 1000);
    // a checkpoint written before the field existed resumes, timing only its own part
    const older = { ...state.counters };
    delete older.trainingSeconds;
    const legacy = new TrainingSession(config);
    legacy.restore({ ...state, counters: older }, []);
    assert.equal(legacy.trainingSeconds, 0);
  });

  it('a resume cuts what a killed run wrote after its last checkpoint, and writes it again identically', () => {
    const config = resolveConfig(CONFIGS.mlp, { defaultName: 'mlp' });
    const reference = tempDir();
    train(config, { outDir: reference, checkpoints: true });
    const dir = interrupted(config, 23, []);
    // A kill after the checkpoint at step 21 but before the interrupt's: lines of steps 24 and beyond, torn.
    writeFileSync(
      join(dir, 'metrics.jsonl'),
      readFileSync(join(dir, 'metrics.jsonl'), 'utf8') + '{"step":24,"lo',
    );
    train(config, { outDir: dir, checkpoints: true, resume: true });
    assert.equal(
      readFileSync(join(dir, 'metrics.jsonl'), 'utf8'),
      readFileSync(join(reference, 'metrics.jsonl'), 'utf8'),
    );
  });

  it('refuses a checkpoint that is missing, truncated, corrupt, of another config or of a finished run', () => {
    const config = resolveConfig(CONFIGS.lstm, { defaultName: 'lstm' });
    const resume = (dir: string, cfg = config): unknown =>
      train(cfg, { outDir: dir, checkpoints: true, resume: true });
    const refused = (dir: string, pattern: RegExp, cfg = config): void =>
      assert.throws(
        () => resume(dir, cfg),
        (e: unknown) => e instanceof CheckpointError && pattern.test(e.message),
      );

    const noCheckpoint = tempDir();
    train(config, { outDir: noCheckpoint });
    refused(noCheckpoint, /does not exist: the run wrote no checkpoint/);

    const finished = tempDir();
    train(config, { outDir: finished, checkpoints: true });
    refused(finished, /completed all 30 steps; nothing to resume/);

    const other = interrupted(config, 9, []);
    refused(
      other,
      /written for another config/,
      resolveConfig({ ...CONFIGS.lstm, seed: 9 }, { defaultName: 'lstm' }),
    );

    const path = join(interrupted(config, 9, []), 'checkpoint.bin');
    const bytes = readFileSync(path);
    writeFileSync(path, new Uint8Array(bytes).subarray(0, bytes.length - 10));
    refused(join(path, '..'), /is truncated or padded/);
    const flipped = new Uint8Array(bytes);
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0xff;
    writeFileSync(path, flipped);
    refused(join(path, '..'), /is corrupt \(its payload checksum does not match\)/);
    writeFileSync(path, 'not a checkpoint');
    refused(join(path, '..'), /is not a gradscope checkpoint/);

    const shortened = interrupted(config, 9, []);
    writeFileSync(join(shortened, 'metrics.jsonl'), '');
    refused(shortened, /does not match .*metrics\.jsonl/);
  });
});
