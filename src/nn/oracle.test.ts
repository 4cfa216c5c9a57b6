/** Agreement with PyTorch 1.13 (fixtures made by scripts/make_fixtures.py) within 1e-5 relative. */
import { describe, it } from 'node:test';
import { backward } from '../autograd/tape.js';
import { ACTIVATIONS, activationKernels } from '../kernels/activations.js';
import * as op from '../ops/index.js';
import { Tensor } from '../tensor/tensor.js';
import { assertClose, loadFixture, tensor } from '../testing/fixtures.js';
import { BatchNorm, LayerNorm } from './norm.js';

function leaf(fx: ReturnType<typeof loadFixture>, name: string): Tensor {
  const t = tensor(fx, name);
  t.requiresGrad = true;
  return t;
}

function labels(fx: ReturnType<typeof loadFixture>): Int32Array {
  return Int32Array.from(tensor(fx, 'target').data);
}

describe('dense stacks agree with PyTorch', () => {
  for (const name of ACTIVATIONS) {
    it(`dense-${name}`, () => {
      const fx = loadFixture(`dense-${name}`);
      const x = leaf(fx, 'x');
      const p: Record<string, Tensor> = {};
      for (const k of [
        'layers.0.weight',
        'layers.0.bias',
        'layers.2.weight',
        'layers.2.bias',
        'layers.4.weight',
        'layers.4.bias',
      ])
        p[k] = leaf(fx, k);
      const slopes = name === 'prelu' ? [leaf(fx, 'layers.1.weight'), leaf(fx, 'layers.3.weight')] : [];
      const act = (z: Tensor, i: number): Tensor =>
        name === 'prelu' ? op.prelu(z, slopes[i]!) : op.activation(z, name);
      // The fused op for the plain activations, the unfused path for PReLU: both are what the Dense layer runs.
      const hidden = (h: Tensor, layer: number, i: number): Tensor =>
        name === 'prelu'
          ? act(op.linear(h, p[`layers.${layer}.weight`]!, p[`layers.${layer}.bias`]!, 'linear'), i)
          : op.linear(
              h,
              p[`layers.${layer}.weight`]!,
              p[`layers.${layer}.bias`]!,
              name,
              activationKernels[name].defaultAlpha,
            );
      const h1 = hidden(x, 0, 0);
      const h2 = hidden(h1, 2, 1);
      const out = op.linear(h2, p['layers.4.weight']!, p['layers.4.bias']!, 'linear');
      const loss = op.crossEntropy(out, labels(fx));
      assertClose(out.data, tensor(fx, 'out').data, { what: `${name} logits` });
      assertClose(loss.data, tensor(fx, 'loss').data, { what: `${name} loss` });
      backward(loss);
      assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: `${name} grad.x` });
      for (const [k, t] of Object.entries(p))
        assertClose(t.grad!, tensor(fx, `grad.${k}`).data, { what: `${name} grad.${k}` });
      slopes.forEach((s, i) =>
        assertClose(s.grad!, tensor(fx, `grad.layers.${2 * i + 1}.weight`).data, {
          what: `prelu slope ${i}`,
        }),
      );
    });
  }
});

