import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Buffer } from '../tensor/tensor.js';
import {
  adagrad,
  adam,
  adamw,
  applyUpdates,
  momentum,
  nesterov,
  optimizerFromConfig,
  rmsprop,
  sgd,
  constantSchedule,
  type GradientTransformation,
  type ParamInfo,
} from './index.js';
import { resolveConfig } from '../config/resolve.js';
import type { OptimizerConfig } from '../config/types.js';

/**
 * float64 references written from the update rules in torch.optim's documentation (the algorithm boxes of SGD,
 * Adagrad, RMSprop, Adam and AdamW), one flat parameter vector, deliberately not sharing code with the library.
 */
interface Reference {
  step(p: Float64Array, g: Float64Array): void;
}

function torchSgd(lr: number, mu: number, nesterovOn: boolean, wd: number, n: number): Reference {
  const b = new Float64Array(n);
  let t = 0;
  return {
    step(p, g) {
      t++;
      for (let i = 0; i < n; i++) {
        let gi = g[i] + wd * p[i];
        if (mu !== 0) {
          b[i] = t === 1 ? gi : mu * b[i] + gi;
          gi = nesterovOn ? gi + mu * b[i] : b[i];
        }
        p[i] -= lr * gi;
      }
    },
  };
}

function torchAdagrad(lr: number, eps: number, wd: number, n: number): Reference {
  const sum = new Float64Array(n);
  return {
    step(p, g) {
      for (let i = 0; i < n; i++) {
        const gi = g[i] + wd * p[i];
        sum[i] += gi * gi;
        p[i] -= (lr * gi) / (Math.sqrt(sum[i]) + eps);
      }
    },
  };
}

function torchRmsprop(lr: number, alpha: number, eps: number, mu: number, wd: number, n: number): Reference {
  const v = new Float64Array(n);
  const b = new Float64Array(n);
  return {
    step(p, g) {
      for (let i = 0; i < n; i++) {
        const gi = g[i] + wd * p[i];
        v[i] = alpha * v[i] + (1 - alpha) * gi * gi;
        const scaled = gi / (Math.sqrt(v[i]) + eps);
        if (mu > 0) {
          b[i] = mu * b[i] + scaled;
          p[i] -= lr * b[i];
        } else {
          p[i] -= lr * scaled;
        }
      }
    },
  };
}

function torchAdam(
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  wd: number,
  decoupled: boolean,
  n: number,
): Reference {
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  let t = 0;
  return {
    step(p, g) {
      t++;
      for (let i = 0; i < n; i++) {
        let gi = g[i];
        if (decoupled) p[i] *= 1 - lr * wd;
        else gi += wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        const mHat = m[i] / (1 - b1 ** t);
        const vHat = v[i] / (1 - b2 ** t);
        p[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
    },
  };
}

/** A gradient that depends on the parameters and the step, so errors compound over the trajectory. */
function gradient(p: ArrayLike<number>, step: number, out: Buffer): void {
  for (let i = 0; i < p.length; i++)
    out[i] = 0.5 * p[i] - 0.3 * Math.cos(step + 1.7 * i) + (i % 3 === 0 ? 2 : 0.01);
}

const SIZES = [3, 4];
const INFO: ParamInfo[] = SIZES.map((n, i) => ({
  name: `p${i}`,
  shape: [n],
  layer: i,
  role: 'weight',
  isOutput: i === SIZES.length - 1,
}));

function initialParams(): Float64Array[] {
  return SIZES.map((n, k) => Float64Array.from({ length: n }, (_, i) => Math.sin(1 + i + 10 * k)));
}

/** Runs `opt` for `steps` steps and returns the parameters as one flat vector. */
function runLibrary(
  opt: GradientTransformation<unknown>,
  steps: number,
  params: Buffer[] = initialParams(),
): number[] {
  const updates = params.map((p) =>
    p instanceof Float64Array ? new Float64Array(p.length) : new Float32Array(p.length),
  );
  const state = opt.init(params, INFO);
  for (let step = 1; step <= steps; step++) {
    params.forEach((p, i) => gradient(p, step, updates[i]));
    opt.update(updates, state, { step, params, info: INFO });
    applyUpdates(params, updates);
  }
  return params.flatMap((p) => Array.from(p));
}

/** The reference on the same parameters, one flat vector (the rules are element-wise, so flattening is exact). */
function runReference(ref: Reference, steps: number): number[] {
  const params = initialParams();
  const grads = params.map((p) => new Float64Array(p.length));
  for (let step = 1; step <= steps; step++) {
    params.forEach((p, i) => gradient(p, step, grads[i]));
    const flatP = Float64Array.from(params.flatMap((p) => Array.from(p)));
    const flatG = Float64Array.from(grads.flatMap((g) => Array.from(g)));
    ref.step(flatP, flatG);
    let offset = 0;
    for (const p of params) {
      p.set(flatP.subarray(offset, offset + p.length));
      offset += p.length;
    }
  }
  return params.flatMap((p) => Array.from(p));
}

function assertClose(
  actual: readonly number[],
  expected: readonly number[],
  relative: number,
  label: string,
): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]));
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= relative * scale,
      `${label}[${i}]: got ${actual[i]}, expected ${expected[i]} (difference ${actual[i] - expected[i]})`,
    );
  }
}

