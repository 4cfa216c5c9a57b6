import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backward, noGrad } from '../autograd/tape.js';
import { resolveConfig } from '../config/resolve.js';
import { SEQ2SEQ_TASKS } from '../config/schema.js';
import { createTransductionTask, TRANSDUCTIONS } from '../data/transduction.js';
import { normal, orthogonal, xavierNormal, zeros, type Initializer } from '../init/index.js';
import { diagnoseOnline } from '../doctor/diagnosis.js';
import type { AttentionRecord } from '../io/runlog.js';
import { crossEntropy, mul, sum } from '../ops/index.js';
import { assertClose, loadFixture, tensor } from '../testing/fixtures.js';
import { Rng } from '../tensor/rng.js';
import { Tensor, type DType } from '../tensor/tensor.js';
import { TrainingSession } from '../train/session.js';
import { Seq2Seq, type Seq2SeqOptions } from './seq2seq.js';
import { TransformerBlock } from './transformer.js';

/** A reversal task of n symbols over C classes (T = 2n + 1 steps, source S = n + 1). */
function reversal(n: number, C: number, batch: number, seed = 1): { x: Tensor; labels: Int32Array } {
  const task = createTransductionTask('reverse', { length: n, classes: C }, 0);
  const { x, labels } = task.trainBatch(batch, new Rng(seed));
  return { x, labels: labels as Int32Array };
}

function model(overrides: Partial<Seq2SeqOptions>, n = 3, C = 3, dtype: DType = 'float64'): Seq2Seq {
  const m = new Seq2Seq({
    architecture: 'rnn',
    vocabulary: C + 2,
    outputSize: C + 2,
    steps: 2 * n + 1,
    sourceLength: n + 1,
    hidden: 4,
    layers: 1,
    cell: 'gru',
    attention: 'additive',
    heads: 2,
    ffWidth: 6,
    activation: 'tanh',
    norm: 'pre',
    weightInit: () => xavierNormal(),
    recurrentInit: orthogonal(),
    biasInit: () => undefined,
    forgetBias: 1,
    rng: new Rng(7),
    dtype,
    ...overrides,
  });
  // Non-zero biases, so their gradients are checked away from a special point.
  const rng = new Rng(11);
  for (const p of m.namedParameters()) if (p.role === 'bias') rng.fillNormal(p.tensor.data, 0, 0.1);
  return m;
}

function asDtype(x: Tensor, dtype: DType): Tensor {
  return dtype === 'float64' ? new Tensor(Float64Array.from(x.data), x.shape) : x;
}

/**
 * Max |analytic - numeric| over every parameter, relative to the largest numeric gradient of that parameter, or to
 * 1e-3 where that is smaller (central differences at h = 1e-6 carry ~1e-10 of rounding, which dwarfs a 1e-7 gradient).
 */
function parameterGradcheck(m: Seq2Seq, loss: () => Tensor): { worst: number; name: string } {
  m.zeroGrad();
  backward(loss());
  let worst = 0;
  let name = '';
  for (const p of m.namedParameters()) {
    const analytic = Float64Array.from(p.tensor.grad ?? new Float64Array(p.tensor.size));
    const h = 1e-6;
    let scale = 1e-3;
    let error = 0;
    for (let i = 0; i < p.tensor.size; i++) {
      const v = p.tensor.data[i] as number;
      p.tensor.data[i] = v + h;
      const up = noGrad(loss).item();
      p.tensor.data[i] = v - h;
      const down = noGrad(loss).item();
      p.tensor.data[i] = v;
      const numeric = (up - down) / (2 * h);
      scale = Math.max(scale, Math.abs(numeric));
      error = Math.max(error, Math.abs((analytic[i] as number) - numeric));
    }
    if (error / scale > worst) {
      worst = error / scale;
      name = p.name;
    }
  }
  return { worst, name };
}

const VARIANTS: Array<[string, Partial<Seq2SeqOptions>]> = [
  ['gru, no attention (Sutskever et al. 2014)', { cell: 'gru', attention: 'none' }],
  [
    'lstm, additive attention (Bahdanau et al. 2015), 2 layers',
    { cell: 'lstm', attention: 'additive', layers: 2 },
  ],
  ['rnn, dot attention (Luong et al. 2015)', { cell: 'rnn', attention: 'dot' }],
  ['transformer, pre-LN', { architecture: 'transformer', norm: 'pre', activation: 'tanh' }],
  [
    'transformer, post-LN, 2 layers',
    { architecture: 'transformer', norm: 'post', layers: 2, activation: 'tanh' },
  ],
];

