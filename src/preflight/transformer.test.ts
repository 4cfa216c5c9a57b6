import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/resolve.js';
import { createTask } from '../data/index.js';
import { loadFixture, tensor } from '../testing/fixtures.js';
import { preflight } from './index.js';
import { lastLayerGradientByDepth } from './transformer.js';

function config(norm: 'pre' | 'post', layers = 2) {
  return resolveConfig(
    {
      task: { name: 'char-lm', length: 16 },
      model: { kind: 'transformer', layers, dModel: 16, heads: 2, norm },
    },
    { defaultName: `${norm}-ln` },
  );
}

describe('transformer preflight (Xiong et al. 2020)', () => {
  // Measured here (4 networks, dModel 16, 16 characters), the last block's ||dL/dW2|| from 2 to 16 layers: Post-LN
  // 2.49 -> 2.31 (x0.93); Pre-LN 1.90 -> 1.04 (x0.55; 1/sqrt(L) gives x0.35, less the share of the residual
  // stream the embedding holds). PyTorch's nn.TransformerEncoderLayer stacks at the same depths (the fixture of
  // scripts/make_fixtures.py, a cross-entropy loss): Post-LN x1.78, Pre-LN x0.65. The same criteria hold for both.
  const torch = loadFixture('xiong-last-layer-gradient');
  const ratioOf = (values: ArrayLike<number>): number => (values[1] as number) / (values[0] as number);
  const probe = (norm: 'pre' | 'post'): number => {
    const c = config(norm);
    const scan = lastLayerGradientByDepth(c, createTask(c.task, c.seed), [2, 16], 4);
    return ratioOf(scan.map((d) => d.lastWeightGrad));
  };

  it("Post-LN: the last block's gradient does not shrink with depth (Theorem 1), as in PyTorch", () => {
    assert.deepEqual(Array.from(tensor(torch, 'depths').data), [2, 16]);
    for (const [who, ratio] of [
      ['gradscope', probe('post')],
      ['PyTorch', ratioOf(tensor(torch, 'post').data)],
    ] as const)
      assert.ok(ratio > 0.8, `${who}: Post-LN 16 vs 2 layers x${ratio}`);
  });

  it("Pre-LN: the last block's gradient shrinks with depth (Theorem 2), as in PyTorch", () => {
    for (const [who, ratio] of [
      ['gradscope', probe('pre')],
      ['PyTorch', ratioOf(tensor(torch, 'pre').data)],
    ] as const) {
      assert.ok(ratio < 0.75, `${who}: Pre-LN 16 vs 2 layers x${ratio}`);
      assert.ok(ratio > 0.3, `${who}: no faster than 1/sqrt(L) = 0.35 by much: x${ratio}`);
    }
  });

  it('reports every block (run-log layers 1..L), the depth scan and advice for its norm placement', () => {
    const post = preflight(config('post', 3), { networks: 2 });
    assert.deepEqual(
      post.layers.map((l) => l.layer),
      [1, 2, 3],
    );
    for (const l of post.layers) assert.ok(l.gradNorm2 > 0 && Number.isFinite(l.gradNorm2) && l.q > 0);
    assert.equal(post.transformer?.weightGrad.length, 3);
    assert.deepEqual(
      post.transformer?.depthScan.map((d) => d.layers),
      [1, 3, 6],
    );
    assert.equal(post.theory, null);
    assert.equal(post.jacobian.method, 'none');
    assert.match(post.advice.join(' '), /warm-up/);
    // Post-LN's fixes: Pre-LN, then a warm-up (the doctor's own fixes, as merge patches).
    assert.equal(post.fixes[0]?.change, 'model.norm "pre"');
    assert.match(
      post.fixes[1]?.change ?? '',
      /^schedule\.name "warmup-cosine" \+ schedule\.warmupSteps \d+$/,
    );
    assert.equal(post.fixes.length, 2);
    const pre = preflight(config('pre', 3), { networks: 2 });
    assert.match(pre.advice.join(' '), /Theorem 2/);
    assert.equal(pre.model.norm, 'pre-LN layer');
    assert.deepEqual(pre.fixes, []);
  });
});
