import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import type { Buffer } from '../tensor/tensor.js';
import {
  adam,
  addDecayedWeights,
  addWeightDecay,
  allocateUpdates,
  applyUpdates,
  autoClip,
  chain,
  clipByGlobalNorm,
  copyInto,
  identity,
  OptimError,
  plateauSchedule,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  traceMomentum,
  type AdamState,
  type GradientTransformation,
  type ParamInfo,
} from './index.js';

const info: ParamInfo[] = [
  { name: 'layers.0.weight', shape: [2, 3], layer: 0, role: 'weight', isOutput: false },
  { name: 'layers.0.bias', shape: [2], layer: 0, role: 'bias', isOutput: false },
];

function vectors(values: number[][]): Float64Array[] {
  return values.map((v) => Float64Array.from(v));
}

describe('chain', () => {
  it('runs links in order: clip then scale differs from scale then clip', () => {
    const params = vectors([
      [0, 0, 0, 0, 0, 0],
      [0, 0],
    ]);
    const ctx = { step: 1, params, info };
    // Eight entries of 2: global norm sqrt(32), well above 1.
    const grads = () =>
      vectors([
        [2, 2, 2, 2, 2, 2],
        [2, 2],
      ]);

    const clipFirst = chain(clipByGlobalNorm(1), scaleByLearningRate(10));
    const a = grads();
    const reportA = clipFirst.update(a, clipFirst.init(params, info), ctx);
    // Clipped to norm 1 (minus PyTorch's 1e-6 guard), then scaled by -10: norm ~10.
    assert.ok(Math.abs(Math.hypot(...a.flatMap((b) => Array.from(b))) - 10) < 1e-4);
    assert.equal(reportA['clipped'], 1);
    assert.equal(reportA['learningRate'], 10);

    const scaleFirst = chain(scaleByLearningRate(10), clipByGlobalNorm(1));
    const b = grads();
    scaleFirst.update(b, scaleFirst.init(params, info), ctx);
    assert.ok(Math.abs(Math.hypot(...b.flatMap((x) => Array.from(x))) - 1) < 1e-5);
    assert.ok(b[0][0] < 0);
  });

  it('keeps a tuple of its links states and merges their reports', () => {
    const opt = chain(identity(), traceMomentum(0.9), scaleByAdam(), scaleByLearningRate(0.1));
    const params = vectors([
      [1, 2, 3, 4, 5, 6],
      [7, 8],
    ]);
    const state = opt.init(params, info);
    assert.equal(state.length, 4);
    assert.deepEqual(state[0], {});
    assert.equal(state[1].trace.length, 2);
    assert.equal(state[2].count, 0);
    const updates = vectors([
      [1, 1, 1, 1, 1, 1],
      [1, 1],
    ]);
    const report = opt.update(updates, state, { step: 1, params, info });
    assert.deepEqual(report, { learningRate: 0.1 });
    assert.equal(state[2].count, 1);
    assert.equal(
      opt.name,
      'chain(identity, traceMomentum(0.9), scaleByAdam(0.9, 0.999), scaleByLearningRate(constant))',
    );
  });

  it('a later link overwrites an earlier one on the same report key', () => {
    const params = vectors([
      [0, 0, 0, 0, 0, 0],
      [0, 0],
    ]);
    const opt = chain(clipByGlobalNorm(100), clipByGlobalNorm(1));
    const updates = vectors([
      [3, 0, 0, 0, 0, 0],
      [4, 0],
    ]);
    const report = opt.update(updates, opt.init(params, info), { step: 1, params, info });
    assert.equal(report['clipped'], 1);
    assert.ok(Math.abs((report['factor'] ?? 0) - 1 / 5) < 1e-6);
  });

  it('rejects a state from another chain', () => {
    const params = vectors([
      [0, 0, 0, 0, 0, 0],
      [0, 0],
    ]);
    const opt = chain(identity(), identity());
    assert.throws(
      () => opt.update(params, [{}] as unknown as ReturnType<typeof opt.init>, { step: 1, params, info }),
      (error: unknown) => error instanceof OptimError && error.code === 'size_mismatch',
    );
  });
});

describe('applyUpdates and the update buffers', () => {
  it('adds the updates (p += u) and checks alignment', () => {
    const params = vectors([[1, 2], [3]]);
    applyUpdates(params, vectors([[0.5, -1], [2]]));
    assert.deepEqual(
      params.map((p) => Array.from(p)),
      [[1.5, 1], [5]],
    );
    assert.throws(
      () => applyUpdates(params, vectors([[1, 2]])),
      /holds 1 buffers but there are 2 parameters/,
    );
    assert.throws(
      () => applyUpdates(params, vectors([[1], [2]])),
      /updates\[0\] has 1 elements but parameter 0 has 2/,
    );
  });

  it('allocateUpdates matches dtype and length; copyInto copies', () => {
    const params: Buffer[] = [new Float32Array(3), new Float64Array(2)];
    const updates = allocateUpdates(params);
    assert.ok(updates[0] instanceof Float32Array && updates[0].length === 3);
    assert.ok(updates[1] instanceof Float64Array && updates[1].length === 2);
    copyInto(updates, [Float32Array.of(1, 2, 3), Float64Array.of(4, 5)]);
    assert.deepEqual(Array.from(updates[1]), [4, 5]);
  });

  it('a steady-state step allocates no state buffers (the same typed arrays are updated in place)', () => {
    const params = vectors([
      [1, 2, 3, 4, 5, 6],
      [7, 8],
    ]);
    const opt = adam({ learningRate: 0.1 });
    const state = opt.init(params, info);
    const adamState = state[0] as AdamState;
    const before = [...adamState.firstMoment, ...adamState.secondMoment];
    for (let step = 1; step <= 3; step++) {
      opt.update(
        vectors([
          [1, 1, 1, 1, 1, 1],
          [1, 1],
        ]),
        state,
        { step, params, info },
      );
    }
    assert.ok(before.every((b, i) => b === [...adamState.firstMoment, ...adamState.secondMoment][i]));
  });
});