describe('Seq2Seq', () => {
  for (const [label, overrides] of VARIANTS) {
    it(`gradcheck in float64, teacher forcing: ${label}`, () => {
      const m = model(overrides);
      const { x, labels } = reversal(3, 3, 2);
      m.setTargets(labels);
      const x64 = asDtype(x, 'float64');
      const { worst, name } = parameterGradcheck(m, () => crossEntropy(m.forward(x64), labels));
      assert.ok(worst < 1e-5, `${name}: relative error ${worst}`);
    });

    it(`greedy decoding equals teacher forcing on its own predictions: ${label}`, () => {
      const m = model(overrides, 4, 3, 'float32');
      const { x, labels } = reversal(4, 3, 5);
      const B = 5;
      const T = 9;
      const S = 5;
      m.setTraining(false);
      const greedy = noGrad(() => m.forward(x));
      // The greedy path's inputs: the arg-max of each step before an answer step, where teacher forcing reads targets.
      const own = Int32Array.from(labels);
      const classes = greedy.shape[1] as number;
      for (let t = S - 1; t < T - 1; t++)
        for (let b = 0; b < B; b++) {
          const row = (t * B + b) * classes;
          let best = 0;
          for (let j = 1; j < classes; j++)
            if ((greedy.data[row + j] as number) > (greedy.data[row + best] as number)) best = j;
          own[t * B + b] = best;
        }
      m.setTraining(true);
      m.setTargets(own);
      const forced = noGrad(() => m.forward(x));
      assert.deepEqual(forced.shape, [T * B, classes]);
      for (let i = 0; i < forced.size; i++)
        assert.ok(
          Math.abs((forced.data[i] as number) - (greedy.data[i] as number)) < 1e-4,
          `logit ${i}: ${forced.data[i]} vs ${greedy.data[i]}`,
        );
    });
  }

  for (const attention of ['additive', 'dot'] as const) {
    it(`matches PyTorch: a GRU encoder-decoder with ${attention} attention, its logits, loss and every gradient`, () => {
      const fx = loadFixture(`seq2seq-gru-${attention}`);
      const m = model({ cell: 'gru', attention }, 3, 3);
      const ids = tensor(fx, 'ids').data;
      const labels = Int32Array.from(tensor(fx, 'labels').data);
      const x = Tensor.zeros([7, 2, 5], 'float64');
      ids.forEach((id, r) => (x.data[r * 5 + id] = 1));
      const params = m.namedParameters();
      assert.equal(params.length, Object.keys(fx.tensors).filter((k) => k.startsWith('grad.')).length);
      for (const p of params) p.tensor.data.set(tensor(fx, p.name).data);
      m.setTargets(labels);
      const logits = m.forward(x);
      assertClose(logits.data, tensor(fx, 'out').data, { what: 'logits', rtol: 1e-9, atol: 1e-12 });
      const loss = crossEntropy(logits, labels);
      assertClose([loss.item()], tensor(fx, 'loss').data, { what: 'loss', rtol: 1e-10 });
      m.zeroGrad();
      backward(loss);
      for (const p of params)
        assertClose(p.tensor.grad!, tensor(fx, `grad.${p.name}`).data, {
          what: `grad.${p.name}`,
          rtol: 1e-8,
          atol: 1e-12,
        });
    });
  }

  for (const norm of ['post', 'pre'] as const) {
    it(`a decoder block (cross-attention as a setting) matches nn.TransformerDecoderLayer(norm_first=${norm === 'pre'})`, () => {
      const fx = loadFixture(`transformer-decoder-layer-${norm}`);
      const block = new TransformerBlock(
        {
          input: 'features',
          inputSize: 8,
          outputSize: 8,
          maxLength: 5,
          scored: 'every',
          causal: true,
          crossAttention: true,
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
        },
        1,
      );
      const names: Record<string, string> = {
        'attention.inProj.weight': 'self_attn.in_proj_weight',
        'attention.inProj.bias': 'self_attn.in_proj_bias',
        'attention.outProj.weight': 'self_attn.out_proj.weight',
        'attention.outProj.bias': 'self_attn.out_proj.bias',
        'attentionNorm.weight': 'norm1.weight',
        'attentionNorm.bias': 'norm1.bias',
        'crossAttention.inProj.weight': 'multihead_attn.in_proj_weight',
        'crossAttention.inProj.bias': 'multihead_attn.in_proj_bias',
        'crossAttention.outProj.weight': 'multihead_attn.out_proj.weight',
        'crossAttention.outProj.bias': 'multihead_attn.out_proj.bias',
        'crossAttentionNorm.weight': 'norm2.weight',
        'crossAttentionNorm.bias': 'norm2.bias',
        'feedForward.0.weight': 'linear1.weight',
        'feedForward.0.bias': 'linear1.bias',
        'feedForward.1.weight': 'linear2.weight',
        'feedForward.1.bias': 'linear2.bias',
        'feedForwardNorm.weight': 'norm3.weight',
        'feedForwardNorm.bias': 'norm3.bias',
      };
      const params = block.namedParameters();
      assert.deepEqual(params.map((p) => p.name).sort(), Object.keys(names).sort());
      for (const p of params) p.tensor.data.set(tensor(fx, names[p.name]!).data);
      const leaf = (key: string): Tensor =>
        new Tensor(tensor(fx, key).data, tensor(fx, key).shape, { requiresGrad: true });
      const x = leaf('x');
      const memory = leaf('memory');
      const out = block.forward(x, memory);
      assertClose(out.data, tensor(fx, 'out').data, { what: `${norm}-LN decoder out` });
      const w = Tensor.zeros(out.shape, 'float64');
      w.data.forEach((_, i, a) => (a[i] = Math.sin(i + 1)));
      backward(sum(mul(out, w)));
      assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: `${norm}-LN grad.x` });
      assertClose(memory.grad!, tensor(fx, 'grad.memory').data, { what: `${norm}-LN grad.memory` });
      for (const p of params)
        assertClose(p.tensor.grad!, tensor(fx, `grad.${names[p.name]!}`).data, {
          what: `${norm}-LN grad.${p.name}`,
        });
      assert.throws(() => block.forward(x), /has cross-attention and needs the encoder's output/);
    });
  }

  it('an answer step reads targets only before it (teacher forcing is causal)', () => {
    for (const overrides of [{ attention: 'dot' as const }, { architecture: 'transformer' as const }]) {
      const m = model(overrides, 4, 3, 'float32');
      const { x, labels } = reversal(4, 3, 3);
      const B = 3;
      m.setTargets(labels);
      const base = noGrad(() => m.forward(x));
      // Change the target of step 6 (answer k = 1): decoder inputs at answer steps 2.. change, steps <= 6 must not.
      const changed = Int32Array.from(labels);
      for (let b = 0; b < B; b++) changed[6 * B + b] = ((labels[6 * B + b] as number) % 3) + 1;
      m.setTargets(changed);
      const after = noGrad(() => m.forward(x));
      const classes = base.shape[1] as number;
      const rows = 7 * B * classes;
      for (let i = 0; i < rows; i++) assert.equal(after.data[i], base.data[i], `logit ${i} moved`);
      let moved = 0;
      for (let i = rows; i < base.size; i++)
        moved += Math.abs((after.data[i] as number) - (base.data[i] as number));
      assert.ok(moved > 0, 'later steps must read the changed target');
    }
  });

  it('names its parameters by layer, input side first, and traces per-step gradients', () => {
    const m = model({ cell: 'lstm', attention: 'additive', layers: 2 }, 3, 3, 'float32');
    const names = m.namedParameters().map((p) => p.name);
    assert.equal(names[0], 'layers.0.weight');
    assert.ok(names.includes('layers.1.weight_ih') && names.includes('layers.2.weight_hh'));
    assert.ok(names.includes('layers.3.weight'), 'the target embedding is layer 3');
    assert.ok(names.includes('layers.6.query.weight') && names.includes('layers.6.combine.state.weight'));
    assert.equal(names.at(-1), 'layers.7.bias');
    assert.equal(m.blocks.length, 8);
    const { x, labels } = reversal(3, 3, 4);
    m.setTargets(labels);
    m.setTraceTimeGrad(true);
    backward(crossEntropy(m.forward(x), labels));
    const trace = m.timeGrad();
    assert.equal(trace.length, 2, 'the two encoder layers');
    assert.equal(trace[0]?.length, 4, 'over the 4 source steps');
    for (const layer of trace) for (const g of layer) assert.ok(Number.isFinite(g) && g > 0);
  });

  it("reads the schema's transduction tasks, the ones data/transduction.ts makes", () => {
    assert.deepEqual([...SEQ2SEQ_TASKS], [...TRANSDUCTIONS]);
  });

  it('refuses inputs and settings that do not fit, naming the fix', () => {
    const m = model({}, 3, 3, 'float32');
    assert.throws(() => m.forward(Tensor.zeros([6, 2, 5])), /expects one-hot input \[T=7, batch, 5\]/);
    m.setTargets(new Int32Array(3));
    const { x } = reversal(3, 3, 2);
    assert.throws(() => m.forward(x), /3 targets for 7 steps of 2 sequences/);
    assert.throws(
      () => model({ architecture: 'transformer', hidden: 6, heads: 4 }),
      /not divisible by heads 4/,
    );
    assert.throws(() => model({ sourceLength: 7 }), /must leave at least 1 target step/);
  });
});

