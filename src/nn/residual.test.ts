import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backward } from '../autograd/tape.js';
import { resolveBias, resolveInit } from '../init/index.js';
import * as op from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { assertClose } from '../testing/fixtures.js';
import { moduleGradcheck } from '../testing/module-gradcheck.js';
import { Residual, ResidualBlock, type ResidualBlockOptions } from './residual.js';
import { Dense } from './dense.js';

const project = (y: Tensor): Tensor =>
  op.sum(
    op.mul(
      y,
      new Tensor(
        Float64Array.from({ length: y.size }, (_, i) => Math.sin(0.7 * i + 1)),
        y.shape,
      ),
    ),
  );

type Options = Omit<ResidualBlockOptions, 'weightInit' | 'biasInit' | 'rng'>;

function block(options: Options, seed = 1): ResidualBlock {
  return new ResidualBlock({
    weightInit: (activation) => resolveInit('he-normal', { activation }),
    biasInit: resolveBias({ normal: 0.1 }),
    rng: new Rng(seed),
    dtype: 'float64',
    ...options,
  });
}

/** The block's parameters as fresh leaves, by dotted name, for a reference written with the ops alone. */
type P = Record<string, Tensor>;
const dense = (h: Tensor, p: P, name: string): Tensor =>
  op.linear(h, p[`${name}.weight`]!, p[`${name}.bias`]!);
const conv = (h: Tensor, p: P, name: string, stride = 1): Tensor =>
  op.conv2d(h, p[`${name}.weight`]!, p[`${name}.bias`] ?? null, { stride, padding: 1 });
const conv1x1 = (h: Tensor, p: P, name: string, stride: number): Tensor =>
  op.conv2d(h, p[`${name}.weight`]!, null, { stride });
const t = op.tanh;
const batchNorm = (h: Tensor, p: P, name: string): Tensor =>
  op.normalize(h, p[`${name}.weight`]!, p[`${name}.bias`]!, 'batch', 1e-5).y;

const denseX = [4, 5];
const convX = [2, 2, 5, 5];

/** Each form, its settings, and x -> y written out by hand. */
const forms: Array<[string, Options, number[], (x: Tensor, p: P) => Tensor]> = [
  [
    'branch, 1 dense layer: x + phi(W x + b) (the MLP shorthand)',
    { kind: 'dense', inSize: 5, outSize: 5, layers: 1, order: 'branch', activation: 'tanh', norm: 'none' },
    denseX,
    (x, p) => op.add(x, t(dense(x, p, 'branch.0'))),
  ],
  [
    'post, 2 dense layers (He et al. 2016a)',
    { kind: 'dense', inSize: 5, outSize: 5, layers: 2, order: 'post', activation: 'tanh', norm: 'none' },
    denseX,
    (x, p) => t(op.add(x, dense(t(dense(x, p, 'branch.0')), p, 'branch.1'))),
  ],
  [
    'post, 2 dense layers with batch norm',
    { kind: 'dense', inSize: 5, outSize: 5, layers: 2, order: 'post', activation: 'tanh', norm: 'batch' },
    denseX,
    (x, p) =>
      t(
        op.add(
          x,
          batchNorm(
            dense(t(batchNorm(dense(x, p, 'branch.0'), p, 'branch.0.norm')), p, 'branch.1'),
            p,
            'branch.1.norm',
          ),
        ),
      ),
  ],
  [
    'pre, 1 dense layer, no norm: x + W phi(x) + b (signal propagation)',
    { kind: 'dense', inSize: 5, outSize: 5, layers: 1, order: 'pre', activation: 'tanh', norm: 'none' },
    denseX,
    (x, p) => op.add(x, dense(t(x), p, 'branch.0')),
  ],
  [
    'pre, 2 dense layers with batch norm (He et al. 2016b)',
    { kind: 'dense', inSize: 5, outSize: 5, layers: 2, order: 'pre', activation: 'tanh', norm: 'batch' },
    denseX,
    (x, p) =>
      op.add(
        x,
        dense(
          t(batchNorm(dense(t(batchNorm(x, p, 'branch.0.prenorm')), p, 'branch.0'), p, 'branch.1.prenorm')),
          p,
          'branch.1',
        ),
      ),
  ],
  [
    'dense projection shortcut when the width changes',
    { kind: 'dense', inSize: 5, outSize: 3, layers: 1, order: 'branch', activation: 'tanh', norm: 'none' },
    denseX,
    (x, p) => op.add(dense(x, p, 'shortcut'), t(dense(x, p, 'branch.0'))),
  ],
  [
    'post, 2 conv layers (the ResNet basic block)',
    { kind: 'conv', inSize: 2, outSize: 2, layers: 2, order: 'post', activation: 'tanh', norm: 'none' },
    convX,
    (x, p) => t(op.add(x, conv(t(conv(x, p, 'branch.0')), p, 'branch.1'))),
  ],
  [
    'post, conv, stride 2 and 2 -> 4 channels: 1x1 projection',
    {
      kind: 'conv',
      inSize: 2,
      outSize: 4,
      layers: 2,
      order: 'post',
      activation: 'tanh',
      norm: 'none',
      stride: 2,
    },
    convX,
    (x, p) => t(op.add(conv1x1(x, p, 'shortcut', 2), conv(t(conv(x, p, 'branch.0', 2)), p, 'branch.1'))),
  ],
  [
    'pre, conv with projection: the shortcut reads phi(x)',
    {
      kind: 'conv',
      inSize: 2,
      outSize: 4,
      layers: 2,
      order: 'pre',
      activation: 'tanh',
      norm: 'none',
      stride: 2,
    },
    convX,
    (x, p) => {
      const a = t(x);
      return op.add(conv1x1(a, p, 'shortcut', 2), conv(t(conv(a, p, 'branch.0', 2)), p, 'branch.1'));
    },
  ],
  [
    'constant branch scale a = 0.5',
    {
      kind: 'dense',
      inSize: 5,
      outSize: 5,
      layers: 1,
      order: 'branch',
      activation: 'tanh',
      norm: 'none',
      scale: { init: 0.5, learnable: false },
    },
    denseX,
    (x) => x, // replaced below: needs the constant
  ],
  [
    'learnable branch scale (ReZero / SkipInit), here moved to 0.3',
    {
      kind: 'conv',
      inSize: 2,
      outSize: 2,
      layers: 1,
      order: 'pre',
      activation: 'tanh',
      norm: 'none',
      scale: { init: 0.3, learnable: true },
    },
    convX,
    (x, p) => op.add(x, op.mul(conv(t(x), p, 'branch.0'), p['scale']!)),
  ],
];
forms[9]![3] = (x, p) =>
  op.add(x, op.mul(t(dense(x, p, 'branch.0')), new Tensor(Float64Array.from([0.5]), [1])));