const N = SIZES.reduce((a, b) => a + b, 0);
const STEPS = 25;

describe('optimisers match the torch.optim update rules over many steps (float64)', () => {
  const cases: [string, GradientTransformation<unknown>, Reference][] = [
    ['sgd', sgd({ learningRate: 0.1 }), torchSgd(0.1, 0, false, 0, N)],
    ['sgd + weight decay', sgd({ learningRate: 0.1, weightDecay: 0.05 }), torchSgd(0.1, 0, false, 0.05, N)],
    ['momentum', momentum({ learningRate: 0.05 }), torchSgd(0.05, 0.9, false, 0, N)],
    [
      'momentum 0.5 + wd',
      momentum({ learningRate: 0.05, momentum: 0.5, weightDecay: 0.01 }),
      torchSgd(0.05, 0.5, false, 0.01, N),
    ],
    ['nesterov', nesterov({ learningRate: 0.05 }), torchSgd(0.05, 0.9, true, 0, N)],
    [
      'nesterov + wd',
      nesterov({ learningRate: 0.05, weightDecay: 0.01 }),
      torchSgd(0.05, 0.9, true, 0.01, N),
    ],
    ['adagrad', adagrad({ learningRate: 0.1 }), torchAdagrad(0.1, 1e-10, 0, N)],
    ['adagrad + wd', adagrad({ learningRate: 0.1, weightDecay: 0.1 }), torchAdagrad(0.1, 1e-10, 0.1, N)],
    ['rmsprop', rmsprop({ learningRate: 0.01 }), torchRmsprop(0.01, 0.99, 1e-8, 0, 0, N)],
    [
      'rmsprop + momentum + wd',
      rmsprop({ learningRate: 0.01, momentum: 0.9, weightDecay: 0.1 }),
      torchRmsprop(0.01, 0.99, 1e-8, 0.9, 0.1, N),
    ],
    ['adam', adam({ learningRate: 0.01 }), torchAdam(0.01, 0.9, 0.999, 1e-8, 0, false, N)],
    [
      'adam, large eps',
      adam({ learningRate: 0.01, eps: 0.1, beta1: 0.5, beta2: 0.9 }),
      torchAdam(0.01, 0.5, 0.9, 0.1, 0, false, N),
    ],
    [
      'adam + L2',
      adam({ learningRate: 0.01, weightDecay: 0.1 }),
      torchAdam(0.01, 0.9, 0.999, 1e-8, 0.1, false, N),
    ],
    ['adamw', adamw({ learningRate: 0.01 }), torchAdam(0.01, 0.9, 0.999, 1e-8, 0.01, true, N)],
    [
      'adamw, wd 0.5',
      adamw({ learningRate: 0.01, weightDecay: 0.5 }),
      torchAdam(0.01, 0.9, 0.999, 1e-8, 0.5, true, N),
    ],
  ];
  for (const [label, opt, ref] of cases) {
    it(label, () => assertClose(runLibrary(opt, STEPS), runReference(ref, STEPS), 1e-12, label));
  }
});

