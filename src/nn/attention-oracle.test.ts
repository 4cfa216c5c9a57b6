/**
 * Agreement with PyTorch 1.13 (fixtures made by scripts/make_fixtures.py) within 1e-5 relative: nn.MultiheadAttention
 * (causal self-attention, padded cross-attention), nn.Embedding, nn.TransformerEncoderLayer with norm_first false and
 * true, and Xiong et al. (2020)'s last-layer gradient against depth.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backward } from '../autograd/tape.js';
import { zeros } from '../init/index.js';
import * as op from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { assertClose, loadFixture, tensor, type Fixture } from '../testing/fixtures.js';
import type { Module } from './module.js';
import { MultiHeadAttention, TransformerBlock, type TransformerOptions } from './transformer.js';

function leaf(fx: Fixture, name: string): Tensor {
  const t = tensor(fx, name);
  t.requiresGrad = true;
  return t;
}

/** sum(out * w) with w_i = sin(i + 1): the fixtures' loss. */
function projected(out: Tensor): Tensor {
  const w = new Tensor(
    Float64Array.from({ length: out.size }, (_, i) => Math.sin(i + 1)),
    out.shape,
  );
  return op.sum(op.mul(out, w));
}

/** Copy PyTorch's parameters into a module by a map from our dotted names to theirs. */
function load(module: Module, fx: Fixture, names: Record<string, string>): void {
  const ours = new Map(module.namedParameters().map((p) => [p.name, p.tensor]));
  assert.deepEqual([...ours.keys()].sort(), Object.keys(names).sort(), 'every parameter is mapped');
  for (const [mine, theirs] of Object.entries(names))
    (ours.get(mine) as Tensor).data.set(tensor(fx, theirs).data);
}

function checkGrads(module: Module, fx: Fixture, names: Record<string, string>, what: string): void {
  for (const p of module.namedParameters())
    assertClose(p.tensor.grad!, tensor(fx, `grad.${names[p.name]!}`).data, {
      what: `${what} grad.${p.name}`,
    });
}

const MHA_NAMES = {
  'inProj.weight': 'in_proj_weight',
  'inProj.bias': 'in_proj_bias',
  'outProj.weight': 'out_proj.weight',
  'outProj.bias': 'out_proj.bias',
};

function mha(dModel: number, heads: number): MultiHeadAttention {
  return new MultiHeadAttention(dModel, heads, {
    weightInit: zeros(),
    biasInit: zeros(),
    rng: new Rng(0),
    dtype: 'float64',
    valueScale: 1,
  });
}

describe('attention agrees with PyTorch', () => {
  it('nn.MultiheadAttention: causal self-attention', () => {
    const fx = loadFixture('mha-self-causal');
    const attention = mha(8, 2);
    load(attention, fx, MHA_NAMES);
    const x = leaf(fx, 'x');
    const out = attention.forward(x, true);
    assertClose(out.data, tensor(fx, 'out').data, { what: 'mha-self out' });
    const loss = projected(out);
    assertClose(loss.data, tensor(fx, 'loss').data, { what: 'mha-self loss' });
    backward(loss);
    assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: 'mha-self grad.x' });
    checkGrads(attention, fx, MHA_NAMES, 'mha-self');
  });

  it('nn.MultiheadAttention: cross-attention with key padding', () => {
    const fx = loadFixture('mha-cross-padded');
    const attention = mha(6, 3);
    load(attention, fx, MHA_NAMES);
    const query = leaf(fx, 'query');
    const memory = leaf(fx, 'memory');
    const keyLengths = Int32Array.from(tensor(fx, 'key_lengths').data);
    const out = attention.attend(query, memory, false, keyLengths);
    assertClose(out.data, tensor(fx, 'out').data, { what: 'mha-cross out' });
    backward(projected(out));
    assertClose(query.grad!, tensor(fx, 'grad.query').data, { what: 'mha-cross grad.query' });
    assertClose(memory.grad!, tensor(fx, 'grad.memory').data, { what: 'mha-cross grad.memory' });
    checkGrads(attention, fx, MHA_NAMES, 'mha-cross');
  });

  it('nn.Embedding: lookup and scatter-add gradient', () => {
    const fx = loadFixture('embedding');
    const weight = leaf(fx, 'weight');
    const ids = Int32Array.from(tensor(fx, 'ids').data);
    const out = op.embedding(weight, ids, [2, 5]);
    assertClose(out.data, tensor(fx, 'out').data, { what: 'embedding out' });
    backward(projected(out));
    assertClose(weight.grad!, tensor(fx, 'grad.weight').data, { what: 'embedding grad.weight' });
  });

  for (const norm of ['post', 'pre'] as const) {
    it(`nn.TransformerEncoderLayer(norm_first=${norm === 'pre'})`, () => {
      const fx = loadFixture(`transformer-encoder-layer-${norm}`);
      const options: TransformerOptions = {
        input: 'features',
        inputSize: 8,
        outputSize: 8,
        maxLength: 5,
        scored: 'last',
        causal: false,
        layers: 1,
        dModel: 8,
        heads: 2,
        ffWidth: 16,
        activation: 'relu',
        norm,
        weightInit: () => zeros(),
        biasInit: zeros(),
        rng: new Rng(0),
        dtype: 'float64',
      };
      const block = new TransformerBlock(options, 1);
      const names = {
        'attention.inProj.weight': 'self_attn.in_proj_weight',
        'attention.inProj.bias': 'self_attn.in_proj_bias',
        'attention.outProj.weight': 'self_attn.out_proj.weight',
        'attention.outProj.bias': 'self_attn.out_proj.bias',
        'attentionNorm.weight': 'norm1.weight',
        'attentionNorm.bias': 'norm1.bias',
        'feedForward.0.weight': 'linear1.weight',
        'feedForward.0.bias': 'linear1.bias',
        'feedForward.1.weight': 'linear2.weight',
        'feedForward.1.bias': 'linear2.bias',
        'feedForwardNorm.weight': 'norm2.weight',
        'feedForwardNorm.bias': 'norm2.bias',
      };
      load(block, fx, names);
      const x = leaf(fx, 'x');
      const out = block.forward(x);
      assertClose(out.data, tensor(fx, 'out').data, { what: `${norm}-LN out` });
      backward(projected(out));
      assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: `${norm}-LN grad.x` });
      checkGrads(block, fx, names, `${norm}-LN`);
    });
  }
});
