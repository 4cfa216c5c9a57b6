import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backward, noGrad } from '../autograd/tape.js';
import { xavierNormal, zeros } from '../init/index.js';
import { crossEntropy, mse } from '../ops/index.js';
import { loadFixture, tensor } from '../testing/fixtures.js';
import { Rng } from '../tensor/rng.js';
import { Tensor, type DType } from '../tensor/tensor.js';
import { deepNormScales, tokenSimilarity, Transformer, type TransformerOptions } from './transformer.js';

const V = 12;

function lm(overrides: Partial<TransformerOptions> = {}, seed = 0): Transformer {
  return new Transformer({
    input: 'tokens',
    inputSize: V,
    outputSize: V,
    maxLength: 10,
    scored: 'every',
    layers: 2,
    dModel: 16,
    heads: 4,
    ffWidth: 32,
    activation: 'relu',
    norm: 'pre',
    weightInit: () => xavierNormal(),
    biasInit: zeros(),
    rng: new Rng(seed),
    ...overrides,
  });
}

/** Random one-hot tokens [T, B, V] (time-major) and their ids. */
function tokens(
  T: number,
  B: number,
  seed: number,
  dtype: DType = 'float32',
): { x: Tensor; ids: Int32Array } {
  const rng = new Rng(seed);
  const ids = new Int32Array(T * B);
  const x = Tensor.zeros([T, B, V], dtype);
  for (let i = 0; i < T * B; i++) {
    ids[i] = rng.int(V);
    x.data[i * V + (ids[i] as number)] = 1;
  }
  return { x, ids };
}

/**
 * Central differences on every parameter value against one backward pass (float64): the worst, per parameter
 * relative to its largest gradient, as `gradcheck` measures it.
 */
function parameterGradcheck(model: Transformer, loss: () => Tensor): number {
  model.zeroGrad();
  backward(loss());
  let worst = 0;
  for (const p of model.namedParameters()) {
    const analytic = Float64Array.from(p.tensor.grad!);
    const numeric = new Float64Array(p.tensor.size);
    const h = 1e-6;
    for (let i = 0; i < p.tensor.size; i++) {
      const v = p.tensor.data[i] as number;
      p.tensor.data[i] = v + h;
      const up = noGrad(loss).item();
      p.tensor.data[i] = v - h;
      const down = noGrad(loss).item();
      p.tensor.data[i] = v;
      numeric[i] = (up - down) / (2 * h);
    }
    const scale = Math.max(1e-8, ...numeric.map(Math.abs));
    const error = Math.max(...analytic.map((a, i) => Math.abs(a - numeric[i]!))) / scale;
    assert.ok(Number.isFinite(error), `${p.name}: ${error}`);
    worst = Math.max(worst, error);
  }
  return worst;
}