describe('hand-computed steps (constant gradient, scalar parameter)', () => {
  const info: ParamInfo[] = [{ name: 'w', shape: [1], layer: 0, role: 'weight', isOutput: false }];
  /** Parameter values after each step, starting from `p0` with gradient `g` every step. */
  function trajectory(opt: GradientTransformation<unknown>, g: number, steps: number, p0 = 0): number[] {
    const params = [Float64Array.of(p0)];
    const updates = [new Float64Array(1)];
    const state = opt.init(params, info);
    const out: number[] = [];
    for (let step = 1; step <= steps; step++) {
      updates[0][0] = g;
      opt.update(updates, state, { step, params, info });
      applyUpdates(params, updates);
      out.push(params[0][0]);
    }
    return out;
  }

  it('momentum: b = 1, 1.9, 2.71 -> p = -0.1, -0.29, -0.561', () => {
    assertClose(trajectory(momentum({ learningRate: 0.1 }), 1, 3), [-0.1, -0.29, -0.561], 1e-14, 'momentum');
  });
  it('nesterov: u = g + mu b = 1.9, 2.71, 3.439 -> p = -0.19, -0.461, -0.8049', () => {
    assertClose(
      trajectory(nesterov({ learningRate: 0.1 }), 1, 3),
      [-0.19, -0.461, -0.8049],
      1e-14,
      'nesterov',
    );
  });
  it('adagrad: s = 4, 8, 12 -> steps 1, 2/sqrt(8), 2/sqrt(12)', () => {
    const expected = [-0.1, -0.1 - 0.2 / Math.sqrt(8), -0.1 - 0.2 / Math.sqrt(8) - 0.2 / Math.sqrt(12)];
    assertClose(trajectory(adagrad({ learningRate: 0.1 }), 2, 3), expected, 1e-9, 'adagrad');
  });
  it('rmsprop: first step is lr g / (sqrt(0.01 g^2) + eps), about 10 lr sign(g)', () => {
    assertClose(
      trajectory(rmsprop({ learningRate: 0.01 }), 3, 1),
      [(-0.01 * 3) / (0.3 + 1e-8)],
      1e-15,
      'rmsprop',
    );
  });
  it('adam: a constant gradient moves by lr g / (|g| + eps) each step (bias correction: m_hat = g, v_hat = g^2)', () => {
    const step = (0.001 * 0.5) / (0.5 + 1e-8);
    const expected = [1, 2, 3, 4, 5].map((k) => 1 - step * k);
    assertClose(trajectory(adam({ learningRate: 0.001 }), 0.5, 5, 1), expected, 1e-14, 'adam');
  });
  it('adamw: the decay uses the same p as the Adam step: p1 = p0 (1 - lr wd) - lr g / (|g| + eps)', () => {
    const [p1] = trajectory(adamw({ learningRate: 0.1, weightDecay: 0.5 }), 0.5, 1, 2);
    assertClose([p1], [2 * (1 - 0.05) - (0.1 * 0.5) / (0.5 + 1e-8)], 1e-15, 'adamw');
  });
});

