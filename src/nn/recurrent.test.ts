import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gradcheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/tape.js';
import { orthogonal, zeros } from '../init/index.js';
import * as op from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { assertClose, loadFixture, tensor } from '../testing/fixtures.js';
import { RecurrentLayer } from './recurrent.js';
import type { CellKind } from '../ops/index.js';
import { normal } from '../init/index.js';

function layer(
  kind: CellKind,
  inputSize: number,
  hidden: number,
  seed = 1,
  activation: 'tanh' | 'relu' = 'tanh',
): RecurrentLayer {
  return new RecurrentLayer({
    kind,
    inputSize,
    hidden,
    activation,
    inputInit: normal(0.5),
    recurrentInit: normal(0.5),
    biasInit: normal(0.1),
    forgetBias: 1,
    rng: new Rng(seed),
    dtype: 'float64',
  });
}

/** Run stacked layers over x [T, B, in] and return the top layer's hidden sequence [T*B, H] and every layer's states. */
function run(layers: RecurrentLayer[], x: Tensor): Tensor {
  const T = x.shape[0] as number;
  let seq = op.reshape(x, [T * (x.shape[1] as number), x.shape[2] as number]);
  for (const l of layers) seq = op.stackHidden(l.unroll(seq, T), l.hidden);
  return seq;
}

describe('recurrent layers agree with PyTorch nn.RNN / nn.LSTM / nn.GRU', () => {
  const cases: Array<[string, CellKind, number, 'tanh' | 'relu']> = [
    ['rnn-tanh', 'rnn', 1, 'tanh'],
    ['rnn-relu', 'rnn', 1, 'relu'],
    ['lstm', 'lstm', 1, 'tanh'],
    ['gru', 'gru', 1, 'tanh'],
    ['lstm-2layer', 'lstm', 2, 'tanh'],
  ];
  for (const [name, kind, depth, activation] of cases) {
    it(name, () => {
      const fx = loadFixture(name);
      const x = tensor(fx, 'x');
      x.requiresGrad = true;
      const layers: RecurrentLayer[] = [];
      for (let l = 0; l < depth; l++) {
        const inputSize = l === 0 ? (x.shape[2] as number) : 4;
        const rl = layer(kind, inputSize, 4, l, activation);
        rl.weightIH.data.set(tensor(fx, `weight_ih_l${l}`).data);
        rl.weightHH.data.set(tensor(fx, `weight_hh_l${l}`).data);
        rl.biasIH.data.set(tensor(fx, `bias_ih_l${l}`).data);
        rl.biasHH.data.set(tensor(fx, `bias_hh_l${l}`).data);
        rl.traceTimeGrad = true;
        layers.push(rl);
      }
      const out = run(layers, x);
      assertClose(out.data, tensor(fx, 'out').data, { what: `${name} output` });
      backward(op.sum(op.mul(out, op.reshape(tensor(fx, 'w'), out.shape))));
      assertClose(x.grad!, tensor(fx, 'grad.x').data, { what: `${name} grad.x` });
      layers.forEach((rl, l) => {
        assertClose(rl.weightIH.grad!, tensor(fx, `grad.weight_ih_l${l}`).data, {
          what: `${name} grad.weight_ih_l${l}`,
        });
        assertClose(rl.weightHH.grad!, tensor(fx, `grad.weight_hh_l${l}`).data, {
          what: `${name} grad.weight_hh_l${l}`,
        });
        assertClose(rl.biasIH.grad!, tensor(fx, `grad.bias_ih_l${l}`).data, {
          what: `${name} grad.bias_ih_l${l}`,
        });
        assertClose(rl.biasHH.grad!, tensor(fx, `grad.bias_hh_l${l}`).data, {
          what: `${name} grad.bias_hh_l${l}`,
        });
      });
      const top = layers[layers.length - 1]!;
      const expected = depth === 1 ? tensor(fx, 'timeGrad') : tensor(fx, `timeGrad.l${depth - 1}`);
      assertClose(top.timeGrad, expected.data, { what: `${name} per-time-step gradient` });
      if (depth > 1)
        assertClose(layers[0]!.timeGrad, tensor(fx, 'timeGrad.l0').data, {
          what: `${name} layer-0 time gradient`,
        });
    });
  }
});

