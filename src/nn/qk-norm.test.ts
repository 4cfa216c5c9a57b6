/**
 * QK normalisation (`qkNorm`; Henry et al. 2020, Dehghani et al. 2023): off by default and then absent, agreement with
 * a hand-written PyTorch version (fixtures/mha-qknorm.json), finite differences through self-, causal and
 * cross-attention, and the bound it exists for: every logit |q . k| / sqrt(dk) <= sqrt(dk) max|g_q| max|g_k|.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backward } from '../autograd/tape.js';
import { xavierNormal, zeros, type Initializer } from '../init/index.js';
import * as op from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { assertClose, loadFixture, tensor } from '../testing/fixtures.js';
import { moduleGradcheck } from '../testing/module-gradcheck.js';
import { Module } from './module.js';
import { MultiHeadAttention, Transformer } from './transformer.js';

const normal =
  (std: number): Initializer =>
  (out, _shape, rng) =>
    rng.fillNormal(out, 0, std);

function mha(
  dModel: number,
  heads: number,
  qkNorm: boolean,
  weightInit: Initializer,
  seed = 0,
): MultiHeadAttention {
  return new MultiHeadAttention(dModel, heads, {
    weightInit,
    biasInit: zeros(),
    rng: new Rng(seed),
    dtype: 'float64',
    valueScale: 1,
    qkNorm,
  });
}

/** Gains away from 1 (and one negative), so their gradients and placement are checked away from a special point. */
function perturbGains(attention: MultiHeadAttention, rng: Rng): void {
  for (const gain of [attention.queryNorm, attention.keyNorm]) {
    assert.ok(gain);
    rng.fillNormal(gain.data, 1, 0.3);
    gain.data[0] = -0.7;
  }
}

/** sum(out * w) with w_i = sin(i + 1): the fixtures' loss. */
function projected(out: Tensor): Tensor {
  const w = new Tensor(
    Float64Array.from({ length: out.size }, (_, i) => Math.sin(i + 1)),
    out.shape,
  );
  return op.sum(op.mul(out, w));
}

/** Every attention logit q_i . k_j / sqrt(dk) of every example and head, from the projections the op reads. */
function logits(attention: MultiHeadAttention, x: Tensor): number[] {
  const { q, k } = attention.project(x, null);
  const [B, T, D] = q.shape as [number, number, number];
  const dk = D / attention.heads;
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < attention.heads; h++)
      for (let i = 0; i < T; i++)
        for (let j = 0; j < T; j++) {
          let dot = 0;
          for (let c = 0; c < dk; c++)
            dot +=
              (q.data[(b * T + i) * D + h * dk + c] as number) *
              (k.data[(b * T + j) * D + h * dk + c] as number);
          out.push(dot / Math.sqrt(dk));
        }
  return out;
}

const maxAbs = (values: ArrayLike<number>): number => Math.max(...Array.from(values, Math.abs));

/** A cross-attention module for `moduleGradcheck`: the memory is a parameter, so its gradient is checked too. */
class CrossProbe extends Module {
  readonly memory: Tensor;
  constructor(
    readonly attention: MultiHeadAttention,
    memory: Tensor,
    private readonly keyLengths: Int32Array,
  ) {
    super();
    this.registerModule('attention', attention);
    this.memory = this.registerParameter('memory', memory, 'weight');
  }
  forward(x: Tensor): Tensor {
    return this.attention.attend(x, this.memory, false, this.keyLengths);
  }
}

