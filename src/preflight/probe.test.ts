/**
 * The probe against exact results and against mean-field theory (issue 6, "Tests that must exist"), and the
 * linearisation against the engine's own backward pass.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig, type Config } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { createTask } from '../data/index.js';
import { Rng } from '../tensor/rng.js';
import { buildModel } from '../train/build.js';
import { preflight } from './index.js';
import { hiddenLayers, inputScaleFor, measureMlp, probeBatch, randomUnit, sampleMlp } from './probe.js';
import { criticalSigmaW2 } from './theory.js';

function config(raw: Config): ResolvedConfig {
  return resolveConfig(raw, { defaultName: 'test' });
}

describe('exact results', () => {
  it('a linear network with orthogonal weights has every singular value 1 (to 1e-9, float64)', () => {
    // Square: 32 inputs into 6 orthogonal 32 x 32 layers; semi-orthogonal: 2 inputs into 32 units.
    for (const task of [{ name: 'teacher' as const, inputs: 32 }, { name: 'spirals' as const }]) {
      const report = preflight(
        config({
          task,
          model: { kind: 'mlp', depth: 6, width: 32, activation: 'linear', init: 'orthogonal' },
        }),
        { networks: 3 },
      );
      const j = report.jacobian;
      assert.equal(j.method, 'exact');
      assert.equal(j.singularValues, task.name === 'teacher' ? 32 : 2);
      // mean 1 and variance 0 put every squared singular value at 1; the largest is 1 too.
      assert.ok(Math.abs(j.meanSquaredSingular - 1) < 1e-9, `mean ${j.meanSquaredSingular}`);
      assert.ok(j.varianceSquaredSingular < 1e-18, `variance ${j.varianceSquaredSingular}`);
      assert.ok(Math.abs(j.maxSingular - 1) < 1e-9, `max ${j.maxSingular}`);
    }
  });

  it('...which a Gaussian linear network of the same variance does not have', () => {
    const report = preflight(
      config({
        task: { name: 'teacher', inputs: 32 },
        model: { kind: 'mlp', depth: 6, width: 32, activation: 'linear', init: 'lecun-normal' },
      }),
      { networks: 3 },
    );
    assert.ok(report.jacobian.varianceSquaredSingular > 0.5, `${report.jacobian.varianceSquaredSingular}`);
  });

  it('ReLU with He init keeps the squared gradient norm constant in expectation (g_1 / g_L within a factor 2, width 256, depth 20)', () => {
    const report = preflight(
      config({ model: { kind: 'mlp', depth: 20, width: 256, activation: 'relu', init: 'he-normal' } }),
      { networks: 8 },
    );
    const ratio = (report.layers[0]?.gradNorm2 as number) / (report.layers[19]?.gradNorm2 as number);
    assert.ok(ratio > 0.5 && ratio < 2, `g_1 / g_L = ${ratio}`);
    assert.equal(report.theory?.chi1.toFixed(12), '1.000000000000');
    assert.equal(report.verdict, 'healthy');
  });

  it('ReLU with Xavier init halves it per layer (chi_1 = 1/2), which the same test would catch', () => {
    const report = preflight(
      config({ model: { kind: 'mlp', depth: 20, width: 256, activation: 'relu', init: 'lecun-normal' } }),
      { networks: 4 },
    );
    const ratio = (report.layers[0]?.gradNorm2 as number) / (report.layers[19]?.gradNorm2 as number);
    assert.ok(Math.abs(Math.log(ratio) - 19 * Math.log(0.5)) < 1, `g_1 / g_L = ${ratio}, expected 2^-19`);
  });

  it("a linear RNN with W = rho Q has the exact per-step factor rho, and Pascanu et al.'s bound is tight", () => {
    const rho = 0.9;
    const resolved = config({
      task: { name: 'adding', length: 30 },
      model: { kind: 'rnn', hidden: 12, recurrentInit: { gain: rho, base: 'orthogonal' } },
    });
    if (resolved.model.kind !== 'rnn') throw new Error('expected an rnn');
    // The config only accepts tanh, relu or sigmoid cells; the theory test needs a linear one.
    const linear: ResolvedConfig = { ...resolved, model: { ...resolved.model, activation: 'linear' } };
    const report = preflight(linear, { networks: 3 });
    const T = report.timeGrad.length;
    assert.equal(T, 30);
    assert.ok(
      Math.abs((report.fit.perStepFactor as number) - rho) < 1e-9,
      `fitted ${report.fit.perStepFactor}`,
    );
    for (let k = 0; k < T; k++) {
      const ratio = (report.timeGrad[T - 1 - k] as number) / (report.timeGrad[T - 1] as number);
      assert.ok(Math.abs(ratio - rho ** k) < 1e-9 * rho ** k, `k=${k}: ${ratio}`);
    }
    const bound = report.recurrent?.bounds[0];
    assert.ok(bound, 'a vanilla RNN has a bound');
    assert.ok(
      Math.abs(bound.perStepBound - rho) < 1e-9 && Math.abs(bound.spectralRadius - rho) < 1e-9,
      JSON.stringify(bound),
    );
    assert.equal(report.theory, null);
  });
});

describe('against mean-field theory: tanh at width 256 (Schoenholz et al. 2017)', () => {
  const sigmaB2 = 0.05;
  const critical = criticalSigmaW2({ name: 'tanh' }, { mean: 0, variance: sigmaB2 }) as number;
  for (const [phase, sigmaW2] of [
    ['ordered', 1],
    ['critical', critical],
    ['chaotic', 4],
  ] as const) {
    it(`${phase} (sigma_w^2 = ${sigmaW2.toFixed(3)}): the fitted factor of g_l is within 0.05 in ln of ln chi_1, q_L within 10% of q*`, () => {
      const report = preflight(
        config({
          model: {
            kind: 'mlp',
            depth: 20,
            width: 256,
            activation: 'tanh',
            init: { gain: Math.sqrt(sigmaW2), base: 'lecun-normal' },
            bias: { normal: Math.sqrt(sigmaB2) },
          },
        }),
        { networks: 8 },
      );
      const theory = report.theory;
      assert.ok(theory, 'tanh has a theory');
      assert.equal(theory.phase, phase);
      const fitted = Math.log(report.fit.perLayerFactor as number);
      assert.ok(
        Math.abs(fitted - Math.log(theory.chi1)) < 0.05,
        `ln factor ${fitted} vs ln chi_1 ${Math.log(theory.chi1)}`,
      );
      const qStar = theory.qStar as number;
      const qL = report.layers[report.layers.length - 1]?.q as number;
      assert.ok(Math.abs(qL / qStar - 1) < 0.1, `q_L ${qL} vs q* ${qStar}`);
      assert.equal(report.inputs, 'gaussian-fixed-point');
      assert.ok(Math.abs((report.layers[0]?.q as number) / qStar - 1) < 1e-12, 'inputs are scaled to q*');
    });
  }
});

describe('the probe against the engine', () => {
  const cases: Array<[string, NonNullable<Config['model']>]> = [
    ['tanh', { kind: 'mlp', depth: 4, width: 16, activation: 'tanh' }],
    ['layer norm', { kind: 'mlp', depth: 4, width: 16, activation: 'gelu', norm: 'layer' }],
    ['batch norm', { kind: 'mlp', depth: 4, width: 16, activation: 'sigmoid', norm: 'batch' }],
    ['residual', { kind: 'mlp', depth: 4, width: 16, activation: 'elu', residual: true }],
    ['prelu', { kind: 'mlp', depth: 4, width: 16, activation: 'prelu', bias: { normal: 0.1 } }],
  ];
  for (const [label, model] of cases) {
    it(`the linearised network's vjp of v equals the engine's dL/dx_0 (${label})`, () => {
      const resolved = config({ task: { name: 'teacher', inputs: 5 }, model });
      const task = createTask(resolved.task, 0);
      const net = sampleMlp(resolved, task, 0);
      const batch = probeBatch(net);
      const x = new Float64Array(batch * 5);
      new Rng(1).fillNormal(x);
      const v = randomUnit(16, new Rng(2));
      const m = measureMlp(net, x, batch, v);
      const cotangent = new Float64Array(batch * 16);
      for (let b = 0; b < batch; b++) cotangent.set(v, b * 16);
      const linearised = m.linearised.vjp(cotangent, 1);
      let scale = 0;
      for (const g of m.inputGradient) scale = Math.max(scale, Math.abs(g));
      assert.ok(scale > 0);
      m.inputGradient.forEach((g, i) =>
        assert.ok(Math.abs(g - (linearised[i] as number)) < 1e-12 * scale, `${i}: ${g} vs ${linearised[i]}`),
      );
    });
  }

  it("scales the inputs so the first layer's mean squared pre-activation is the target exactly", () => {
    const resolved = config({
      model: { kind: 'mlp', depth: 2, width: 64, activation: 'tanh', bias: { normal: 0.3 } },
    });
    const net = sampleMlp(resolved, createTask(resolved.task, 0), 0);
    const x = new Float64Array(2);
    new Rng(4).fillNormal(x);
    const s = inputScaleFor(hiddenLayers(net)[0]!, x, 1, 0.57);
    const m = measureMlp(
      net,
      x.map((v) => v * s),
      1,
      randomUnit(64, new Rng(5)),
    );
    assert.ok(Math.abs((m.q[0] as number) - 0.57) < 1e-12, `${m.q[0]}`);
  });

  it('network 0 has the very weights `gradscope run` starts from (rng.fork("init")), in float64', () => {
    const resolved = config({ seed: 7, model: { kind: 'mlp', depth: 2, width: 8 } });
    const task = createTask(resolved.task, resolved.seed);
    const trained = buildModel(resolved.model, task, new Rng(resolved.seed).fork('init'));
    const probed = sampleMlp(resolved, task, 0);
    const other = sampleMlp(resolved, task, 1);
    const first = (m: { parameters(): Array<{ data: ArrayLike<number> }> }): number[] =>
      Array.from(m.parameters()[0]!.data);
    assert.deepEqual(first(probed).map(Math.fround), first(trained));
    assert.notDeepEqual(first(other), first(probed));
  });
});
