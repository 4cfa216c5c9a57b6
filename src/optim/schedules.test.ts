import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  constantSchedule,
  cosineSchedule,
  exponentialSchedule,
  OptimError,
  plateauSchedule,
  scheduleFromConfig,
  stepSchedule,
  warmupCosineSchedule,
  type Schedule,
} from './index.js';
import { resolveConfig } from '../config/resolve.js';
import type { ScheduleConfig } from '../config/types.js';

function close(actual: number, expected: number, tolerance = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `got ${actual}, expected ${expected}`);
}

const values = (schedule: Schedule, steps: number[]): number[] => steps.map((s) => schedule.value(s));

describe('pure schedules (step is 1-based; t = step - 1 updates already applied)', () => {
  it('constant', () => {
    assert.deepEqual(values(constantSchedule(0.3), [1, 2, 1000]), [0.3, 0.3, 0.3]);
  });

  it('step: gamma every stepSize steps, each stretch exactly stepSize long', () => {
    const s = stepSchedule(1, { stepSize: 3, gamma: 0.5 });
    assert.deepEqual(values(s, [1, 2, 3, 4, 6, 7, 10]), [1, 1, 1, 0.5, 0.5, 0.25, 0.125]);
  });

  it('exponential: gamma^t', () => {
    const s = exponentialSchedule(2, { gamma: 0.9 });
    close(s.value(1), 2);
    close(s.value(2), 1.8);
    close(s.value(11), 2 * 0.9 ** 10);
  });

  it('cosine: base at step 1, halfway at t = total/2, the floor at t = total and after', () => {
    const s = cosineSchedule(0.1, { totalSteps: 100, minFactor: 0.1 });
    close(s.value(1), 0.1);
    close(s.value(51), 0.01 + 0.09 / 2);
    close(s.value(26), 0.01 + (0.09 * (1 + Math.cos(Math.PI / 4))) / 2);
    close(s.value(101), 0.01);
    close(s.value(500), 0.01);
    const curve = values(
      s,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.ok(
      curve.every((v, i) => i === 0 || v < curve[i - 1]),
      'strictly decreasing',
    );
  });

  it('warmup-cosine: linear ramp from 0, the base rate at t = warmupSteps, then cosine to the floor', () => {
    const s = warmupCosineSchedule(0.1, { warmupSteps: 10, totalSteps: 110 });
    close(s.value(1), 0);
    close(s.value(2), 0.01);
    close(s.value(6), 0.05);
    close(s.value(11), 0.1);
    close(s.value(61), 0.05);
    close(s.value(111), 0);
    const ramp = values(s, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.ok(
      ramp.every((v, i) => i === 0 || v > ramp[i - 1]),
      'strictly increasing warm-up',
    );
  });

  it('warmup-cosine with a warm-up longer than the run only ramps', () => {
    const s = warmupCosineSchedule(1, { warmupSteps: 50, totalSteps: 20 });
    close(s.value(20), 19 / 50);
  });

  it('cosine is warmup-cosine with no warm-up', () => {
    const a = cosineSchedule(0.2, { totalSteps: 37, minFactor: 0.3 });
    const b = warmupCosineSchedule(0.2, { warmupSteps: 0, totalSteps: 37, minFactor: 0.3 });
    const steps = Array.from({ length: 40 }, (_, i) => i + 1);
    assert.deepEqual(values(a, steps), values(b, steps));
  });

  it('steps are 1-based integers', () => {
    assert.throws(() => constantSchedule(0.1).value(0), /step must be an integer >= 1/);
    assert.throws(() => cosineSchedule(0.1, { totalSteps: 10 }).value(1.5), OptimError);
  });
});

describe('plateau (PyTorch ReduceLROnPlateau, mode min, relative threshold)', () => {
  it('tolerates `patience` bad observations and reduces on the next one', () => {
    const s = plateauSchedule(1, { patience: 2, factor: 0.5 });
    const rates: number[] = [];
    for (const loss of [10, 9, 9, 9, 9, 9, 9, 9]) {
      s.observe(loss, 1);
      rates.push(s.value(1));
    }
    // 10 and 9 improve; then bad 1, bad 2, bad 3 -> 0.5 (counter resets); bad 1, 2, 3 -> 0.25.
    assert.deepEqual(rates, [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25]);
  });

  it('an improvement smaller than the relative threshold counts as bad', () => {
    const s = plateauSchedule(1, { patience: 0, threshold: 0.01 });
    s.observe(1, 1);
    s.observe(0.995, 2); // 0.995 is not < 1 * (1 - 0.01)
    assert.equal(s.value(3), 0.1);
    s.observe(0.9, 3); // best is still 1, and 0.9 < 0.99 improves
    assert.equal(s.value(4), 0.1);
    assert.equal(s.getState().best, 0.9);
  });

  it('NaN losses count as bad; cooldown and the floor apply', () => {
    const s = plateauSchedule(1, { patience: 0, cooldown: 2, minLearningRate: 0.05 });
    s.observe(1, 1);
    s.observe(NaN, 2);
    assert.equal(s.value(3), 0.1);
    s.observe(NaN, 3); // cooldown 2 -> 1
    s.observe(NaN, 4); // cooldown 1 -> 0
    assert.equal(s.value(5), 0.1);
    s.observe(NaN, 5);
    assert.equal(s.value(6), 0.05);
    s.observe(NaN, 6);
    s.observe(NaN, 7);
    s.observe(NaN, 8);
    assert.equal(s.value(9), 0.05);
  });

  it('state is plain data that survives structuredClone', () => {
    const s = plateauSchedule(1, { patience: 0 });
    s.observe(1, 1);
    const state = structuredClone(s.getState());
    assert.deepEqual(state, { learningRate: 1, best: 1, badObservations: 0, cooldownLeft: 0 });
    s.observe(2, 2);
    assert.equal(s.value(3), 0.1);
    s.setState(state);
    assert.equal(s.value(3), 1);
    assert.throws(() => s.setState({ learningRate: 1 }), /pass a value returned by getState/);
  });
});

describe('scheduleFromConfig', () => {
  const resolved = (schedule: unknown, steps: number): ScheduleConfig =>
    resolveConfig({ schedule, train: { steps } }, { defaultName: 'x' }).schedule;
  const build = (schedule: unknown, lr: number, steps: number): Schedule =>
    scheduleFromConfig(resolved(schedule, steps), lr, steps);

  it('builds each schedule from the config with its defaults', () => {
    close(build({ name: 'constant' }, 0.1, 300).value(299), 0.1);
    assert.equal(build({ name: 'step' }, 1, 300).value(101), 0.1);
    close(build({ name: 'exponential' }, 1, 300).value(301), 0.01, 1e-5);
    close(build({ name: 'cosine' }, 1, 300).value(301), 0);
    const warm = build({ name: 'warmup-cosine' }, 1, 300);
    close(warm.value(31), 1);
    close(warm.value(16), 0.5);
    const plateau = build({ name: 'plateau', patience: 0 }, 1, 300);
    plateau.observe?.(1, 1);
    plateau.observe?.(1, 2);
    close(plateau.value(3), 0.1);
  });

  it('takes the validated config as it is: a field it needs but lacks is named', () => {
    assert.throws(() => scheduleFromConfig({ name: 'step' }, 0.1, 10), /schedule\.stepSize is missing/);
  });
});
