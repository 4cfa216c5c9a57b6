import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gradcheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/tape.js';
import { setKernels } from '../kernels/index.js';
import { tsKernels } from '../kernels/ts.js';
import { createWasmKernels, wasmSupported } from '../kernels/wasm.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { assertClose, loadFixture, tensor, type Fixture } from '../testing/fixtures.js';
import {
  conv2d,
  convOutputSize,
  flatten,
  globalAvgPool2d,
  moveChannels,
  pool2d,
  type Conv2dOptions,
  type Pool2dOptions,
} from './conv.js';
import { activation, add, mul, sum } from './index.js';

const rng = new Rng(11);
const f64 = (shape: number[]): Tensor => Tensor.randn(shape, rng, { dtype: 'float64' });
const project = (y: Tensor): Tensor =>
  sum(
    mul(
      y,
      new Tensor(
        Float64Array.from({ length: y.size }, (_, i) => Math.sin(i + 1)),
        y.shape,
      ),
    ),
  );
/** Distinct values, so no max-pool window has a tie a finite difference could straddle. */
const distinct = (shape: number[]): Tensor => {
  const t = f64(shape);
  rng.permutation(t.size).forEach((rank, k) => (t.data[k] = rank * 0.37 - 2));
  return t;
};

describe('conv2d gradcheck (float64, relative error < 1e-6)', () => {
  const cases: Array<[string, number[], number[], Conv2dOptions]> = [
    ['3x3 same padding', [2, 3, 6, 5], [4, 3, 3, 3], { padding: 1 }],
    ['stride 2, no padding', [2, 2, 7, 7], [3, 2, 3, 3], { stride: 2 }],
    [
      'rectangular kernel, stride [2, 1], padding [0, 1]',
      [1, 3, 6, 6],
      [2, 3, 3, 2],
      { stride: [2, 1], padding: [0, 1] },
    ],
    ['dilation 2, padding 2', [2, 2, 7, 6], [3, 2, 3, 3], { dilation: 2, padding: 2 }],
    ['groups 2', [2, 4, 5, 5], [6, 2, 3, 3], { groups: 2, padding: 1 }],
    ['depthwise (groups = channels)', [1, 3, 5, 4], [3, 1, 3, 3], { groups: 3 }],
    ['1x1 direct path', [2, 3, 4, 4], [5, 3, 1, 1], {}],
    ['1x1 stride 2 (im2col path)', [2, 3, 5, 5], [2, 3, 1, 1], { stride: 2 }],
  ];
  for (const [name, xs, ws, options] of cases) {
    it(name, () => {
      const bias = f64([ws[0]!]);
      const { errors } = gradcheck(
        (t) => project(conv2d(t[0]!, t[1]!, t[2]!, options)),
        [f64(xs), f64(ws), bias],
      );
      for (const e of errors) assert.ok(e < 1e-6, `${name}: error ${e}`);
    });
  }
  it('without a bias', () => {
    const { maxError } = gradcheck(
      (t) => project(conv2d(t[0]!, t[1]!, null, { padding: 1 })),
      [f64([1, 2, 4, 4]), f64([3, 2, 3, 3])],
    );
    assert.ok(maxError < 1e-6, `error ${maxError}`);
  });
  it('an input used twice accumulates', () => {
    const { maxError } = gradcheck(
      (t) =>
        project(mul(conv2d(t[0]!, t[1]!, null, { padding: 1 }), conv2d(t[0]!, t[1]!, null, { padding: 1 }))),
      [f64([1, 2, 4, 4]), f64([2, 2, 3, 3])],
    );
    assert.ok(maxError < 1e-6, `error ${maxError}`);
  });
});

