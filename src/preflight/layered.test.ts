import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveBias, resolveInit } from '../init/index.js';
import type { ActivationName } from '../kernels/activations.js';
import { ConvNet } from '../nn/conv.js';
import { ResNet, type ResNetOptions } from '../nn/residual.js';
import { Rng } from '../tensor/rng.js';
import { layeredReport, probeLayered, type LayeredNetworkProbe } from './layered.js';

const image = { channels: 1, height: 8, width: 8 };
const inputSize = 64;

function init(name: 'he-normal' | 'xavier-uniform') {
  return {
    weightInit: (activation: ActivationName) => resolveInit(name, { activation }),
    biasInit: resolveBias(0),
  };
}

function plain(depth: number, activation: ActivationName, seed: number): ConvNet {
  return new ConvNet({
    image,
    outputSize: 4,
    channels: new Array<number>(depth).fill(8),
    kernel: 3,
    stride: 1,
    pool: 'none',
    poolEvery: 1,
    activation,
    norm: 'none',
    head: [],
    ...init(activation === 'relu' ? 'he-normal' : 'xavier-uniform'),
    rng: new Rng(seed),
    dtype: 'float64',
  });
}

function resnet(options: Partial<ResNetOptions>, seed: number): ResNet {
  return new ResNet({
    image,
    outputSize: 4,
    stages: 1,
    blocks: 6,
    width: 8,
    order: 'pre',
    layers: 2,
    norm: 'none',
    fixup: false,
    shortcut: true,
    activation: 'relu',
    ...init('he-normal'),
    rng: new Rng(seed),
    dtype: 'float64',
    ...options,
  });
}

const probe = (model: ConvNet | ResNet, seed: number): LayeredNetworkProbe =>
  probeLayered(model, { inputSize, rng: new Rng(100 + seed) });

describe('the layered probe on nn-built conv and residual nets', () => {
  it('measures every conv layer of a plain CNN; a deep sigmoid stack vanishes', () => {
    const p = probe(plain(12, 'sigmoid', 1), 1);
    assert.deepEqual(
      p.layers.map((l) => l.layer),
      Array.from({ length: 12 }, (_, i) => i),
    );
    assert.ok(p.layers.every((l) => l.kind === 'conv' && Number.isFinite(l.gradNorm2) && l.gradNorm2 > 0));
    const report = layeredReport('sigmoid-cnn', 'mlp', [p, probe(plain(12, 'sigmoid', 2), 2)], {
      activation: 'sigmoid',
      init: 'xavier-uniform',
      norm: 'none',
      inputs: 'gaussian-unit',
    });
    assert.equal(report.verdict, 'vanishing', `ratio ${report.gradRatio}`);
    assert.ok(report.advice.some((a) => /residual connections/.test(a)));
    assert.ok(Number.isFinite(report.jacobian.meanSquaredSingular));
  });

  it('a ResNet reports the shortcut and branch of each block; ReZero blocks carry no branch and pass the gradient unchanged', () => {
    const unscaled = probe(resnet({}, 3), 3);
    const blocks = unscaled.layers.filter((l) => l.shortcut !== null);
    assert.equal(blocks.length, 6);
    assert.ok(blocks.every((b) => (b.branch ?? 0) > 0 && (b.shortcut ?? 0) > 0));
    const rezero = probe(resnet({ scale: { init: 0, learnable: true } }, 3), 3);
    const zero = rezero.layers.filter((l) => l.shortcut !== null);
    assert.ok(zero.every((b) => b.branch === 0));
    // Identity blocks: the gradient at every block's output is the gradient at the top.
    const g = zero.map((b) => b.gradNorm2);
    for (const value of g) assert.ok(Math.abs(value - g[g.length - 1]!) <= 1e-12 * g[g.length - 1]!, `${g}`);
    const report = layeredReport('rezero', 'mlp', [rezero], {
      activation: 'relu',
      init: 'he-normal',
      norm: 'none',
      inputs: 'gaussian-unit',
    });
    assert.equal(report.branchVariance?.length, 6);
    assert.ok(report.branchVariance?.every((b) => b.ratio === 0));
    // The unscaled stack's gradient grows towards the input (each block adds its branch's gradient).
    assert.ok(blocks[0]!.gradNorm2 > blocks[5]!.gradNorm2, `${blocks.map((b) => b.gradNorm2)}`);
  });

  it('batch-normalised ResNets are probed on a batch (batch statistics, as in training)', () => {
    const p = probeLayered(resnet({ norm: 'batch', order: 'post', blocks: 2 }, 4), {
      inputSize,
      rng: new Rng(7),
      jacobian: false,
    });
    assert.ok(p.layers.length >= 3);
    assert.ok(p.layers.every((l) => Number.isFinite(l.gradNorm2) && l.gradNorm2 > 0 && l.q > 0));
    assert.equal(p.jacobian, null);
  });
});