describe('QK normalisation', () => {
  it('is off by default: no gains, the same parameters and the same output as before', () => {
    const options = {
      weightInit: xavierNormal(),
      biasInit: zeros(),
      rng: new Rng(1),
      dtype: 'float64' as const,
      valueScale: 1,
    };
    const plain = new MultiHeadAttention(8, 2, options);
    const off = new MultiHeadAttention(8, 2, { ...options, rng: new Rng(1), qkNorm: false });
    const on = new MultiHeadAttention(8, 2, { ...options, rng: new Rng(1), qkNorm: true });
    assert.equal(plain.queryNorm, null);
    assert.deepEqual(
      plain.namedParameters().map((p) => p.name),
      ['inProj.weight', 'inProj.bias', 'outProj.weight', 'outProj.bias'],
    );
    assert.deepEqual(
      on.namedParameters().map((p) => p.name),
      [
        'queryNorm.weight',
        'keyNorm.weight',
        'inProj.weight',
        'inProj.bias',
        'outProj.weight',
        'outProj.bias',
      ],
    );
    assert.deepEqual(on.queryNorm?.shape, [4]);
    // The same initial projections with the norms on: the gains start at 1 and take nothing from the generator.
    assert.deepEqual(on.inProj.weight.data, plain.inProj.weight.data);
    const x = Tensor.randn([2, 5, 8], new Rng(2), { dtype: 'float64' });
    assert.deepEqual(off.forward(x, true).data, plain.forward(x, true).data);
    assert.notDeepEqual(on.forward(x, true).data, plain.forward(x, true).data);
  });

  it('agrees with a hand-written PyTorch version (F.layer_norm of q and k per head): output and every gradient', () => {
    const fx = loadFixture('mha-qknorm');
    const attention = mha(8, 2, true, zeros());
    const names: Record<string, string> = {
      'inProj.weight': 'in_proj_weight',
      'inProj.bias': 'in_proj_bias',
      'queryNorm.weight': 'q_norm.weight',
      'keyNorm.weight': 'k_norm.weight',
      'outProj.weight': 'out_proj.weight',
      'outProj.bias': 'out_proj.bias',
    };
    const params = attention.namedParameters();
    assert.deepEqual(params.map((p) => p.name).sort(), Object.keys(names).sort());
    for (const p of params) p.tensor.data.set(tensor(fx, names[p.name]!).data);
    const x = tensor(fx, 'x');
    x.requiresGrad = true;
    const out = attention.forward(x, true);
    assertClose(out.data, tensor(fx, 'out').data, { what: 'qknorm out' });
    const loss = projected(out);
    assertClose(loss.data, tensor(fx, 'loss').data, { what: 'qknorm loss' });
    backward(loss);
    assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: 'qknorm grad.x' });
    for (const p of params)
      assertClose(p.tensor.grad!, tensor(fx, `grad.${names[p.name]!}`).data, {
        what: `qknorm grad.${p.name}`,
      });
  });

  it('gradcheck: self-attention, input and every parameter (gains included)', () => {
    const rng = new Rng(3);
    const attention = mha(6, 2, true, xavierNormal(), 4);
    perturbGains(attention, rng);
    for (const p of attention.namedParameters()) if (p.role === 'bias') rng.fillNormal(p.tensor.data, 0, 0.1);
    const x = Tensor.randn([2, 4, 6], rng, { dtype: 'float64' });
    const { maxError, errors } = moduleGradcheck(attention, x, projected);
    assert.ok(maxError < 1e-6, `relative errors ${JSON.stringify(errors)}`);
    assert.ok(errors['queryNorm.weight'] !== undefined && errors['keyNorm.weight'] !== undefined);
  });

  it('gradcheck: cross-attention over a padded memory, the memory included', () => {
    const rng = new Rng(5);
    const attention = mha(6, 3, true, xavierNormal(), 6);
    perturbGains(attention, rng);
    const memory = Tensor.randn([2, 4, 6], rng, { dtype: 'float64' });
    const probe = new CrossProbe(attention, memory, Int32Array.from([4, 2]));
    const x = Tensor.randn([2, 3, 6], rng, { dtype: 'float64' });
    const { maxError, errors } = moduleGradcheck(probe, x, projected);
    assert.ok(maxError < 1e-6, `relative errors ${JSON.stringify(errors)}`);
  });

  it('gradcheck: a causal Post-LN Transformer with qkNorm, every parameter', () => {
    const rng = new Rng(7);
    const model = new Transformer({
      input: 'features',
      inputSize: 3,
      outputSize: 2,
      maxLength: 4,
      scored: 'every',
      layers: 2,
      dModel: 4,
      heads: 2,
      ffWidth: 6,
      activation: 'tanh',
      norm: 'post',
      qkNorm: true,
      weightInit: () => xavierNormal(),
      biasInit: zeros(),
      rng,
      dtype: 'float64',
    });
    const names = model.namedParameters().map((p) => p.name);
    assert.ok(names.includes('layers.1.attention.queryNorm.weight'), names.join(', '));
    assert.ok(names.includes('layers.2.attention.keyNorm.weight'), names.join(', '));
    for (const block of model.layers) perturbGains(block.attention, rng);
    const x = Tensor.randn([4, 2, 3], rng, { dtype: 'float64' });
    const target = Tensor.randn([8, 2], rng, { dtype: 'float64' });
    const { maxError, errors } = moduleGradcheck(model, x, (y) => op.mse(y, target));
    assert.ok(maxError < 1e-6, `relative errors ${JSON.stringify(errors)}`);
  });

  it('bounds every logit by sqrt(dk) max|g_q| max|g_k| at a large-weight init, where plain attention exceeds it', () => {
    const rng = new Rng(8);
    // Weights of std 3 on inputs of std 3: the plain logits reach into the hundreds.
    const x = op.mul(Tensor.randn([3, 16, 32], rng, { dtype: 'float64' }), 3);
    const dk = 32 / 4;
    const plain = logits(mha(32, 4, false, normal(3), 9), x);
    const normed = mha(32, 4, true, normal(3), 9);
    const at1 = logits(normed, x);
    assert.ok(maxAbs(plain) > 10 * Math.sqrt(dk), `plain logits reach ${maxAbs(plain)}`);
    assert.ok(
      maxAbs(at1) <= Math.sqrt(dk) + 1e-9,
      `gains 1: max |logit| ${maxAbs(at1)} > sqrt(dk) ${Math.sqrt(dk)}`,
    );
    perturbGains(normed, rng);
    normed.queryNorm!.data[3] = 2.5;
    const bound = Math.sqrt(dk) * maxAbs(normed.queryNorm!.data) * maxAbs(normed.keyNorm!.data);
    const scaled = logits(normed, x);
    assert.ok(maxAbs(scaled) <= bound + 1e-9, `max |logit| ${maxAbs(scaled)} > bound ${bound}`);
    // The bound is nearly reached: a query and key nearly parallel after the norm sit close to it.
    assert.ok(maxAbs(scaled) > 0.3 * bound, `max |logit| ${maxAbs(scaled)}, bound ${bound}`);
  });
});