describe('rollback: continuing from structuredClone(state) reproduces the run', () => {
  /** Seeded gradients per step, independent of the parameters' history. */
  function gradients(step: number): Float64Array[] {
    const rng = new Rng(1000 + step);
    return info.map((p) => {
      const g = new Float64Array(p.shape.reduce((a, b) => a * b, 1));
      rng.fillNormal(g, 0, step % 4 === 0 ? 20 : 1);
      return g;
    });
  }

  function runSteps(
    opt: GradientTransformation<unknown>,
    params: Float64Array[],
    state: unknown,
    from: number,
    to: number,
  ): number[][] {
    const updates = allocateUpdates(params);
    const trace: number[][] = [];
    for (let step = from; step <= to; step++) {
      copyInto(updates, gradients(step));
      const report = opt.update(updates, state, { step, params, info });
      applyUpdates(params, updates);
      trace.push([...params.flatMap((p) => Array.from(p)), ...Object.values(report)]);
    }
    return trace;
  }

  it('for a chain of autoclip, momentum and adam (all stateful)', () => {
    const opt: GradientTransformation<unknown> = chain(
      autoClip({ percentile: 25 }),
      traceMomentum(0.5),
      adam({ learningRate: 0.01 }),
    );
    const params = vectors([
      [1, -1, 0.5, 0.2, 0, 3],
      [0.1, -0.1],
    ]);
    const state = opt.init(params, info);
    runSteps(opt, params, state, 1, 6);

    const snapshotParams = params.map((p) => p.slice());
    const snapshotState = structuredClone(state);
    const first = runSteps(opt, params, state, 7, 12);

    const restoredParams = snapshotParams.map((p) => p.slice());
    const second = runSteps(opt, restoredParams, snapshotState, 7, 12);
    assert.deepEqual(second, first);
    // And the run really depended on the state: restarting from a fresh state differs.
    const fresh = runSteps(
      opt,
      snapshotParams.map((p) => p.slice()),
      opt.init(params, info),
      7,
      12,
    );
    assert.notDeepEqual(fresh, first);
  });

  it('Adam bias correction counts its own updates, not the loop step (a skipped step does not count)', () => {
    const params = vectors([
      [1, 1, 1, 1, 1, 1],
      [1, 1],
    ]);
    const opt = scaleByAdam();
    const a = vectors([
      [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
      [0.5, 0.5],
    ]);
    opt.update(a, opt.init(params, info), { step: 7, params, info });
    // First update of this state: bias corrected, so u = g / (|g| + eps) whatever ctx.step says.
    assert.ok(Math.abs(a[0][0] - 0.5 / (0.5 + 1e-8)) < 1e-15);
  });

  it('plateau schedule state restores with setState', () => {
    const schedule = plateauSchedule(1, { patience: 1 });
    schedule.observe(1, 1);
    const snapshot = structuredClone(schedule.getState());
    schedule.observe(2, 2);
    schedule.observe(2, 3);
    assert.equal(schedule.value(4), 0.1);
    schedule.setState(snapshot);
    assert.equal(schedule.value(4), 1);
    schedule.observe(2, 2);
    schedule.observe(2, 3);
    assert.equal(schedule.value(4), 0.1);
  });
});

describe('weight decay', () => {
  it('adds wd * p to the update, only where the mask says', () => {
    const params = vectors([
      [1, 2, 3, 4, 5, 6],
      [10, 20],
    ]);
    const updates = vectors([
      [0, 0, 0, 0, 0, 0],
      [1, 1],
    ]);
    const weightsOnly = addWeightDecay(0.5, (p) => p.role === 'weight');
    weightsOnly.update(updates, weightsOnly.init(params, info), { step: 1, params, info });
    assert.deepEqual(
      updates.map((u) => Array.from(u)),
      [
        [0.5, 1, 1.5, 2, 2.5, 3],
        [1, 1],
      ],
    );
    const all = addDecayedWeights(0.1);
    all.update(updates, all.init(params, info), { step: 1, params, info });
    assert.deepEqual(Array.from(updates[1]), [2, 3]);
  });
});

describe('sgd as a chain', () => {
  it('plain sgd is a single scaling link', () => {
    assert.equal(sgd({ learningRate: 0.1 }).name, 'chain(scaleByLearningRate(constant))');
  });
});