describe('model kind seq2seq in the config', () => {
  const resolve = (model: object, task: object = { name: 'reverse', length: 6 }) =>
    resolveConfig({ task, model: { kind: 'seq2seq', ...model } } as never, { defaultName: 'x' }).model;

  it('fills its defaults per architecture', () => {
    const rnn = resolve({});
    assert.ok(rnn.kind === 'seq2seq');
    assert.deepEqual(
      [rnn.architecture, rnn.cell, rnn.attention, rnn.activation, rnn.hidden, rnn.layers],
      ['rnn', 'gru', 'additive', 'tanh', 64, 1],
    );
    const transformer = resolve({ architecture: 'transformer', hidden: 32 });
    assert.ok(transformer.kind === 'seq2seq');
    assert.deepEqual(
      [transformer.attention, transformer.activation, transformer.ffWidth, transformer.norm],
      ['dot', 'gelu', 128, 'pre'],
    );
  });

  it('refuses settings that do not apply, naming the field, the value and the fix', () => {
    assert.throws(
      () => resolve({ architecture: 'transformer', attention: 'none' }),
      /model\.attention: .*"none"/,
    );
    assert.throws(
      () => resolve({ activation: 'relu' }),
      /model\.activation: .*cells use tanh.*leave model\.activation out/,
    );
    assert.throws(
      () => resolve({ architecture: 'transformer', hidden: 30, heads: 4 }),
      /model\.heads: hidden \(dModel\) 30 is not divisible by heads 4/,
    );
    assert.throws(() => resolve({ attention: 'bahdanau' }), /model\.attention/);
    assert.throws(
      () => resolve({}, { name: 'copy', length: 5 }),
      /model\.kind: task "copy" has no source and target/,
    );
  });
});