describe('pooling gradcheck (float64)', () => {
  const cases: Array<[string, 'max' | 'average', Pool2dOptions]> = [
    ['max 2x2', 'max', { kernel: 2 }],
    ['max 3x3 stride 2 padding 1', 'max', { kernel: 3, stride: 2, padding: 1 }],
    ['max dilated', 'max', { kernel: 2, stride: 1, dilation: 2 }],
    ['average 2x2', 'average', { kernel: 2 }],
    ['average 3x3 stride 2 padding 1', 'average', { kernel: 3, stride: 2, padding: 1 }],
    ['average excluding padding', 'average', { kernel: 3, stride: 2, padding: 1, countIncludePad: false }],
    ['average [3, 2] stride [1, 2]', 'average', { kernel: [3, 2], stride: [1, 2] }],
  ];
  for (const [name, mode, options] of cases) {
    it(name, () => {
      const { maxError } = gradcheck((t) => project(pool2d(t[0]!, mode, options)), [distinct([2, 2, 7, 6])]);
      assert.ok(maxError < 1e-6, `${name}: error ${maxError}`);
    });
  }
  it('global average pooling and flatten', () => {
    const { maxError } = gradcheck((t) => project(globalAvgPool2d(t[0]!)), [f64([2, 3, 4, 5])]);
    assert.ok(maxError < 1e-6);
    const flat = flatten(f64([2, 3, 4, 5]));
    assert.deepEqual(flat.shape, [2, 60]);
  });
  it("flatten's gradient: a leaf's accumulates; an intermediate's is handed over, and later adds still land", () => {
    // Leaf: flatten adds into the leaf's gradient (here used twice, so both paths add).
    const leafCheck = gradcheck((t) => add(project(flatten(t[0]!)), project(t[0]!)), [f64([2, 3, 2, 2])]);
    assert.ok(leafCheck.maxError < 1e-6, `leaf: ${leafCheck.maxError}`);
    // Intermediate h = conv(x): flatten's backward may run before or after h's other consumer; either order
    // gives dL/dh = both contributions, so dL/dx and dL/dw are right.
    const w = f64([3, 2, 3, 3]);
    for (const flattenLast of [false, true]) {
      const { maxError } = gradcheck(
        (t) => {
          const h = conv2d(t[0]!, t[1]!, null, { padding: 1 });
          const viaFlatten = project(flatten(h));
          const direct = project(activation(h, 'tanh'));
          return flattenLast ? add(direct, viaFlatten) : add(viaFlatten, direct);
        },
        [f64([2, 2, 4, 3]), w],
      );
      assert.ok(maxError < 1e-6, `intermediate (flatten ${flattenLast ? 'last' : 'first'}): ${maxError}`);
    }
    // The handed-over buffer is the input's gradient itself, no copy.
    const x = f64([2, 2, 3, 3]);
    x.requiresGrad = true;
    const h = activation(x, 'tanh');
    const y = flatten(h);
    backward(project(y), { retainGraph: true });
    assert.ok(h.grad !== null && h.grad === y.grad, 'the same buffer');
  });
  it('moving channels to the last axis and back', () => {
    const x = f64([2, 3, 4, 5]);
    const last = moveChannels(x, true);
    assert.deepEqual(last.shape, [2, 4, 5, 3]);
    // x[1, 2, 3, 4] is last[1, 3, 4, 2]
    assert.equal(last.data[((1 * 4 + 3) * 5 + 4) * 3 + 2], x.data[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
    assert.deepEqual(moveChannels(last, false).toArray(), x.toArray());
    const { maxError } = gradcheck(
      (t) => project(moveChannels(moveChannels(t[0]!, true), false)),
      [f64([1, 2, 3, 2])],
    );
    assert.ok(maxError < 1e-6);
  });
});

function leaf(fx: Fixture, name: string, dtype: 'float32' | 'float64' = 'float64'): Tensor {
  const t = tensor(fx, name, dtype);
  t.requiresGrad = true;
  return t;
}

describe('conv2d and pooling agree with PyTorch 1.13 (fixtures)', () => {
  for (const name of ['conv2d-same', 'conv2d-strided', 'conv2d-dilated-groups', 'conv2d-1x1']) {
    for (const dtype of ['float64', 'float32'] as const) {
      it(`${name} ${dtype}`, () => {
        const fx = loadFixture(name);
        const h = fx.hyperparameters as {
          stride: number[];
          padding: number[];
          dilation: number[];
          groups: number;
        };
        const x = leaf(fx, 'x', dtype);
        const weight = leaf(fx, 'weight', dtype);
        const bias = fx.tensors['bias'] ? leaf(fx, 'bias', dtype) : null;
        const out = conv2d(x, weight, bias, {
          stride: [h.stride[0]!, h.stride[1]!],
          padding: [h.padding[0]!, h.padding[1]!],
          dilation: [h.dilation[0]!, h.dilation[1]!],
          groups: h.groups,
        });
        const tol = dtype === 'float64' ? { rtol: 1e-9, atol: 1e-12 } : { rtol: 1e-4, atol: 1e-5 };
        assert.deepEqual(out.shape, fx.tensors['out']!.shape);
        assertClose(out.data, tensor(fx, 'out').data, { what: `${name} out`, ...tol });
        backward(sum(mul(out, tensor(fx, 'w', dtype))));
        assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: `${name} grad.x`, ...tol });
        assertClose(weight.grad!, tensor(fx, 'grad.weight').data, { what: `${name} grad.weight`, ...tol });
        if (bias)
          assertClose(bias.grad!, tensor(fx, 'grad.bias').data, { what: `${name} grad.bias`, ...tol });
      });
    }
  }
  const pools: Array<[string, (x: Tensor) => Tensor]> = [
    ['max-pool2d', (x) => pool2d(x, 'max', { kernel: 3, stride: 2, padding: 1 })],
    ['max-pool2d-dilated', (x) => pool2d(x, 'max', { kernel: 2, stride: 1, padding: 1, dilation: 2 })],
    ['avg-pool2d', (x) => pool2d(x, 'average', { kernel: 3, stride: 2, padding: 1 })],
    [
      'avg-pool2d-exclude-pad',
      (x) => pool2d(x, 'average', { kernel: 3, stride: 2, padding: 1, countIncludePad: false }),
    ],
    ['global-avg-pool2d', (x) => globalAvgPool2d(x)],
  ];
  for (const [name, fn] of pools) {
    it(name, () => {
      const fx = loadFixture(name);
      const x = leaf(fx, 'x');
      const out = fn(x);
      assert.deepEqual(out.shape, fx.tensors['out']!.shape);
      assertClose(out.data, tensor(fx, 'out').data, { what: `${name} out`, rtol: 1e-12 });
      backward(sum(mul(out, tensor(fx, 'w'))));
      assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: `${name} grad.x`, rtol: 1e-12 });
    });
  }
});