describe('float32 parameters', () => {
  it('keep float32 state and stay within float32 rounding of the float64 reference', () => {
    const params = initialParams().map((p) => Float32Array.from(p));
    const opt = adam({ learningRate: 0.01 });
    const state = opt.init(params, INFO);
    assert.ok(state[0] !== undefined);
    const adamState = state[0] as { firstMoment: Buffer[] };
    assert.ok(adamState.firstMoment[0] instanceof Float32Array);
    const got = runLibrary(adam({ learningRate: 0.01 }), STEPS, params);
    assertClose(got, runReference(torchAdam(0.01, 0.9, 0.999, 1e-8, 0, false, N), STEPS), 1e-5, 'adam f32');
  });
});

describe('optimizerFromConfig', () => {
  const schedule = constantSchedule(0.05);
  it('builds the same chain as the direct factories for every name', () => {
    const direct: [Parameters<typeof optimizerFromConfig>[0], GradientTransformation<unknown>][] = [
      [{ name: 'sgd', learningRate: 0.05 }, sgd({ learningRate: 0.05 })],
      [{ name: 'momentum', learningRate: 0.05 }, momentum({ learningRate: 0.05 })],
      [
        { name: 'nesterov', learningRate: 0.05, momentum: 0.8 },
        nesterov({ learningRate: 0.05, momentum: 0.8 }),
      ],
      [{ name: 'adagrad', learningRate: 0.05 }, adagrad({ learningRate: 0.05 })],
      [{ name: 'rmsprop', learningRate: 0.05, decay: 0.9 }, rmsprop({ learningRate: 0.05, decay: 0.9 })],
      [{ name: 'adam', learningRate: 0.05, beta1: 0.8 }, adam({ learningRate: 0.05, beta1: 0.8 })],
      [{ name: 'adamw', learningRate: 0.05 }, adamw({ learningRate: 0.05 })],
    ];
    for (const [cfg, opt] of direct) {
      const fromConfig = optimizerFromConfig(cfg, schedule);
      assert.equal(fromConfig.name, opt.name, cfg.name);
      assert.deepEqual(runLibrary(fromConfig, 5), runLibrary(opt, 5), cfg.name);
    }
  });

  it('builds from the config resolveConfig validated, sgd momentum and nesterov as torch.optim.SGD', () => {
    const resolved = (optimizer: unknown): OptimizerConfig =>
      resolveConfig({ optimizer }, { defaultName: 'x' }).optimizer;
    const heavy = optimizerFromConfig(resolved({ name: 'sgd', learningRate: 0.05, momentum: 0.8 }), schedule);
    assert.deepEqual(runLibrary(heavy, 5), runLibrary(momentum({ learningRate: 0.05, momentum: 0.8 }), 5));
    const nag = optimizerFromConfig(
      resolved({ name: 'sgd', learningRate: 0.05, momentum: 0.8, nesterov: true }),
      schedule,
    );
    assert.deepEqual(runLibrary(nag, 5), runLibrary(nesterov({ learningRate: 0.05, momentum: 0.8 }), 5));
    const rms = optimizerFromConfig(
      resolved({ name: 'rmsprop', learningRate: 0.05, momentum: 0.5 }),
      schedule,
    );
    assert.deepEqual(runLibrary(rms, 5), runLibrary(rmsprop({ learningRate: 0.05, momentum: 0.5 }), 5));
    assert.notDeepEqual(runLibrary(rms, 5), runLibrary(rmsprop({ learningRate: 0.05 }), 5));
  });

  it('errors name the value and the fix', () => {
    assert.throws(() => sgd({ learningRate: -1 }), {
      name: 'OptimError',
      message: 'learningRate must be a positive finite number, got -1; try 0.01',
    });
    assert.throws(() => sgd({ learningRate: 0.1, momentum: 1.5 }), /momentum must be in \[0, 1\), got 1\.5/);
    assert.throws(() => rmsprop({ learningRate: 0.1, momentum: 1 }), /momentum must be in \[0, 1\)/);
    assert.throws(() => sgd({ learningRate: 0.1, nesterov: true }), /needs momentum > 0/);
  });
});