describe('residual forms against hand-written references (forward and backward, float64)', () => {
  for (const [name, options, xShape, reference] of forms) {
    it(name, () => {
      const b = block(options);
      const x = Tensor.randn(xShape, new Rng(9), { dtype: 'float64' });
      const xBlock = x.detach();
      xBlock.requiresGrad = true;
      const y = b.forward(xBlock);
      backward(project(y));
      const p: P = {};
      for (const { name: n, tensor } of b.namedParameters()) {
        const leaf = tensor.detach();
        leaf.requiresGrad = true;
        p[n] = leaf;
      }
      const xRef = x.detach();
      xRef.requiresGrad = true;
      const yRef = reference(xRef, p);
      backward(project(yRef));
      assert.deepEqual(y.shape, yRef.shape);
      assertClose(y.data, yRef.data, { what: `${name} y`, rtol: 1e-12, atol: 1e-12 });
      assertClose(xBlock.grad!, xRef.grad!, { what: `${name} dx`, rtol: 1e-10, atol: 1e-12 });
      for (const { name: n, tensor } of b.namedParameters()) {
        assertClose(tensor.grad!, p[n]!.grad!, { what: `${name} d ${n}`, rtol: 1e-10, atol: 1e-12 });
      }
    });
  }
  it('finite differences agree for a pre-activation conv block with batch norm and a learnable scale', () => {
    const b = block({
      kind: 'conv',
      inSize: 2,
      outSize: 3,
      layers: 2,
      order: 'pre',
      activation: 'tanh',
      norm: 'batch',
      stride: 2,
      scale: { init: 0.7, learnable: true },
    });
    // branch.0.bias feeds a batch norm, so its true gradient is 0: judged by absolute error (floor 1e-3).
    const { errors, maxError } = moduleGradcheck(
      b,
      Tensor.randn(convX, new Rng(4), { dtype: 'float64' }),
      project,
      { floor: 1e-3 },
    );
    assert.ok(maxError < 1e-6, JSON.stringify(errors));
  });
});