describe('recurrent gradient checks (float64, finite differences)', () => {
  const T = 5;
  const B = 2;
  const cases: Array<[string, CellKind, number, number]> = [
    ['rnn', 'rnn', 1, 0],
    ['lstm', 'lstm', 1, 0],
    ['gru', 'gru', 1, 0],
    ['lstm stacked', 'lstm', 2, 0],
  ];
  for (const [name, kind, depth, bptt] of cases) {
    it(name, () => {
      const layers = Array.from({ length: depth }, (_, l) => layer(kind, l === 0 ? 3 : 4, 4, 10 + l));
      for (const l of layers) l.bptt = bptt;
      const params = layers.flatMap((l) => [l.weightIH, l.weightHH, l.biasIH, l.biasHH]);
      const x = Tensor.randn([T, B, 3], new Rng(3), { dtype: 'float64' });
      const w = Tensor.randn([T * B, 4], new Rng(4), { dtype: 'float64' });
      const { maxError } = gradcheck(
        (inputs) => {
          inputs.slice(1).forEach((p, i) => (params[i]!.data = p.data));
          layers.forEach((l, k) => {
            for (const [j, key] of (['weightIH', 'weightHH', 'biasIH', 'biasHH'] as const).entries()) {
              const src = inputs[1 + 4 * k + j]!;
              (l as unknown as Record<string, Tensor>)[key] = src;
            }
          });
          return op.sum(op.mul(run(layers, inputs[0]!), w));
        },
        [x, ...params.map((p) => new Tensor(p.data.slice(), p.shape))],
      );
      assert.ok(maxError < 1e-6, `${name}: relative error ${maxError}`);
    });
  }

  for (const [name, kind, depth, bptt] of [
    ['gru truncated bptt 2', 'gru', 1, 2],
    ['rnn stacked truncated bptt 3', 'rnn', 2, 3],
  ] as const) {
    it(`${name}: the truncated gradient equals finite differences with the boundary states held fixed`, () => {
      const layers = Array.from({ length: depth }, (_, l) => layer(kind, l === 0 ? 3 : 4, 4, 30 + l));
      const x = Tensor.randn([T, B, 3], new Rng(3), { dtype: 'float64' });
      const w = Tensor.randn([T * B, 4], new Rng(4), { dtype: 'float64' });
      // Reference: a manual unroll where the state entering each chunk is a constant taken from the unperturbed run.
      const frozen = new Map<string, Float64Array>();
      const manual = (record: boolean): number => {
        let seq = op.reshape(x, [T * B, 3]);
        layers.forEach((l, k) => {
          const projected = op.linear(seq, l.weightIH, l.biasIH, 'linear');
          let state = Tensor.zeros([B, 4], 'float64');
          const hs: Tensor[] = [];
          for (let t = 0; t < T; t++) {
            if (t > 0 && t % bptt === 0) {
              const key = `${k}.${t}`;
              if (record) frozen.set(key, Float64Array.from(state.data));
              state = new Tensor(Float64Array.from(frozen.get(key)!), state.shape);
            }
            state = op.recurrentStep(kind, projected, t, state, l.weightHH, l.biasHH);
            hs.push(state);
          }
          seq = op.stackHidden(hs, 4);
        });
        return op.sum(op.mul(seq, w)).item();
      };
      manual(true);
      for (const l of layers) l.bptt = bptt;
      backward(op.sum(op.mul(run(layers, x), w)));
      for (const l of layers) {
        for (const p of [l.weightIH, l.weightHH, l.biasIH, l.biasHH]) {
          let worst = 0;
          let scale = 1e-8;
          for (let i = 0; i < p.size; i++) {
            const v = p.data[i]!;
            p.data[i] = v + 1e-6;
            const up = manual(false);
            p.data[i] = v - 1e-6;
            const down = manual(false);
            p.data[i] = v;
            const numeric = (up - down) / 2e-6;
            scale = Math.max(scale, Math.abs(numeric));
            worst = Math.max(worst, Math.abs(numeric - p.grad![i]!));
          }
          assert.ok(worst / scale < 1e-6, `${name}: relative error ${worst / scale}`);
        }
      }
      // And truncation really cuts: the full gradient differs.
      const full = layers.map((l) => Float64Array.from(l.weightHH.grad!));
      for (const l of layers) {
        l.bptt = 0;
        l.zeroGrad();
      }
      backward(op.sum(op.mul(run(layers, x), w)));
      assert.ok(layers.some((l, k) => l.weightHH.grad!.some((g, i) => Math.abs(g - full[k]![i]!) > 1e-9)));
    });
  }

  it('per-time-step gradients equal finite differences on h_t', () => {
    // Perturb h_t through an additive input at step t: d L / d h_t = d L / d (delta_t).
    const l = layer('lstm', 3, 4, 21);
    l.traceTimeGrad = true;
    const x = Tensor.randn([T, B, 3], new Rng(5), { dtype: 'float64' });
    const w = Tensor.randn([T * B, 4], new Rng(6), { dtype: 'float64' });
    backward(op.sum(op.mul(run([l], x), w)));
    const traced = Array.from(l.timeGrad);
    // Numerical: the gradient w.r.t. the hidden part of the state at step t via a probe added to it.
    for (let t = 0; t < T; t++) {
      const probe = (delta: Tensor): number => {
        const seq = op.reshape(x, [T * B, 3]);
        const projected = op.linear(seq, l.weightIH, l.biasIH, 'linear');
        let state = Tensor.zeros([B, 8], 'float64');
        const hs: Tensor[] = [];
        for (let s = 0; s < T; s++) {
          state = op.recurrentStep('lstm', projected, s, state, l.weightHH, l.biasHH);
          if (s === t) state = op.add(state, delta);
          hs.push(state);
        }
        return op.sum(op.mul(op.stackHidden(hs, 4), w)).item();
      };
      let norm2 = 0;
      for (let i = 0; i < B * 4; i++) {
        const b = Math.floor(i / 4);
        const j = i % 4;
        const d = new Float64Array(B * 8);
        d[b * 8 + j] = 1e-6;
        const up = probe(new Tensor(d.slice(), [B, 8]));
        d[b * 8 + j] = -1e-6;
        const down = probe(new Tensor(d, [B, 8]));
        norm2 += ((up - down) / 2e-6) ** 2;
      }
      assert.ok(
        Math.abs(Math.sqrt(norm2) - traced[t]!) < 1e-6 * Math.max(1, traced[t]!),
        `step ${t}: ${Math.sqrt(norm2)} vs ${traced[t]}`,
      );
    }
  });
});

