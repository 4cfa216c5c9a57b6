import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backward, noGrad } from '../autograd/tape.js';
import { createImagesTask } from '../data/images.js';
import { resolveBias, resolveInit } from '../init/index.js';
import * as op from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { ConvNet } from './conv.js';
import { ResNet, type ResNetOptions } from './residual.js';

const task = createImagesTask({ size: 800 }, 0);
const image = task.image!;
const init = {
  weightInit: (activation: Parameters<typeof resolveInit>[1]['activation']) =>
    resolveInit('he-normal', { activation }),
  biasInit: resolveBias(0),
};
const rms = (t: Tensor | Float32Array | Float64Array): number => {
  const d = 'data' in t ? t.data : t;
  let s = 0;
  for (const v of d) s += v * v;
  return Math.sqrt(s / d.length);
};

describe('ConvNet', () => {
  it('a small CNN learns the images task (SGD, 400 steps)', () => {
    const net = new ConvNet({
      image,
      outputSize: 4,
      channels: [8, 8],
      kernel: 3,
      stride: 1,
      pool: 'max',
      poolEvery: 1,
      activation: 'relu',
      norm: 'none',
      head: [],
      ...init,
      rng: new Rng(1),
    });
    const params = net.parameters();
    const rng = new Rng(2);
    for (let step = 0; step < 400; step++) {
      const batch = task.trainBatch(32, rng);
      net.zeroGrad();
      backward(op.crossEntropy(net.forward(batch.x), batch.labels!));
      for (const p of params) for (let i = 0; i < p.size; i++) p.data[i] -= 0.1 * (p.grad![i] as number);
    }
    const evalSet = task.evalSet();
    const logits = noGrad(() => net.forward(evalSet.x));
    let right = 0;
    for (let n = 0; n < evalSet.labels!.length; n++) {
      const row = Array.from(logits.data.subarray(n * 4, n * 4 + 4));
      if (row.indexOf(Math.max(...row)) === evalSet.labels![n]) right++;
    }
    const accuracy = right / evalSet.labels!.length;
    assert.ok(accuracy > 0.8, `eval accuracy ${accuracy}`);
  });
  it('names the layer whose input has become smaller than the kernel', () => {
    assert.throws(
      () =>
        new ConvNet({
          image,
          outputSize: 4,
          channels: [4, 4, 4, 4],
          kernel: 3,
          stride: 1,
          pool: 'max',
          poolEvery: 1,
          activation: 'relu',
          norm: 'none',
          head: [],
          ...init,
          rng: new Rng(1),
        }),
      /conv layer 3 gets a 1x1 image, smaller than its 3x3 kernel/,
    );
  });
});

describe('ResNet at 50 layers without batch norm (He et al. 2016; Zhang et al. 2019; Bachlechner et al. 2020)', () => {
  const batch = task.trainBatch(16, new Rng(1));
  const build = (extra: Partial<ResNetOptions>): ResNet =>
    new ResNet({
      image,
      outputSize: 4,
      stages: 3,
      blocks: 8,
      width: 8,
      order: 'post',
      layers: 2,
      norm: 'none',
      fixup: false,
      shortcut: true,
      activation: 'relu',
      ...init,
      rng: new Rng(0),
      ...extra,
    });
  const probe = (net: ResNet): { out: number; stemGrad: number } => {
    const out = net.forward(batch.x);
    backward(op.crossEntropy(out, batch.labels!));
    const stem = net.namedParameters().find((p) => p.name === 'layers.0.weight')!.tensor;
    return { out: rms(out), stemGrad: rms(stem.grad!) };
  };
  it('has 1 + 3 x 8 x 2 + 1 = 50 weight layers, one layer index per block', () => {
    const net = build({});
    assert.equal(net.blocks.length, 1 + 24 + 2);
    const convs = net.namedParameters().filter((p) => p.name.endsWith('weight') && p.tensor.rank === 4);
    assert.equal(convs.filter((p) => !p.name.includes('shortcut')).length, 49);
  });
  it('the plain twin’s signal and stem gradient vanish; the unscaled ResNet explodes; Fixup and ReZero do neither', () => {
    const plain = probe(build({ shortcut: false }));
    const unscaled = probe(build({}));
    const fixup = probe(build({ fixup: true }));
    const rezero = probe(build({ scale: { init: 0, learnable: true } }));
    assert.ok(plain.out < 0.02 && plain.stemGrad < 0.01, `plain ${JSON.stringify(plain)}`);
    assert.ok(unscaled.out > 100 && unscaled.stemGrad > 10, `unscaled ${JSON.stringify(unscaled)}`);
    for (const [name, r] of [
      ['fixup', fixup],
      ['rezero', rezero],
    ] as const) {
      assert.ok(
        r.out > 0.05 && r.out < 3 && r.stemGrad > 0.01 && r.stemGrad < 3,
        `${name} ${JSON.stringify(r)}`,
      );
    }
  });
});
