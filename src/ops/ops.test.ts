import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gradcheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/tape.js';
import { ACTIVATIONS, activationKernels } from '../kernels/activations.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import * as op from './index.js';

const rng = new Rng(7);
const f64 = (shape: number[], std = 1): Tensor => Tensor.randn(shape, rng, { dtype: 'float64', std });
/** Values bounded away from 0 so kinks (relu, abs, clamp) are not straddled by the finite difference. */
const awayFromZero = (shape: number[]): Tensor => {
  const t = f64(shape);
  for (let i = 0; i < t.size; i++) {
    const v = t.data[i] as number;
    t.data[i] = Math.sign(v || 1) * (0.1 + Math.abs(v));
  }
  return t;
};
const positive = (shape: number[]): Tensor => {
  const t = f64(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = 0.5 + Math.abs(t.data[i] as number);
  return t;
};
/** A fixed random projection turns any output into a scalar loss with a non-trivial upstream gradient. */
const project = (y: Tensor): Tensor => {
  const w = new Tensor(
    Float64Array.from({ length: y.size }, (_, i) => Math.sin(i + 1)),
    y.shape,
  );
  return op.sum(op.mul(y, w));
};
const TOL = 1e-6;

describe('gradcheck (float64, relative error < 1e-6)', () => {
  const cases: Array<[string, (x: Tensor[]) => Tensor, Tensor[]]> = [
    ['add broadcast row', (x) => project(op.add(x[0]!, x[1]!)), [f64([3, 4]), f64([4])]],
    ['add broadcast column', (x) => project(op.add(x[0]!, x[1]!)), [f64([3, 4]), f64([3, 1])]],
    ['sub general broadcast', (x) => project(op.sub(x[0]!, x[1]!)), [f64([2, 1, 4]), f64([3, 1])]],
    ['mul broadcast scalar tensor', (x) => project(op.mul(x[0]!, x[1]!)), [f64([3, 4]), f64([])]],
    ['div', (x) => project(op.div(x[0]!, x[1]!)), [f64([3, 4]), positive([3, 4])]],
    ['neg', (x) => project(op.neg(x[0]!)), [f64([5])]],
    ['exp', (x) => project(op.exp(x[0]!)), [f64([6])]],
    ['log', (x) => project(op.log(x[0]!)), [positive([6])]],
    ['sqrt', (x) => project(op.sqrt(x[0]!)), [positive([6])]],
    ['pow 3', (x) => project(op.pow(x[0]!, 3)), [f64([6])]],
    ['abs', (x) => project(op.abs(x[0]!)), [awayFromZero([6])]],
    ['clamp', (x) => project(op.clamp(x[0]!, -0.5, 0.5)), [awayFromZero([8])]],
    ['sum all', (x) => op.mul(op.sum(x[0]!), op.sum(x[0]!)), [f64([3, 4])]],
    ['sum axis 0', (x) => project(op.sum(x[0]!, 0)), [f64([3, 4])]],
    ['sum axis 1 keepDims', (x) => project(op.sum(x[0]!, 1, true)), [f64([3, 4])]],
    ['mean axes', (x) => project(op.mean(x[0]!, [0, 2])), [f64([2, 3, 4])]],
    ['matmul', (x) => project(op.matmul(x[0]!, x[1]!)), [f64([3, 4]), f64([4, 5])]],
    ['matmul transA', (x) => project(op.matmul(x[0]!, x[1]!, { transA: true })), [f64([4, 3]), f64([4, 5])]],
    ['matmul transB', (x) => project(op.matmul(x[0]!, x[1]!, { transB: true })), [f64([3, 4]), f64([5, 4])]],
    [
      'matmul transA transB',
      (x) => project(op.matmul(x[0]!, x[1]!, { transA: true, transB: true })),
      [f64([4, 3]), f64([5, 4])],
    ],
    ['softmax', (x) => project(op.softmax(x[0]!)), [f64([3, 5])]],
    ['log-softmax', (x) => project(op.logSoftmax(x[0]!)), [f64([3, 5])]],
    ['cross-entropy', (x) => op.crossEntropy(x[0]!, Int32Array.from([0, 4, 2])), [f64([3, 5])]],
    ['mse', (x) => op.mse(x[0]!, x[1]!), [f64([4, 2]), f64([4, 2])]],
    [
      'binary cross-entropy',
      (x) =>
        op.binaryCrossEntropy(op.sigmoid(x[0]!), new Tensor(Float64Array.from([0, 1, 1, 0, 0.3, 0.9]), [6])),
      [f64([6])],
    ],
    [
      'binary cross-entropy with logits',
      (x) =>
        op.binaryCrossEntropyWithLogits(x[0]!, new Tensor(Float64Array.from([0, 1, 1, 0, 0.3, 0.9]), [6])),
      [f64([6], 3)],
    ],
    ['prelu shared slope', (x) => project(op.prelu(x[0]!, x[1]!)), [awayFromZero([3, 4]), f64([1])]],
    ['prelu per-feature slope', (x) => project(op.prelu(x[0]!, x[1]!)), [awayFromZero([3, 4]), f64([4])]],
    ['reshape', (x) => project(op.reshape(op.tanh(x[0]!), [6, 2])), [f64([3, 4])]],
    ['reused node: x*x + x', (x) => project(op.add(op.mul(x[0]!, x[0]!), x[0]!)), [f64([5])]],
  ];
  for (const name of ACTIVATIONS) {
    cases.push([`activation ${name}`, (x) => project(op.activation(x[0]!, name)), [awayFromZero([4, 5])]]);
    cases.push([
      `linear+${name}`,
      (x) => project(op.linear(x[0]!, x[1]!, x[2]!, name)),
      [f64([4, 3]), f64([5, 3], 0.5), f64([5], 0.1)],
    ]);
  }
  for (const [name, fn, inputs] of cases) {
    it(name, () => {
      const { maxError } = gradcheck(fn, inputs);
      assert.ok(maxError < TOL, `${name}: relative error ${maxError}`);
    });
  }
});

describe('fused linear equals its unfused composition', () => {
  for (const name of ACTIVATIONS) {
    it(name, () => {
      const x = f64([4, 3]);
      const w = f64([5, 3]);
      const b = f64([5]);
      const fused = op.linear(x, w, b, name).data;
      const unfused = op.activation(op.add(op.matmul(x, w, { transB: true }), b), name).data;
      for (let i = 0; i < fused.length; i++)
        assert.ok(Math.abs((fused[i] as number) - (unfused[i] as number)) < 1e-12);
    });
  }
});

describe('extreme inputs', () => {
  it('sigmoid and tanh of ±1000 saturate to exact limits with zero (not NaN) gradient', () => {
    const x = new Tensor(Float64Array.from([-1000, 1000]), [2], { requiresGrad: true });
    for (const name of ['sigmoid', 'tanh'] as const) {
      x.grad = null;
      const y = op.activation(x, name);
      assert.deepEqual(Array.from(y.data), name === 'sigmoid' ? [0, 1] : [-1, 1]);
      backward(op.sum(y));
      assert.deepEqual(Array.from(x.grad!), [0, 0]);
    }
  });
  it('log-softmax and cross-entropy of 1e4-scale logits stay finite and exact', () => {
    const logits = new Tensor(Float64Array.from([1e4, 0, -1e4, 5e3]), [1, 4], { requiresGrad: true });
    const lp = op.logSoftmax(logits);
    assert.ok(Math.abs((lp.data[0] as number) - 0) < 1e-12);
    assert.ok(Math.abs((lp.data[3] as number) + 5e3) < 1e-9);
    const loss = op.crossEntropy(logits, Int32Array.from([1]));
    assert.ok(Math.abs(loss.item() - 1e4) < 1e-9);
    backward(loss);
    assert.deepEqual(Array.from(logits.grad!), [1, -1, 0, 0]);
  });
  it('float32 cross-entropy of 1e4 logits is finite', () => {
    const logits = new Tensor(Float32Array.from([1e4, -1e4, 3e4]), [1, 3]);
    assert.ok(Number.isFinite(op.crossEntropy(logits, Int32Array.from([0])).item()));
  });
  it('NaN propagates through every activation, forward and backward, never silently 0', () => {
    for (const name of ACTIVATIONS) {
      const x = new Tensor(Float64Array.from([NaN, 1]), [2], { requiresGrad: true });
      const y = op.activation(x, name);
      assert.ok(Number.isNaN(y.data[0]), `${name} forward`);
      const loss = op.sum(y);
      assert.ok(Number.isNaN(loss.item()), `${name} loss`);
    }
    const a = new Tensor(Float64Array.from([NaN, 2]), [1, 2], { requiresGrad: true });
    const w = new Tensor(Float64Array.from([1, 1, 1, 1]), [2, 2], { requiresGrad: true });
    const out = op.sum(op.linear(a, w, null, 'relu'));
    assert.ok(Number.isNaN(out.item()));
    backward(out);
    assert.ok(Number.isNaN(w.grad![0]), 'weight gradient from a NaN input is NaN');
    const m = op.matmul(
      new Tensor(Float64Array.from([0, 0]), [1, 2]),
      new Tensor(Float64Array.from([NaN, 1, 1, 1]), [2, 2]),
      {
        transA: false,
      },
    );
    assert.ok(Number.isNaN(m.data[0]), '0 * NaN stays NaN in matmul');
  });
  it('activation table derivatives agree with the scalar values (finite differences)', () => {
    for (const name of ACTIVATIONS) {
      const k = activationKernels[name];
      for (const x of [-2.3, -0.7, 0.4, 1.9]) {
        const fd = (k.value(x + 1e-6, k.defaultAlpha) - k.value(x - 1e-6, k.defaultAlpha)) / 2e-6;
        assert.ok(Math.abs(fd - k.derivative(x, k.defaultAlpha)) < 1e-7, `${name} at ${x}`);
      }
    }
  });
  it('broadcasting errors name both shapes', () => {
    assert.throws(() => op.add(f64([3, 4]), f64([3])), /\[3, 4\] and \[3\] cannot broadcast/);
    assert.throws(() => op.matmul(f64([3, 4]), f64([3, 4])), /inner dimensions differ/);
    assert.throws(() => op.crossEntropy(f64([2, 3]), Int32Array.from([0, 3])), /label 3 at row 1/);
  });
  it('gradients accumulate across two backward passes', () => {
    const x = new Tensor(Float64Array.from([1, 2]), [2], { requiresGrad: true });
    backward(op.sum(op.mul(x, 3)));
    backward(op.sum(op.mul(x, 3)));
    assert.deepEqual(Array.from(x.grad!), [6, 6]);
  });
  it('a gradient hook sees the intermediate gradient in the same pass', () => {
    const x = new Tensor(Float64Array.from([1, 2]), [2], { requiresGrad: true });
    const h = op.mul(x, 2);
    let seen: number[] = [];
    h.onGrad((g) => (seen = Array.from(g)));
    backward(op.sum(op.mul(h, h)));
    assert.deepEqual(seen, [4, 8]);
  });
});

describe('normalisation', () => {
  for (const mode of ['batch', 'layer'] as const) {
    it(`${mode} norm gradcheck`, () => {
      const { maxError } = gradcheck(
        (x) => project(op.normalize(x[0]!, x[1]!, x[2]!, mode, 1e-5).y),
        [f64([5, 4]), f64([4]), f64([4])],
      );
      assert.ok(maxError < TOL, `error ${maxError}`);
    });
  }
  it('batch norm output has zero mean and unit variance per feature', () => {
    const x = f64([64, 3], 5);
    const ones = Tensor.ones([3], 'float64');
    const { y } = op.normalize(x, ones, Tensor.zeros([3], 'float64'), 'batch', 0);
    for (let f = 0; f < 3; f++) {
      let s = 0;
      let s2 = 0;
      for (let r = 0; r < 64; r++) {
        s += y.data[r * 3 + f] as number;
        s2 += (y.data[r * 3 + f] as number) ** 2;
      }
      assert.ok(Math.abs(s / 64) < 1e-12);
      assert.ok(Math.abs(s2 / 64 - 1) < 1e-9);
    }
  });
  it('batch norm on a single example is refused with a fix', () => {
    assert.throws(
      () => op.normalize(f64([1, 3]), f64([3]), f64([3]), 'batch', 1e-5),
      /at least 2 or norm "layer"/,
    );
  });
});

describe('float32 activations on the default (vectorised) kernels', () => {
  it('saturate exactly, keep NaN, and agree with the scalar definition', () => {
    const x = new Tensor(Float32Array.from([-1000, -20, -1, -1e-3, 0, 1e-3, 0.5, 3, 1000, NaN]), [10]);
    for (const name of ['tanh', 'sigmoid'] as const) {
      const y = op.activation(x, name).data;
      const k = activationKernels[name];
      for (let i = 0; i < x.size - 1; i++) {
        const expected = k.value(x.data[i]!, 0);
        assert.ok(
          Math.abs(y[i]! - expected) <= 4e-7 * Math.max(1, Math.abs(expected)),
          `${name}(${x.data[i]}) = ${y[i]} vs ${expected}`,
        );
      }
      // sigmoid(-1000) may come out as a float32 denormal rather than 0: no gradient passes either way.
      if (name === 'tanh') assert.equal(y[0], -1);
      else assert.ok(y[0]! >= 0 && y[0]! < 1e-30);
      assert.equal(y[8], 1);
      assert.ok(Number.isNaN(y[9]), `${name}(NaN)`);
    }
  });
});