describe('at initialisation', () => {
  const x = Tensor.randn(convX, new Rng(2), { dtype: 'float64' });
  const xd = Tensor.randn(denseX, new Rng(2), { dtype: 'float64' });
  for (const order of ['pre', 'branch'] as const) {
    it(`a ReZero block (${order}) is the identity`, () => {
      const conv = block({
        kind: 'conv',
        inSize: 2,
        outSize: 2,
        layers: 2,
        order,
        activation: 'relu',
        norm: 'none',
        scale: { init: 0, learnable: true },
      });
      assert.deepEqual(conv.forward(x).toArray(), x.toArray());
      const mlp = block({
        kind: 'dense',
        inSize: 5,
        outSize: 5,
        layers: 1,
        order,
        activation: 'tanh',
        norm: 'none',
        scale: { init: 0, learnable: true },
      });
      assert.deepEqual(mlp.forward(xd).toArray(), xd.toArray());
    });
    it(`a Fixup block (${order}) is the identity`, () => {
      const b = block({
        kind: 'conv',
        inSize: 2,
        outSize: 2,
        layers: 2,
        order,
        activation: 'relu',
        norm: 'none',
        fixup: { branches: 16 },
      });
      assert.deepEqual(b.forward(x).toArray(), x.toArray());
    });
  }
  it('post-activation blocks give phi(x) instead, which is x only where phi is', () => {
    const b = block({
      kind: 'conv',
      inSize: 2,
      outSize: 2,
      layers: 2,
      order: 'post',
      activation: 'relu',
      norm: 'none',
      fixup: { branches: 4 },
    });
    assert.deepEqual(
      b.forward(x).toArray(),
      x.toArray().map((v) => Math.max(0, v)),
    );
  });
  it('Fixup zeroes the last layer and rescales the others by L^(-1/(2m-2))', () => {
    const options: Options = {
      kind: 'conv',
      inSize: 2,
      outSize: 2,
      layers: 2,
      order: 'pre',
      activation: 'relu',
      norm: 'none',
    };
    const plain = block(options, 5);
    const fixup = block({ ...options, fixup: { branches: 16 } }, 5);
    const byName = (b: ResidualBlock): Map<string, Tensor> =>
      new Map(b.namedParameters().map((p) => [p.name, p.tensor]));
    const f = byName(fixup);
    const w0 = f.get('branch.0.weight')!;
    const w1 = f.get('branch.1.weight')!;
    const p0 = byName(plain).get('branch.0.weight')!;
    // m = 2 layers: factor 16^(-1/2) = 1/4.
    w0.data.forEach((v, i) => assert.ok(Math.abs(v - (p0.data[i] as number) / 4) < 1e-15));
    assert.ok(w1.data.every((v) => v === 0));
    assert.equal(f.get('scale')!.data[0], 1);
    // The zero last layer still learns: its gradient is the only non-zero weight gradient at step one.
    const xg = x.detach();
    backward(project(fixup.forward(xg)));
    assert.ok(w1.grad!.some((v) => v !== 0));
    assert.ok(w0.grad!.every((v) => v === 0));
  });
});

describe('the shorthand and bad settings', () => {
  it('Residual(layer) keeps the layer’s parameter names and computes x + f(x)', () => {
    const layer = new Dense(5, 5, {
      activation: 'tanh',
      weightInit: resolveInit('xavier-normal', { activation: 'tanh' }),
      biasInit: resolveBias(0),
      rng: new Rng(1),
      dtype: 'float64',
    });
    const r = new Residual(layer);
    assert.deepEqual(
      r.namedParameters('layers.1').map((p) => p.name),
      ['layers.1.weight', 'layers.1.bias'],
    );
    assert.equal(r.facts()?.residual, true);
    const y = r.forward(xdCopy());
    const ref = op.add(xdCopy(), layer.forward(xdCopy()));
    assert.deepEqual(y.toArray(), ref.toArray());
  });
  it('refuses 3 layers, a stride on a dense branch, and layer norm on a conv branch', () => {
    const base: Options = {
      kind: 'dense',
      inSize: 5,
      outSize: 5,
      layers: 1,
      order: 'post',
      activation: 'relu',
      norm: 'none',
    };
    assert.throws(() => block({ ...base, layers: 3 }), /layers 3 .* use 1 or 2/);
    assert.throws(() => block({ ...base, stride: 2 }), /stride 2 is for conv branches/);
    assert.throws(() => block({ ...base, kind: 'conv', norm: 'layer' }), /"batch" or "none"/);
  });
  it('records the shortcut and branch mean squares when asked', () => {
    const b = block({
      kind: 'dense',
      inSize: 5,
      outSize: 5,
      layers: 1,
      order: 'pre',
      activation: 'tanh',
      norm: 'none',
    });
    b.measureVariances = true;
    const xin = xdCopy();
    const y = b.forward(xin);
    const ms = (a: number[]): number => a.reduce((s, v) => s + v * v, 0) / a.length;
    assert.ok(Math.abs(b.lastVariances!.shortcut - ms(xin.toArray())) < 1e-12);
    const branch = y.toArray().map((v, i) => v - (xin.data[i] as number));
    assert.ok(Math.abs(b.lastVariances!.branch - ms(branch)) < 1e-12);
  });
});

function xdCopy(): Tensor {
  return Tensor.randn(denseX, new Rng(8), { dtype: 'float64' });
}
