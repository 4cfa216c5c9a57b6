import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findPreset, resolveConfig } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { verifyFixes } from '../doctor/verify.js';
import type { Summary } from '../io/runlog.js';
import { TrainingSession } from '../train/session.js';
import {
  defaultParallel,
  TrialRunner,
  TrialSet,
  verificationJson,
  type TrialCommand,
  type TrialMessage,
  type TrialPort,
} from './lab-trials.js';

function preset(name: string, steps: number): ResolvedConfig {
  const raw = structuredClone(findPreset(name)?.config) as Record<string, unknown>;
  return resolveConfig({ ...raw, train: { ...(raw['train'] as object), steps } }, { defaultName: name });
}

function trainInMemory(config: ResolvedConfig): { summary: Summary; steps: number[] } {
  const session = new TrainingSession(config);
  while (!session.done) session.step();
  return { summary: session.finish(), steps: session.history.map((r) => r.step) };
}

/** A "worker" on this thread: a TrialRunner whose messages arrive asynchronously, as a Web Worker's do. */
function inProcessPort(log: { spawned: number; terminated: number }): TrialPort {
  log.spawned++;
  let listener: ((message: TrialMessage) => void) | null = null;
  let alive = true;
  const runner = new TrialRunner((message) => {
    setTimeout(() => alive && listener?.(message), 0);
  });
  return {
    post: (command: TrialCommand) => setTimeout(() => alive && runner.handle(structuredClone(command)), 0),
    listen: (onMessage) => (listener = onMessage),
    terminate: () => {
      if (alive) log.terminated++;
      alive = false;
    },
  };
}

function settled(set: TrialSet): Promise<void> {
  return new Promise((resolve) => {
    const poll = (): void => (set.done ? resolve() : void setTimeout(poll, 5));
    poll();
  });
}

describe('the lab’s fix trials', () => {
  it('trains the doctor’s top fixes in workers from run A’s seed and ranks them as gradscope fix does', async () => {
    const config = preset('deep-sigmoid', 40);
    const a = trainInMemory(config);
    assert.equal(a.summary.verdict, 'vanishing');
    const log = { spawned: 0, terminated: 0 };
    let changes = 0;
    const set = new TrialSet(config, a.summary, {
      top: 2,
      parallel: 2,
      spawn: () => inProcessPort(log),
      onChange: () => changes++,
    });
    assert.deepEqual(
      set.trials.map((t) => [t.label, t.status, t.config.seed, t.config.train.steps]),
      [
        ['fix-1', 'waiting', config.seed, 40],
        ['fix-2', 'waiting', config.seed, 40],
      ],
    );
    set.start();
    assert.equal(log.spawned, 2, 'two trials at a time');
    await settled(set);
    assert.equal(set.error, null);
    assert.ok(changes >= 2);
    assert.equal(log.terminated, 2, 'each worker is let go once the queue is empty');

    // The same trials trained one after another in memory, with a control trained apart, as the CLI does.
    const reference = verifyFixes(config, a.summary.findings, {
      top: 2,
      runTrial: (c) => trainInMemory(c).summary,
    });
    const v = set.verification;
    assert.ok(v);
    assert.equal(
      v.headline,
      reference.headline,
      'run A as the control measures what a separate control does',
    );
    assert.deepEqual(
      v.trials.map((t) => [t.label, t.outcome.evalLoss, t.cures]),
      reference.trials.map((t) => [t.label, t.outcome.evalLoss, t.cures]),
    );
    // Whether one cures at 40 steps is the doctor's business (the Chromium test trains 120 steps and sees one).
    for (const trial of set.trials) {
      assert.equal(trial.status, 'done');
      const steps = trial.records.map((r) => r.step);
      assert.equal(steps[0], 1);
      assert.equal(steps.at(-1), 40);
      assert.ok(
        steps.every((step, i) => i === 0 || step > (steps[i - 1] as number)),
        `${trial.label}: each logged record arrives once, in order`,
      );
    }
    const json = verificationJson(set) as { trials: Array<{ rank: number; label: string; kernels: string }> };
    assert.deepEqual(
      json.trials.map((t) => t.rank),
      [1, 2],
    );
    assert.match(json.trials[0]?.kernels ?? '', /^(wasm|typescript)/);
  });

  it('has nothing to train for a healthy run, and fails cleanly when a trial cannot be built', async () => {
    const config = preset('deep-sigmoid', 40);
    const a = trainInMemory(config).summary;
    const healthy: Summary = { ...a, findings: [], verdict: 'healthy' };
    const log = { spawned: 0, terminated: 0 };
    const none = new TrialSet(config, healthy, {
      top: 4,
      parallel: 2,
      spawn: () => inProcessPort(log),
      onChange: () => {},
    });
    none.start();
    assert.equal(log.spawned, 0);
    assert.match(none.verification?.headline ?? '', /nothing to verify/);

    const broken = new TrialSet(config, a, {
      top: 2,
      parallel: 1,
      spawn: () => inProcessPort(log),
      onChange: () => {},
    });
    const first = broken.trials[0];
    assert.ok(first);
    first.config = {
      ...first.config,
      task: { ...first.config.task, name: 'no-such-task' },
    } as ResolvedConfig;
    broken.start();
    await settled(broken);
    assert.equal(broken.verification, null);
    assert.match(broken.error ?? '', /^fix-1 .* failed: /);
    assert.equal(broken.trials[1]?.status, 'waiting', 'the queue stops at the failure');
    assert.deepEqual(verificationJson(broken), { error: broken.error });
  });

  it('leaves a core to the page', () => {
    assert.deepEqual([1, 2, 4, 16].map(defaultParallel), [1, 1, 3, 4]);
  });
});
