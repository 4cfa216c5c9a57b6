import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/resolve.js';
import { createTask } from '../data/index.js';
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
  // Measured here (4 networks, dModel 16, 16 characters), the last block's ||dL/dW2|| from 2 to 8 layers: Post-LN
  // 2.49 -> 2.63 (x1.06); Pre-LN 1.90 -> 1.30 (x0.68; 1/sqrt(L) would give x0.5, less the share of the residual
  // stream the embedding holds).
  it("Post-LN: the last block's gradient does not change with depth (Theorem 1)", () => {
    const c = config('post');
    const [shallow, deep] = lastLayerGradientByDepth(c, createTask(c.task, c.seed), [2, 8], 4);
    const ratio = deep!.lastWeightGrad / shallow!.lastWeightGrad;
    assert.ok(ratio > 0.75 && ratio < 1.33, `Post-LN 8 vs 2 layers: ratio ${ratio}`);
  });

  it("Pre-LN: the last block's gradient shrinks with depth (Theorem 2)", () => {
    const c = config('pre');
    const [shallow, deep] = lastLayerGradientByDepth(c, createTask(c.task, c.seed), [2, 8], 4);
    const ratio = deep!.lastWeightGrad / shallow!.lastWeightGrad;
    assert.ok(ratio < 0.8, `Pre-LN 8 vs 2 layers: ratio ${ratio}`);
    assert.ok(ratio > 0.35, `no faster than 1/sqrt(L) = 0.5 by much: ${ratio}`);
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
    const pre = preflight(config('pre', 3), { networks: 2 });
    assert.match(pre.advice.join(' '), /Theorem 2/);
    assert.equal(pre.model.norm, 'pre-LN layer');
  });
});