describe('Transformer', () => {
  it('names every sublayer, so per-parameter gradients separate attention from feed-forward', () => {
    const names = lm()
      .namedParameters()
      .map((p) => p.name);
    assert.deepEqual(names, [
      'layers.0.embedding.weight',
      'layers.1.attention.inProj.weight',
      'layers.1.attention.inProj.bias',
      'layers.1.attention.outProj.weight',
      'layers.1.attention.outProj.bias',
      'layers.1.attentionNorm.weight',
      'layers.1.attentionNorm.bias',
      'layers.1.feedForward.0.weight',
      'layers.1.feedForward.0.bias',
      'layers.1.feedForward.1.weight',
      'layers.1.feedForward.1.bias',
      'layers.1.feedForwardNorm.weight',
      'layers.1.feedForwardNorm.bias',
      ...names.slice(13, 25),
      'layers.3.finalNorm.weight',
      'layers.3.finalNorm.bias',
      'layers.3.output.weight',
      'layers.3.output.bias',
    ]);
    assert.equal(names[13], 'layers.2.attention.inProj.weight');
    const tied = lm({ tiedEmbeddings: true, norm: 'post', positions: 'learned' }).namedParameters();
    const tiedNames = tied.map((p) => p.name);
    assert.ok(tiedNames.includes('layers.0.position.weight'));
    assert.ok(tiedNames.includes('layers.3.output.bias') && !tiedNames.includes('layers.3.output.weight'));
    assert.ok(!tiedNames.includes('layers.3.finalNorm.weight'), 'post-LN has no final norm');
  });

  it('a causal LM: the output at position t does not depend on tokens after t', () => {
    const model = lm({ dropout: 0 });
    const T = 8;
    const B = 2;
    const { x } = tokens(T, B, 1);
    const base = model.forward(x).data.slice();
    for (let t = 0; t < T - 1; t++) {
      const changed = x.detach();
      for (let s = t + 1; s < T; s++)
        for (let b = 0; b < B; b++) {
          const o = (s * B + b) * V;
          changed.data.fill(0, o, o + V);
          changed.data[o + ((s + b + 5) % V)] = 1;
        }
      const out = model.forward(changed).data;
      // Rows are time-major: positions 0..t are the first (t + 1) * B rows.
      for (let i = 0; i < (t + 1) * B * V; i++) assert.equal(out[i], base[i], `t=${t} value ${i}`);
      assert.ok(
        out.some((v, i) => v !== base[i]),
        'later positions do change',
      );
    }
  });

  it('the encoder (not causal) does see later positions', () => {
    const model = lm({ scored: 'every', causal: false });
    const { x } = tokens(6, 1, 2);
    const base = model.forward(x).data.slice(0, V);
    const changed = x.detach();
    changed.data.fill(0, 5 * V, 6 * V);
    changed.data[5 * V + 3] = changed.data[5 * V + 3] === 1 ? 0 : 1;
    if (changed.data.subarray(5 * V, 6 * V).every((v) => v === 0)) changed.data[5 * V + 4] = 1;
    const out = model.forward(changed).data.slice(0, V);
    assert.ok(out.some((v, i) => v !== base[i]));
  });

  for (const norm of ['pre', 'post'] as const) {
    it(`gradcheck: ${norm}-LN features classifier (mean-pooled, learned positions, DeepNorm scales)`, () => {
      const rng = new Rng(3);
      const x = Tensor.randn([4, 2, 3], rng, { dtype: 'float64' });
      const target = Tensor.randn([2, 2], rng, { dtype: 'float64' });
      const model = new Transformer({
        input: 'features',
        inputSize: 3,
        outputSize: 2,
        maxLength: 4,
        scored: 'last',
        layers: 2,
        dModel: 4,
        heads: 2,
        ffWidth: 6,
        activation: 'tanh',
        norm,
        positions: 'learned',
        ...deepNormScales(2),
        weightInit: () => xavierNormal(),
        biasInit: () => undefined,
        rng,
        dtype: 'float64',
      });
      // Non-zero biases, so their gradients are checked away from a special point.
      for (const p of model.namedParameters()) if (p.role === 'bias') rng.fillNormal(p.tensor.data, 0, 0.1);
      const error = parameterGradcheck(model, () => mse(model.forward(x), target));
      assert.ok(error < 1e-6, `relative error ${error}`);
    });
  }

  it('gradcheck: tied-embedding causal LM, gradients of every parameter', () => {
    const model = lm(
      { tiedEmbeddings: true, dModel: 8, heads: 2, ffWidth: 8, layers: 1, dtype: 'float64' },
      4,
    );
    const { x, ids } = tokens(5, 2, 5, 'float64');
    const error = parameterGradcheck(model, () => crossEntropy(model.forward(x), ids));
    assert.ok(error < 1e-6, `relative error ${error}`);
  });

  it('records each head’s attention entropy (between 0 and ln T) and each block’s token similarity', () => {
    const model = lm({ heads: 4 });
    const { x } = tokens(8, 3, 6);
    model.setRecordAttention(true);
    model.forward(x);
    const { entropy, tokenSimilarity: similarity } = model.attentionRecord();
    assert.equal(entropy.length, 2);
    for (const heads of entropy) {
      assert.equal(heads.length, 4);
      // Causal rows see 1..8 keys: the mean of ln(1..8) bounds the mean entropy.
      const bound = Array.from({ length: 8 }, (_, i) => Math.log(i + 1)).reduce((a, b) => a + b) / 8;
      for (const h of heads) assert.ok(h > 0 && h <= bound + 1e-9, `entropy ${h}`);
    }
    assert.equal(similarity.length, 2);
    for (const s of similarity) assert.ok(s > -1 && s < 1, `similarity ${s}`);
    model.setRecordAttention(false);
    model.setRecordAttention(true);
    assert.deepEqual(model.attentionRecord().entropy, [[], []]);
  });

  for (const norm of ['post', 'pre'] as const) {
    it(`${norm}-LN: each block's streamGrad is ||dL/dx_l||, as central differences along the gradient measure it`, () => {
      const model = lm({ norm, dtype: 'float64' });
      const { x, ids } = tokens(6, 2, 5, 'float64');
      const labels = Int32Array.from(ids.map((id) => (id + 1) % V));
      const loss = (): Tensor => crossEntropy(model.forward(x), labels);
      const directions: Float64Array[] = [];
      model.layers.forEach((block, i) => {
        block.observer = (y) => y.onGrad((g) => (directions[i] = Float64Array.from(g)));
      });
      model.setRecordAttention(true);
      model.zeroGrad();
      backward(loss());
      const { streamGrad } = model.attentionRecord();
      model.setRecordAttention(false);
      assert.equal(streamGrad?.length, 2);
      const h = 1e-5;
      model.layers.forEach((block, i) => {
        const g = directions[i] as Float64Array;
        const norm2 = Math.sqrt(g.reduce((a, v) => a + v * v, 0));
        // L(x_l + h u) with u = g / ||g||: its slope along u is ||g|| exactly when g is the true gradient.
        const lossWith = (shift: number): number => {
          block.observer = (y) =>
            y.data.forEach((v, j, a) => (a[j] = v + (shift * (g[j] as number)) / norm2));
          const value = noGrad(loss).item();
          block.observer = null;
          return value;
        };
        const slope = (lossWith(h) - lossWith(-h)) / (2 * h);
        const recorded = streamGrad?.[i] as number;
        assert.ok(recorded > 0, `block ${i + 1}: ${recorded}`);
        assert.ok(Math.abs(recorded - norm2) < 1e-12 * norm2, `block ${i + 1}: hook ${recorded} vs ${norm2}`);
        assert.ok(
          Math.abs(slope - recorded) < 1e-6 * recorded,
          `block ${i + 1}: slope ${slope} vs ${recorded}`,
        );
      });
      model.layers.forEach((block) => (block.observer = null));
    });
  }

  it('token similarity: 1 for identical directions, 0 for orthogonal tokens, -1/(T-1) for a balanced set', () => {
    assert.equal(tokenSimilarity([1, 2, 2, 4, 3, 6], 1, 3, 2), 1);
    assert.equal(tokenSimilarity([1, 0, 0, 1], 1, 2, 2), 0);
    assert.ok(Math.abs(tokenSimilarity([1, 0, -1, 0], 1, 2, 2) + 1) < 1e-15);
  });

  it('bad settings are refused with the setting, the value and the fix', () => {
    assert.throws(
      () => lm({ dModel: 10, heads: 4 }),
      /dModel 10 is not divisible by heads 4.*Use heads 1 or 2/,
    );
    assert.throws(() => lm({ tiedEmbeddings: true, outputSize: 3 }), /tiedEmbeddings needs token inputs/);
    const model = lm({ maxLength: 4 });
    assert.throws(
      () => model.forward(tokens(6, 1, 0).x),
      /sequence of 6 steps.*model\.maxLength 4.*at least 6/,
    );
    const notOneHot = Tensor.full([3, 1, V], 0.5);
    assert.throws(() => model.forward(notOneHot), /not one-hot.*model\.input "features"/);
  });

  it('DeepNorm constants (Wang et al. 2022): alpha = (2N)^(1/4), beta = (8N)^(-1/4)', () => {
    const { residualScale, initScale } = deepNormScales(6);
    assert.ok(Math.abs(residualScale - 12 ** 0.25) < 1e-15);
    assert.ok(Math.abs(initScale - 48 ** -0.25) < 1e-15);
    const plain = lm({}, 9).layers[0]!;
    const scaled = lm({ initScale: 0.5 }, 9).layers[0]!;
    const ratio = (a: Tensor, b: Tensor, i: number): number => (b.data[i] as number) / (a.data[i] as number);
    assert.ok(
      Math.abs(ratio(plain.feedForward.parameters()[0]!, scaled.feedForward.parameters()[0]!, 3) - 0.5) <
        1e-6,
    );
    // beta scales the value rows of the in-projection, not the query and key rows.
    const w0 = plain.attention.inProj.weight;
    const w1 = scaled.attention.inProj.weight;
    assert.equal(ratio(w0, w1, 0), 1);
    assert.ok(Math.abs(ratio(w0, w1, 2 * 16 * 16 + 1) - 0.5) < 1e-6);
  });
});

