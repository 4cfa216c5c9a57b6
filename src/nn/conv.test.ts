import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backward } from '../autograd/tape.js';
import { fans, resolveBias, resolveInit } from '../init/index.js';
import * as op from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { moduleGradcheck } from '../testing/module-gradcheck.js';
import { assertClose, loadFixture, tensor } from '../testing/fixtures.js';
import { Conv2d, Flatten, GlobalAvgPool2d, Pool2d } from './conv.js';
import { BatchNorm2d } from './norm.js';

const rng = new Rng(3);
const project = (y: Tensor): Tensor =>
  op.sum(
    op.mul(
      y,
      new Tensor(
        Float64Array.from({ length: y.size }, (_, i) => Math.cos(i + 0.5)),
        y.shape,
      ),
    ),
  );

function conv(
  inChannels: number,
  outChannels: number,
  extra: Partial<ConstructorParameters<typeof Conv2d>[2]> = {},
): Conv2d {
  return new Conv2d(inChannels, outChannels, {
    kernel: 3,
    padding: 1,
    activation: 'tanh',
    weightInit: resolveInit('he-normal', { activation: 'relu' }),
    biasInit: resolveBias({ normal: 0.1 }),
    rng: rng.fork(`conv-${inChannels}-${outChannels}`),
    dtype: 'float64',
    ...extra,
  });
}

describe('Conv2d', () => {
  it('declares fan_in = C_in kh kw / groups and fan_out = C_out kh kw, as init/fans reads the weight', () => {
    const layer = conv(8, 16, { kernel: [3, 5], groups: 2 });
    const f = layer.facts();
    assert.equal(f.kind, 'conv');
    assert.equal(f.fanIn, 4 * 3 * 5);
    assert.equal(f.fanOut, 16 * 3 * 5);
    assert.deepEqual(fans(layer.weight.shape), { fanIn: f.fanIn, fanOut: f.fanOut });
  });
  it('He initialisation gives weights of variance 2 / fan_in', () => {
    const layer = conv(32, 64);
    let s = 0;
    for (const v of layer.weight.data) s += v * v;
    const variance = s / layer.weight.size;
    const expected = 2 / (32 * 9);
    assert.ok(Math.abs(variance / expected - 1) < 0.05, `variance ${variance} vs ${expected}`);
  });
  it('gradients through conv, batch norm and tanh pass a finite-difference check', () => {
    // Training-mode batch norm: each forward also moves the running statistics, which the loss never reads.
    // No bias: batch norm subtracts it again, so its gradient is 0 and only rounding noise is left to compare.
    const layer = conv(2, 3, { norm: 'batch', stride: 2, bias: false });
    const { errors, maxError } = moduleGradcheck(
      layer,
      Tensor.randn([3, 2, 5, 5], rng, { dtype: 'float64' }),
      project,
    );
    assert.ok(maxError < 1e-6, JSON.stringify(errors));
    assert.equal(Object.keys(errors).length, 4);
    const biased = conv(2, 3, { stride: 2 });
    assert.ok(
      moduleGradcheck(biased, Tensor.randn([2, 2, 5, 5], rng, { dtype: 'float64' }), project).maxError < 1e-6,
    );
  });
  it('parameters are weight, bias and the norm’s, by dotted name', () => {
    const layer = conv(2, 3, { norm: 'batch' });
    assert.deepEqual(
      layer.namedParameters('layers.0').map((p) => p.name),
      ['layers.0.weight', 'layers.0.bias', 'layers.0.norm.weight', 'layers.0.norm.bias'],
    );
  });
  it('an input with the wrong channels names both counts and the fix', () => {
    assert.throws(
      () => conv(3, 4).forward(Tensor.zeros([1, 2, 5, 5], 'float64')),
      /has 2 channels but the layer takes 3; make the previous layer's channels match/,
    );
  });
  it('pooling, global average pooling and flatten compose into a head', () => {
    const x = Tensor.randn([2, 4, 8, 8], rng, { dtype: 'float64' });
    assert.deepEqual(new Pool2d('max', { kernel: 2 }).forward(x).shape, [2, 4, 4, 4]);
    assert.deepEqual(new GlobalAvgPool2d().forward(x).shape, [2, 4]);
    assert.deepEqual(new Flatten().forward(x).shape, [2, 256]);
  });
});

describe('BatchNorm2d agrees with PyTorch 1.13', () => {
  for (const mode of ['train', 'eval'] as const) {
    it(mode, () => {
      const fx = loadFixture(`batchnorm2d-${mode}`);
      const bn = new BatchNorm2d(3, { dtype: 'float64' });
      bn.weight.data.set(tensor(fx, 'weight').data);
      bn.bias.data.set(tensor(fx, 'bias').data);
      bn.runningMean.set(tensor(fx, 'running_mean.before').data);
      bn.runningVar.set(tensor(fx, 'running_var.before').data);
      bn.setTraining(mode === 'train');
      const x = tensor(fx, 'x');
      x.requiresGrad = true;
      const out = bn.forward(x);
      assertClose(out.data, tensor(fx, 'out').data, { what: `${mode} out`, rtol: 1e-9 });
      backward(op.sum(op.mul(out, tensor(fx, 'w'))));
      assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: `${mode} grad.x`, rtol: 1e-9, atol: 1e-12 });
      // BatchNorm's evaluation map is fixed (no gradient to gamma and beta), as for the 1-D layer.
      if (mode === 'train') {
        assertClose(bn.weight.grad!, tensor(fx, 'grad.weight').data, {
          what: `${mode} grad.weight`,
          rtol: 1e-9,
        });
        assertClose(bn.bias.grad!, tensor(fx, 'grad.bias').data, { what: `${mode} grad.bias`, rtol: 1e-9 });
      }
      assertClose(bn.runningMean, tensor(fx, 'running_mean.after').data, { what: `${mode} running mean` });
      assertClose(bn.runningVar, tensor(fx, 'running_var.after').data, { what: `${mode} running var` });
    });
  }
  it('refuses a batch whose channels do not match', () => {
    assert.throws(
      () => new BatchNorm2d(3).forward(Tensor.zeros([2, 4, 3, 3])),
      /BatchNorm2d\(3\) needs .* \[2, 4, 3, 3\]/,
    );
  });
});