describe('Seq2Seq attention entropy', () => {
  const n = 6;
  const S = n + 1;
  const tiny = (): Initializer => normal(1e-3);
  /** The record of one forward pass under teacher forcing (or greedy, in eval mode). */
  const measure = (m: Seq2Seq, training = true): AttentionRecord => {
    const { x, labels } = reversal(n, 4, 8);
    m.setTraining(training);
    m.setTargets(labels);
    m.setRecordAttention?.(true);
    noGrad(() => m.forward(x));
    const record = m.attentionRecord?.();
    m.setRecordAttention?.(false);
    assert.ok(record, 'an attention model records its attention');
    return record;
  };

  for (const attention of ['additive', 'dot'] as const) {
    it(`is ln(S) for near-uniform attention at a tiny initialisation: ${attention}`, () => {
      const m = model({ attention, hidden: 8, weightInit: tiny, recurrentInit: tiny }, n, 4);
      const record = measure(m);
      assert.equal(record.entropy.length, 1, 'one block');
      assert.equal(record.entropy[0]?.length, 1, 'one head');
      assert.deepEqual(record.tokenSimilarity, [], 'no token stream to compare');
      const entropy = record.entropy[0]?.[0] as number;
      assert.ok(Math.abs(entropy - Math.log(S)) < 1e-4, `entropy ${entropy} vs ln ${S} = ${Math.log(S)}`);
    });
  }

  it('falls below ln(S) when the scores are sharp, and greedy decoding averages every step', () => {
    const m = model({ attention: 'additive', hidden: 8 }, n, 4, 'float32');
    const start = measure(m).entropy[0]?.[0] as number;
    assert.ok(start > 0 && start < Math.log(S), `entropy ${start} within (0, ln ${S})`);
    const score = (m.attention as NonNullable<Seq2Seq['attention']>).score as Tensor;
    score.data.forEach((v, i, a) => (a[i] = v * 50));
    const sharp = measure(m).entropy[0]?.[0] as number;
    assert.ok(sharp < 0.5 * start, `scores x50: entropy ${sharp} vs ${start}`);
    const greedy = measure(m, false).entropy[0]?.[0] as number;
    assert.ok(Number.isFinite(greedy) && greedy >= 0 && greedy < Math.log(S), `greedy: ${greedy}`);
  });

  it('is absent without attention, so the plain model logs no attention record', () => {
    const m = model({ attention: 'none' }, n, 4);
    assert.equal(m.setRecordAttention, undefined);
    assert.equal(m.attentionRecord, undefined);
  });
});