describe('losses and softmax agree with PyTorch', () => {
  it('cross-entropy (normal and 1e4-scale logits)', () => {
    for (const name of ['loss-cross-entropy', 'loss-cross-entropy-large-logits']) {
      const fx = loadFixture(name);
      const x = leaf(fx, 'x');
      const loss = op.crossEntropy(x, labels(fx));
      assertClose(loss.data, tensor(fx, 'loss').data, { what: `${name} loss` });
      backward(loss);
      assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: `${name} grad` });
    }
  });
  it('binary cross-entropy, with logits, mse', () => {
    const cases: Array<[string, (x: Tensor, t: Tensor) => Tensor]> = [
      ['loss-bce', op.binaryCrossEntropy],
      ['loss-bce-with-logits', op.binaryCrossEntropyWithLogits],
      ['loss-mse', op.mse],
    ];
    for (const [name, fn] of cases) {
      const fx = loadFixture(name);
      const x = leaf(fx, 'x');
      const loss = fn(x, tensor(fx, 'target'));
      assertClose(loss.data, tensor(fx, 'loss').data, { what: `${name} loss` });
      backward(loss);
      assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: `${name} grad` });
    }
  });
  it('softmax and log-softmax', () => {
    for (const [name, fn] of [
      ['softmax', op.softmax],
      ['log-softmax', op.logSoftmax],
    ] as const) {
      const fx = loadFixture(name);
      const x = leaf(fx, 'x');
      const out = fn(x);
      assertClose(out.data, tensor(fx, 'out').data, { what: `${name} out` });
      backward(op.sum(op.mul(out, tensor(fx, 'w'))));
      assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: `${name} grad` });
    }
  });
  it('a reused node accumulates its gradient', () => {
    const fx = loadFixture('grad-accumulate');
    const x = leaf(fx, 'x');
    backward(op.sum(op.mul(op.add(op.mul(x, x), x), tensor(fx, 'w'))));
    assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: 'grad.x' });
  });
});

describe('normalisation layers agree with PyTorch', () => {
  it('BatchNorm in training mode, with running statistics', () => {
    const fx = loadFixture('batchnorm1d-train');
    const bn = new BatchNorm(6, { dtype: 'float64' });
    bn.weight.data.set(tensor(fx, 'weight').data);
    bn.bias.data.set(tensor(fx, 'bias').data);
    bn.runningMean.set(tensor(fx, 'running_mean.before').data);
    bn.runningVar.set(tensor(fx, 'running_var.before').data);
    const x = leaf(fx, 'x');
    const out = bn.forward(x);
    assertClose(out.data, tensor(fx, 'out').data, { what: 'out' });
    backward(op.sum(op.mul(out, tensor(fx, 'w'))));
    assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: 'grad.x' });
    assertClose(bn.weight.grad!, tensor(fx, 'grad.weight').data, { what: 'grad.weight' });
    assertClose(bn.bias.grad!, tensor(fx, 'grad.bias').data, { what: 'grad.bias' });
    assertClose(bn.runningMean, tensor(fx, 'running_mean.after').data, { what: 'running mean' });
    assertClose(bn.runningVar, tensor(fx, 'running_var.after').data, { what: 'running var (unbiased)' });
  });
  it('BatchNorm in eval mode', () => {
    const fx = loadFixture('batchnorm1d-eval');
    const bn = new BatchNorm(6, { dtype: 'float64' }).setTraining(false);
    bn.weight.data.set(tensor(fx, 'weight').data);
    bn.bias.data.set(tensor(fx, 'bias').data);
    bn.runningMean.set(tensor(fx, 'running_mean').data);
    bn.runningVar.set(tensor(fx, 'running_var').data);
    const x = leaf(fx, 'x');
    const out = bn.forward(x);
    assertClose(out.data, tensor(fx, 'out').data, { what: 'eval out' });
    backward(op.sum(op.mul(out, tensor(fx, 'w'))));
    assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: 'eval grad.x' });
  });
  it('LayerNorm', () => {
    const fx = loadFixture('layernorm');
    const ln = new LayerNorm(6, { dtype: 'float64' });
    ln.weight.data.set(tensor(fx, 'weight').data);
    ln.bias.data.set(tensor(fx, 'bias').data);
    const x = leaf(fx, 'x');
    const out = ln.forward(x);
    assertClose(out.data, tensor(fx, 'out').data, { what: 'out' });
    backward(op.sum(op.mul(out, tensor(fx, 'w'))));
    assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: 'grad.x' });
    assertClose(ln.weight.grad!, tensor(fx, 'grad.weight').data, { what: 'grad.weight' });
    assertClose(ln.bias.grad!, tensor(fx, 'grad.bias').data, { what: 'grad.bias' });
  });
});
