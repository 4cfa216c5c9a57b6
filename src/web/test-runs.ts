/** Run folders for the lab's tests (runs, server and browser tests): real runs and hand-written edge cases. */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../config/index.js';
import { stringifyFinite } from '../io/json.js';
import { EventWriter } from '../io/tfevents.js';
import { train } from '../train/trainer.js';

/** A metrics line as a writer appends it (with its newline). */
export function metricsLine(step: number, loss: number): string {
  const record = {
    step,
    loss,
    lr: 0.1,
    gradNorm: 1 / step,
    gradNormClipped: 1 / step,
    clipped: false,
    skipped: false,
    params: [
      {
        name: 'layers.0.weight',
        layer: 0,
        gradNorm: 0.5 / step,
        weightNorm: 1,
        updateRatio: 1e-3,
        nonFinite: 0,
      },
      {
        name: 'layers.1.weight',
        layer: 1,
        gradNorm: 1 / step,
        weightNorm: 1,
        updateRatio: 1e-3,
        nonFinite: 0,
      },
    ],
    activations: [],
    findings: [],
  };
  return `${stringifyFinite(record)}\n`;
}

/**
 * A run folder with: a finished gradscope run (trained for real), a live one (metrics only, a partial last line), a
 * PyTorch watcher run, a TensorBoard log, a folder with no run, a name that is not a run name, and a link out.
 */
export function makeRunFolder(): { dir: string; outside: string } {
  const base = mkdtempSync(join(tmpdir(), 'gradscope-runs-'));
  const dir = join(base, 'runs');
  const outside = join(base, 'outside');
  mkdirSync(dir);
  mkdirSync(outside);
  const config = resolveConfig(
    {
      task: { name: 'spirals' },
      model: { kind: 'mlp', depth: 2, width: 8, activation: 'tanh' },
      train: { steps: 12, batchSize: 16 },
      monitor: { every: 4 },
    },
    { defaultName: 'small-tanh' },
  );
  train(config, { outDir: join(dir, 'small-tanh') });
  mkdirSync(join(dir, 'live-one'));
  writeFileSync(join(dir, 'live-one', 'config.json'), JSON.stringify({ ...config, name: 'live-one' }));
  writeFileSync(
    join(dir, 'live-one', 'metrics.jsonl'),
    metricsLine(1, 2) + metricsLine(5, 1.5) + '{"step": 9, "lo',
  );
  mkdirSync(join(dir, 'torch-run'));
  writeFileSync(
    join(dir, 'torch-run', 'config.json'),
    JSON.stringify({ source: 'pytorch', name: 'torch-run', torch: { version: '2.1', module: 'Sequential' } }),
  );
  writeFileSync(join(dir, 'torch-run', 'metrics.jsonl'), metricsLine(1, 0.7));
  const events = EventWriter.open(join(dir, 'tb-log'));
  for (const step of [0, 10, 20]) events.scalars({ loss: 1 / (step + 1), 'grad_norm/fc.weight': 0.1 }, step);
  events.close();
  mkdirSync(join(dir, 'empty-folder'));
  mkdirSync(join(dir, 'bad name'));
  writeFileSync(join(dir, 'bad name', 'metrics.jsonl'), metricsLine(1, 1));
  mkdirSync(join(outside, 'secret-run'));
  writeFileSync(join(outside, 'secret-run', 'metrics.jsonl'), metricsLine(1, 1));
  symlinkSync(join(outside, 'secret-run'), join(dir, 'linked-out'));
  // A run directory inside the folder whose metrics file links out.
  mkdirSync(join(dir, 'file-link'));
  symlinkSync(join(outside, 'secret-run', 'metrics.jsonl'), join(dir, 'file-link', 'metrics.jsonl'));
  return { dir, outside };
}