describe('conv2d with a fused activation', () => {
  it('gradchecks in float64 for relu (fused in the kernel) and tanh (a second pass)', () => {
    for (const name of ['relu', 'tanh'] as const) {
      const { errors } = gradcheck(
        (t) => project(conv2d(t[0]!, t[1]!, t[2]!, { padding: 1, stride: [1, 2], activation: name })),
        [f64([2, 3, 6, 5]), f64([4, 3, 3, 3]), f64([4])],
      );
      for (const e of errors) assert.ok(e < 1e-6, `${name}: error ${e}`);
    }
  });

  it('equals the conv followed by the activation op, forward and gradients, on each backend', () => {
    const backends = wasmSupported()
      ? [tsKernels, createWasmKernels({ fusedMultiplyAdd: false })]
      : [tsKernels];
    for (const backend of backends) {
      const previous = setKernels(backend);
      for (const name of ['relu', 'leaky-relu', 'tanh'] as const) {
        const x = Tensor.randn([2, 3, 7, 6], rng, { requiresGrad: true });
        const w = Tensor.randn([5, 3, 3, 3], rng, { requiresGrad: true });
        const b = Tensor.randn([5], rng, { requiresGrad: true });
        const run = (fused: boolean): number[][] => {
          for (const t of [x, w, b]) t.zeroGrad();
          const y = fused
            ? conv2d(x, w, b, { padding: 1, activation: name })
            : activation(conv2d(x, w, b, { padding: 1 }), name);
          backward(sum(mul(y, y)));
          return [y.toArray(), Array.from(x.grad!), Array.from(w.grad!), Array.from(b.grad!)];
        };
        const chained = run(false);
        const fused = run(true);
        const what = `${backend.name} ${name}`;
        // The forward is the same bits; gradients agree to float32 rounding (sums may be ordered differently).
        assert.deepEqual(fused[0], chained[0], `${what}: forward`);
        chained.forEach((r, i) =>
          assertClose(fused[i]!, r, { what: `${what} part ${i}`, rtol: 1e-5, atol: 1e-5 }),
        );
      }
      setKernels(previous);
    }
  });
});