describe('Xiong et al. (2020), Theorems 1 and 2: the last layer’s gradient at initialisation', () => {
  it('does not shrink with depth for Post-LN and shrinks with depth for Pre-LN, as PyTorch measures it', () => {
    const fx = loadFixture('xiong-last-layer-gradient');
    const torch = { post: tensor(fx, 'post').data, pre: tensor(fx, 'pre').data };
    const ours = {
      post: [lastLayerGradient('post', 2), lastLayerGradient('post', 16)],
      pre: [lastLayerGradient('pre', 2), lastLayerGradient('pre', 16)],
    };
    for (const [who, g] of [
      ['gradscope', ours],
      ['PyTorch', torch],
    ] as const) {
      const postRatio = g.post[1]! / g.post[0]!;
      const preRatio = g.pre[1]! / g.pre[0]!;
      // Post-LN: O(d sqrt(ln d)), independent of L. Pre-LN: O(d sqrt(ln d / L)): sqrt(2 / 16) ~ 0.35 in theory.
      assert.ok(postRatio > 0.8, `${who}: Post-LN 16 vs 2 layers ${postRatio}`);
      assert.ok(preRatio < 0.75, `${who}: Pre-LN 16 vs 2 layers ${preRatio}`);
      assert.ok(preRatio < postRatio / 1.5, `${who}: Pre-LN ${preRatio} vs Post-LN ${postRatio}`);
    }
    // At 16 layers Pre-LN's last-layer gradient is a fraction of Post-LN's; ours and PyTorch's agree within 2x.
    const gap = ours.pre[1]! / ours.post[1]!;
    const torchGap = torch.pre[1]! / torch.post[1]!;
    assert.ok(gap < 0.5 && gap / torchGap > 0.5 && gap / torchGap < 2, `gap ${gap} vs PyTorch ${torchGap}`);
  });
});

/**
 * Mean over 8 seeds of ||dL/dW|| for the last block's second feed-forward weight, at the fixture's settings: a causal
 * LM, dModel 32, 4 heads, ff 128, relu, vocabulary 12, 8 sequences of 8 tokens, Xavier-normal weights, zero biases.
 */
function lastLayerGradient(norm: 'pre' | 'post', layers: number): number {
  const seeds = 8;
  let total = 0;
  for (let seed = 0; seed < seeds; seed++) {
    const model = lm({ norm, layers, dModel: 32, heads: 4, ffWidth: 128, maxLength: 8 }, seed);
    const { x } = tokens(8, 8, 100 + seed);
    const labels = tokens(8, 8, 200 + seed).ids;
    backward(crossEntropy(model.forward(x), labels));
    const w = model.layers[layers - 1]!.feedForward.parameters()[2]!;
    let squares = 0;
    for (const g of w.grad!) squares += g * g;
    total += Math.sqrt(squares) / seeds;
  }
  return total;
}