describe('exact theory', () => {
  it('a linear RNN with W = rho Q has ||dL/dh_{T-k}|| / ||dL/dh_T|| = rho^k', () => {
    const H = 8;
    const T = 12;
    const rho = 0.9;
    const l = new RecurrentLayer({
      kind: 'rnn',
      inputSize: 2,
      hidden: H,
      activation: 'linear',
      inputInit: normal(1),
      recurrentInit: orthogonal(rho),
      biasInit: zeros(),
      forgetBias: 0,
      rng: new Rng(9),
      dtype: 'float64',
    });
    l.traceTimeGrad = true;
    const x = Tensor.randn([T, 3, 2], new Rng(2), { dtype: 'float64' });
    const states = l.unroll(op.reshape(x, [T * 3, 2]), T);
    const w = Tensor.randn([3, H], new Rng(8), { dtype: 'float64' });
    backward(op.sum(op.mul(states[T - 1]!, w)));
    for (let k = 0; k < T; k++) {
      const ratio = l.timeGrad[T - 1 - k]! / l.timeGrad[T - 1]!;
      assert.ok(Math.abs(ratio - rho ** k) < 1e-9, `k=${k}: ${ratio} vs ${rho ** k}`);
    }
  });
});

describe('float32 LSTM on the default kernels (fused WebAssembly gates where available) matches the TypeScript reference', () => {
  it('outputs and every gradient agree within 1e-5 relative', async () => {
    const { setKernels, kernels } = await import('../kernels/index.js');
    const { tsKernels } = await import('../kernels/ts.js');
    const runOnce = (): Float32Array[] => {
      const l = new RecurrentLayer({
        kind: 'lstm',
        inputSize: 5,
        hidden: 12,
        activation: 'tanh',
        inputInit: normal(0.4),
        recurrentInit: normal(0.4),
        biasInit: normal(0.1),
        forgetBias: 1,
        rng: new Rng(77),
      });
      l.traceTimeGrad = true;
      const x = Tensor.randn([7, 3, 5], new Rng(78), { requiresGrad: true });
      const out = run([l], x);
      const w = Tensor.randn(out.shape, new Rng(79));
      backward(op.sum(op.mul(out, w)));
      return [
        out.data,
        x.grad!,
        l.weightIH.grad!,
        l.weightHH.grad!,
        l.biasIH.grad!,
        l.biasHH.grad!,
        Float32Array.from(l.timeGrad),
      ].map((b) => Float32Array.from(b));
    };
    const fast = runOnce();
    const previous = setKernels(tsKernels);
    try {
      const reference = runOnce();
      reference.forEach((r, i) =>
        assertClose(fast[i]!, r, {
          rtol: 1e-5,
          atol: 1e-6,
          what: `tensor ${i} (${kernels().name} vs ${previous.name})`,
        }),
      );
    } finally {
      setKernels(previous);
    }
  });
});
