import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backward } from '../autograd/tape.js';
import { resolveBias, resolveInit } from '../init/index.js';
import * as op from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { Dropout } from './dropout.js';
import { Mlp } from './mlp.js';

function mlp(options: {
  norm: 'none' | 'batch' | 'layer';
  residual: boolean;
  activation: 'tanh' | 'prelu' | 'elu';
}): Mlp {
  return new Mlp({
    inputSize: 3,
    hidden: [4, 4, 4],
    outputSize: 2,
    activation: options.activation,
    norm: options.norm,
    residual: options.residual,
    dropout: 0,
    weightInit: (activation) => resolveInit('xavier-normal', { activation }),
    biasInit: resolveBias({ normal: 0.1 }),
    rng: new Rng(5),
    dtype: 'float64',
  });
}

describe('layers: gradient checks through whole models (float64)', () => {
  const variants = [
    { norm: 'none', residual: false, activation: 'tanh' },
    { norm: 'batch', residual: false, activation: 'tanh' },
    { norm: 'layer', residual: true, activation: 'elu' },
    { norm: 'none', residual: true, activation: 'prelu' },
    { norm: 'batch', residual: true, activation: 'prelu' },
  ] as const;
  for (const v of variants) {
    it(`mlp norm=${v.norm} residual=${v.residual} activation=${v.activation}`, () => {
      const x = Tensor.randn([5, 3], new Rng(6), { dtype: 'float64', requiresGrad: true });
      const labels = Int32Array.from([0, 1, 1, 0, 1]);
      const model2 = mlp(v);
      const p2 = model2.parameters();
      const base = (): number => op.crossEntropy(model2.forward(x), labels).item();
      backward(op.crossEntropy(model2.forward(x), labels));
      let worst = 0;
      let scale = 1e-8;
      for (const p of [...p2, x]) {
        for (let i = 0; i < p.size; i++) {
          const v0 = p.data[i]!;
          p.data[i] = v0 + 1e-6;
          const up = base();
          p.data[i] = v0 - 1e-6;
          const down = base();
          p.data[i] = v0;
          const numeric = (up - down) / 2e-6;
          scale = Math.max(scale, Math.abs(numeric));
          worst = Math.max(worst, Math.abs(numeric - p.grad![i]!));
        }
      }
      assert.ok(worst / scale < 1e-6, `parameter and input gradients: relative error ${worst / scale}`);
    });
  }
});

describe('layers: behaviour', () => {
  it('parameters are named by dotted path, input side first, with norm and slope inside their layer', () => {
    const names = mlp({ norm: 'batch', residual: true, activation: 'prelu' })
      .namedParameters()
      .map((p) => p.name);
    assert.deepEqual(names.slice(0, 5), [
      'layers.0.weight',
      'layers.0.bias',
      'layers.0.slope',
      'layers.0.norm.weight',
      'layers.0.norm.bias',
    ]);
    assert.equal(names[names.length - 1], 'layers.3.bias');
  });
  it('every layer declares its facts', () => {
    const m = mlp({ norm: 'layer', residual: false, activation: 'tanh' });
    const facts = m.observed.map((l) => l.facts());
    assert.deepEqual(
      facts.map((f) => [f?.fanIn, f?.fanOut, f?.activation, f?.family, f?.norm]),
      [
        [3, 4, 'tanh', 'saturating', 'layer'],
        [4, 4, 'tanh', 'saturating', 'layer'],
        [4, 4, 'tanh', 'saturating', 'layer'],
        [4, 2, 'linear', 'linear', 'none'],
      ],
    );
  });
  it('dropout keeps the expectation and is the identity in eval mode', () => {
    const d = new Dropout(0.25, new Rng(1));
    const x = Tensor.ones([200, 50]);
    const y = d.forward(x);
    const mean = Array.from(y.data).reduce((a, b) => a + b, 0) / y.size;
    assert.ok(Math.abs(mean - 1) < 0.03, `mean ${mean}`);
    const zeros = Array.from(y.data).filter((v) => v === 0).length / y.size;
    assert.ok(Math.abs(zeros - 0.25) < 0.02, `dropped ${zeros}`);
    d.setTraining(false);
    assert.equal(d.forward(x), x);
    assert.throws(() => new Dropout(1, new Rng(1)), /\[0, 1\)/);
  });
});