describe('Seq2Seq attention entropy in the run log', () => {
  it("is the doctor's record: a session logs it and the entropy rule reads it unchanged", () => {
    const config = resolveConfig(
      {
        task: { name: 'reverse', length: 6, classes: 4 },
        model: { kind: 'seq2seq', cell: 'gru', hidden: 8, attention: 'dot' },
        train: { steps: 4, batchSize: 4 },
        monitor: { every: 1 },
      },
      { defaultName: 'entropy' },
    );
    const session = new TrainingSession(config);
    while (!session.done) session.step();
    const logged = session.history.map((r) => r.attention?.entropy[0]?.[0] ?? NaN);
    assert.equal(logged.length, 4);
    for (const e of logged) assert.ok(e > 0 && e <= Math.log(7) + 1e-9, `entropy ${e} within (0, ln 7]`);
    assert.equal(
      diagnoseOnline(session.history, config).filter((f) => f.code === 'attention_entropy_collapse').length,
      0,
    );
    // The same records with the entropy collapsed after the first step: the Transformer's rule names block 1 head 0.
    const collapsed = session.history.map((r, i) =>
      i === 0 ? r : { ...r, attention: { entropy: [[0.01]], tokenSimilarity: [] } },
    );
    const finding = diagnoseOnline(collapsed, config).find((f) => f.code === 'attention_entropy_collapse');
    assert.ok(finding, 'the entropy rule reads the seq2seq record');
    assert.match(finding.evidence.join('\n'), /block 1 head 0: mean attention entropy 0\.01/);
  });

  it('the transformer architecture: per layer, self-attention heads, then cross-attention heads in the decoder', () => {
    for (const norm of ['pre', 'post'] as const) {
      const config = resolveConfig(
        {
          task: { name: 'reverse', length: 6, classes: 4 },
          model: { kind: 'seq2seq', architecture: 'transformer', hidden: 8, heads: 2, layers: 2, norm },
          train: { steps: 2, batchSize: 4 },
          monitor: { every: 1 },
        },
        { defaultName: 'entropy' },
      );
      const session = new TrainingSession(config);
      session.step();
      const entropy = session.history[0]?.attention?.entropy ?? [];
      // Layers 1-2 encoder blocks, then the encoder's final norm (pre only) and the target input, then the decoder.
      const gap = norm === 'pre' ? 2 : 1;
      assert.deepEqual(
        entropy.map((heads) => heads.length),
        [2, 2, ...Array<number>(gap).fill(0), 4, 4],
        norm,
      );
      const names = session.model.namedParameters().map((p) => p.name);
      assert.ok(names.includes(`layers.${3 + gap}.crossAttention.inProj.weight`), 'block k is layers.k');
      const S = 7;
      for (const heads of entropy)
        for (const e of heads)
          assert.ok(e >= 0 && e <= Math.log(S) + 1e-6, `${norm}: entropy ${e} <= ln ${S}`);
      assert.deepEqual(session.history[0]?.attention?.tokenSimilarity, []);
    }
  });
});