describe('conv2d on each backend', () => {
  it('the WebAssembly kernels give the reference kernels’ result to float32 rounding', () => {
    if (!wasmSupported()) return;
    const x = Tensor.randn([3, 4, 9, 9], rng, { requiresGrad: true });
    const w = Tensor.randn([8, 2, 3, 3], rng, { requiresGrad: true });
    const run = (): number[][] => {
      x.zeroGrad();
      w.zeroGrad();
      const y = conv2d(x, w, null, { padding: 1, stride: 2, groups: 2 });
      backward(sum(mul(y, y)));
      return [y.toArray(), Array.from(x.grad!), Array.from(w.grad!)];
    };
    const previous = setKernels(tsKernels);
    const reference = run();
    setKernels(createWasmKernels({ fusedMultiplyAdd: false }));
    const fast = run();
    setKernels(previous);
    reference.forEach((r, i) => assertClose(fast[i]!, r, { what: `part ${i}`, rtol: 1e-4, atol: 1e-4 }));
  });
});

describe('conv2d and pooling edge cases', () => {
  it('output sizes follow PyTorch’s formula', () => {
    assert.equal(convOutputSize(28, 3, 1, 1), 28);
    assert.equal(convOutputSize(28, 3, 2, 1), 14);
    assert.equal(convOutputSize(7, 3, 1, 0, 3), 1);
  });
  it('a kernel larger than the input names the sizes and the fix', () => {
    assert.throws(
      () => conv2d(f64([1, 1, 4, 4]), f64([1, 1, 5, 5]), null),
      /5x5 kernel .* does not fit a 4x4 input .* use a smaller kernel/,
    );
  });
  it('stride 0 and negative padding are refused', () => {
    assert.throws(
      () => conv2d(f64([1, 1, 4, 4]), f64([1, 1, 3, 3]), null, { stride: 0 }),
      /stride 0 .* at least 1/,
    );
    assert.throws(() => pool2d(f64([1, 1, 4, 4]), 'max', { kernel: 2, padding: -1 }), /padding -1/);
  });
  it('channels that do not match the weight are refused', () => {
    assert.throws(
      () => conv2d(f64([1, 3, 4, 4]), f64([2, 2, 3, 3]), null),
      /input has 3 channels but weight \[2, 2, 3, 3\] with groups 1 expects 2/,
    );
    assert.throws(() => conv2d(f64([1, 4, 4, 4]), f64([3, 2, 3, 3]), null, { groups: 2 }), /groups 2 must/);
    assert.throws(() => conv2d(f64([4, 4]), f64([3, 2, 3, 3]), null), /\[batch, channels, height, width\]/);
  });
  it('pooling padding over half the kernel is refused, as in PyTorch', () => {
    assert.throws(() => pool2d(f64([1, 1, 4, 4]), 'max', { kernel: 2, padding: 2 }), /more than half/);
  });
  it('NaN propagates through conv and wins its max-pool window', () => {
    const x = Tensor.zeros([1, 1, 4, 4], 'float64');
    x.data[5] = NaN;
    const pooled = pool2d(x, 'max', { kernel: 2 });
    assert.ok(Number.isNaN(pooled.data[0]));
    assert.equal(pooled.data[1], 0);
    const y = conv2d(x, Tensor.ones([1, 1, 3, 3], 'float64'), null, { padding: 1 });
    assert.ok(Number.isNaN(y.data[0]));
    assert.equal(y.data[15], 0);
  });
  it('max pooling sends the gradient to the first winner of a tie', () => {
    const x = new Tensor(Float64Array.from([1, 1, 1, 1]), [1, 1, 2, 2], { requiresGrad: true });
    backward(sum(pool2d(x, 'max', { kernel: 2 })));
    assert.deepEqual(Array.from(x.grad!), [1, 0, 0, 0]);
  });
  it('float32 stays float32', () => {
    const y = conv2d(Tensor.randn([1, 2, 5, 5], rng), Tensor.randn([3, 2, 3, 3], rng), null);
    assert.equal(y.dtype, 'float32');
    assert.equal(pool2d(y, 'average', { kernel: 3 }).dtype, 'float32');
  });
});