describe('QK normalisation in the seq2seq Transformer', () => {
  const config = (architecture: string) => ({
    task: { name: 'reverse', length: 4, classes: 4 },
    model: { kind: 'seq2seq', architecture, hidden: 8, heads: 2, qkNorm: true },
  });
  it('puts the query and key gains in every attention sublayer of the encoder and the decoder', async () => {
    const { resolveConfig } = await import('../config/resolve.js');
    const { buildModel } = await import('../train/build.js');
    const { createTask } = await import('../data/index.js');
    const resolved = resolveConfig(config('transformer'), { defaultName: 'qk' });
    assert.equal(resolved.model.kind === 'seq2seq' && resolved.model.qkNorm, true);
    const model = buildModel(resolved.model, createTask(resolved.task, resolved.seed), new Rng(1));
    const names = model.namedParameters().map((p) => p.name);
    const gains = names.filter((n) => n.endsWith('queryNorm.weight') || n.endsWith('keyNorm.weight'));
    // one self-attention per encoder block, self- and cross-attention per decoder block, two gains each
    assert.equal(gains.length, 2 * (1 + 2), gains.join(', '));
  });
  it('is refused for the rnn architecture, naming the field and the fix', async () => {
    const { resolveConfig } = await import('../config/resolve.js');
    assert.throws(
      () => resolveConfig(config('rnn'), { defaultName: 'qk' }),
      (e: Error) => /model\.qkNorm/.test(e.message) && /architecture "transformer"/.test(e.message),
    );
  });
});
