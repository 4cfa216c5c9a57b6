import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requirePreset, resolveConfig, type Config } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { applyMergePatch, type JsonObject } from '../doctor/findings.js';
import { formatReport, meanFieldModel, preflight, verdictOf } from './index.js';

function preset(name: string): ResolvedConfig {
  return resolveConfig(requirePreset(name).config, { defaultName: name });
}

function config(raw: Config): ResolvedConfig {
  return resolveConfig(raw, { defaultName: 'test' });
}

describe('verdicts and advice on the flagship presets', () => {
  it('deep-sigmoid: vanishing, chi_1 = 0.056, fixes: the critical sigma_w^2, then ReLU + He', () => {
    const report = preflight(preset('deep-sigmoid'), { networks: 4 });
    assert.equal(report.verdict, 'vanishing');
    const theory = report.theory;
    assert.ok(theory);
    assert.ok(Math.abs(theory.chi1 - 0.0557) < 5e-4, `chi_1 ${theory.chi1}`);
    assert.equal(theory.phase, 'ordered');
    assert.match(
      report.advice[0] as string,
      /^gradients will shrink about 1e-2\d over 20 layers \(chi_1 = 0\.0557, sigmoid; measured 1e-2\d\); to reach the critical line use model\.init \{"gain": [\d.]+, "base": "lecun-normal"\}, or model\.activation "relu" \+ model\.init "he-normal"$/,
    );
    assert.deepEqual(
      report.fixes.map((f) => f.change),
      [
        `model.init {"gain": ${Number(Math.sqrt(theory.criticalSigmaW2 as number).toPrecision(4))}, "base": "lecun-normal"}`,
        'model.activation "relu" + model.init "he-normal"',
      ],
    );
    assert.match(
      report.fixes[0]?.why as string,
      /critical line chi_1 = 1.*Poole et al\. 2016; Schoenholz et al\. 2017/,
    );
    assert.ok(
      report.advice.some((a) => /falls below 1\/100 of the last hidden layer's at layer \d+/.test(a)),
    );
    // Measured and predicted agree within a factor 3 over 24 orders of magnitude.
    assert.ok(
      Math.abs(Math.log(report.gradRatio / theory.gradRatio)) < Math.log(3),
      `${report.gradRatio} vs ${theory.gradRatio}`,
    );
  });

  it('relu-normal1: exploding, and the fix is He init', () => {
    const report = preflight(preset('relu-normal1'), { networks: 2 });
    assert.equal(report.verdict, 'exploding');
    assert.equal(report.theory?.phase, 'chaotic');
    assert.match(
      report.advice[0] as string,
      /gradients will grow about 1e\d+ over 10 layers .*; to reach the critical line use model\.init "he-normal"$/,
    );
    assert.deepEqual(
      report.fixes.map((f) => f.patch),
      [{ model: { init: 'he-normal' } }],
      'ReLU + He changes only the init here: the activation is already relu',
    );
  });

  it('deep-relu-he: healthy, critical, nothing to change', () => {
    const report = preflight(preset('deep-relu-he'), { networks: 4 });
    assert.equal(report.verdict, 'healthy');
    assert.equal(report.theory?.phase, 'critical');
    assert.match(report.advice[0] as string, /nothing to change/);
    assert.deepEqual(report.fixes, []);
  });

  it('batch norm: only the measurement, which explodes with depth (Yang et al. 2019)', () => {
    const report = preflight(preset('deep-sigmoid-batchnorm'), { networks: 2 });
    assert.equal(report.theory, null);
    assert.ok(report.layers.every((l) => l.qTheory === null && l.gradNorm2Theory === null));
    assert.match(
      report.advice[0] as string,
      /no exact mean-field theory covers batch norm; only the measurement is shown/,
    );
    assert.equal(report.verdict, 'exploding');
    assert.ok(report.advice.some((a) => a.includes('Yang et al. 2019')));
    assert.deepEqual(
      report.fixes.map((f) => f.patch),
      [{ model: { norm: 'layer' } }, { model: { residual: true } }],
    );
    assert.match(report.fixes[0]?.why as string, /Yang et al\. 2019/);
  });

  it('adding-rnn: vanishing through time, with the Pascanu bound beside the measured factor', () => {
    const report = preflight(preset('adding-rnn'), { networks: 2 });
    assert.equal(report.verdict, 'vanishing');
    assert.equal(report.timeGrad.length, 50);
    assert.ok((report.fit.perStepFactor as number) < 1);
    const bound = report.recurrent?.bounds[0];
    assert.ok(
      bound && (report.fit.perStepFactor as number) <= bound.perStepBound + 1e-9,
      'the measured factor respects the bound',
    );
    assert.ok(report.advice.some((a) => a.startsWith('Pascanu et al. 2013')));
    assert.equal(report.fixes.at(-1)?.change, 'model.kind "lstm" + model.forgetBias 1');
    assert.match(
      report.advice[1] as string,
      /; use .*model\.kind "lstm" \+ model\.forgetBias 1, or shorter sequences$/,
    );
  });

  it('an LSTM reports no bound (gated cells) and one time trace per layer', () => {
    const report = preflight(
      config({ task: { name: 'adding', length: 12 }, model: { kind: 'lstm', hidden: 8, layers: 2 } }),
      { networks: 2 },
    );
    assert.equal(report.recurrent?.timeGradByLayer.length, 2);
    assert.deepEqual(report.recurrent?.bounds, [null, null]);
    assert.deepEqual(report.timeGrad, report.recurrent?.timeGradByLayer[1]);
    assert.ok(report.advice.some((a) => a.includes('gated cells (lstm)')));
  });

  it("--data probes with the task's own inputs", () => {
    const report = preflight(preset('deep-tanh-xavier'), { networks: 2, data: true });
    assert.equal(report.inputs, 'task');
  });

  it('the same config and seed give the same report', () => {
    const a = preflight(preset('deep-tanh-xavier'), { networks: 2 });
    const b = preflight(preset('deep-tanh-xavier'), { networks: 2 });
    assert.deepEqual(a, b);
  });
});

describe('meanFieldModel', () => {
  it('reads sigma_w^2 = Var[W] fan_in per layer from the initialiser (xavier: 2 fan_in / (fan_in + fan_out))', () => {
    const model = config({
      model: {
        kind: 'mlp',
        hidden: [64, 64, 32],
        activation: 'tanh',
        init: 'xavier-normal',
        bias: { normal: 0.1 },
      },
    }).model;
    if (model.kind !== 'mlp') throw new Error('mlp');
    const view = meanFieldModel(model, 2);
    assert.ok('network' in view);
    const expected = [(2 * 2) / 66, 1, (2 * 64) / 96];
    view.network.sigmaW2.forEach((s, l) =>
      assert.ok(Math.abs(s - (expected[l] as number)) < 1e-12, `layer ${l}: ${s}`),
    );
    assert.ok(Math.abs(view.network.bias.variance - 0.01) < 1e-15);
  });

  it('declines normalisation, residual connections and deterministic weights', () => {
    const reasons = (raw: NonNullable<Config['model']>): string => {
      const model = config({ model: raw }).model;
      if (model.kind !== 'mlp') throw new Error('mlp');
      const view = meanFieldModel(model, 2);
      return 'reason' in view ? view.reason : '';
    };
    assert.equal(reasons({ kind: 'mlp', norm: 'layer' }), 'layer norm');
    assert.equal(reasons({ kind: 'mlp', residual: true }), 'residual connections');
    assert.match(reasons({ kind: 'mlp', init: 'identity' }), /identity weights/);
  });
});

describe('verdictOf', () => {
  it('uses a factor 100 on the squared norm and treats non-finite values as exploding', () => {
    assert.equal(verdictOf(0.5, [1]), 'healthy');
    assert.equal(verdictOf(0.009, [1]), 'vanishing');
    assert.equal(verdictOf(101, [1]), 'exploding');
    assert.equal(verdictOf(1, [NaN]), 'exploding');
    assert.equal(verdictOf(NaN, [0]), 'vanishing');
  });
});

describe('fixes are config patches that apply, and the critical-line ones cure what they say', () => {
  it('every fix of the flagship presets applies to the preset as written and resolves', () => {
    for (const name of [
      'deep-sigmoid',
      'relu-normal1',
      'deep-sigmoid-batchnorm',
      'adding-rnn',
      'deep-tanh-xavier',
    ]) {
      const raw = requirePreset(name).config as unknown as JsonObject;
      const report = preflight(preset(name), { networks: 1 });
      if (report.verdict !== 'healthy') assert.ok(report.fixes.length > 0, name);
      for (const fix of report.fixes)
        assert.doesNotThrow(
          () => resolveConfig(applyMergePatch(raw, fix.patch), { defaultName: name }),
          fix.change,
        );
    }
  });

  it('deep-sigmoid and relu-normal1 are healthy at initialisation once their first fix is applied', () => {
    for (const name of ['deep-sigmoid', 'relu-normal1']) {
      const fix = preflight(preset(name), { networks: 1 }).fixes[0];
      assert.ok(fix, name);
      const raw = applyMergePatch(requirePreset(name).config as unknown as JsonObject, fix.patch);
      const cured = preflight(resolveConfig(raw, { defaultName: name }), { networks: 2 });
      assert.equal(cured.verdict, 'healthy', `${name} with ${fix.change}`);
      assert.deepEqual(cured.fixes, []);
    }
  });
});

describe('formatReport', () => {
  it('prints the per-layer table with theory, the verdict and the advice', () => {
    const text = formatReport(preflight(preset('deep-sigmoid'), { networks: 2 }));
    assert.match(text, /layer\s+width\s+q\s+q theory\s+\|\|dL\/dh\|\|\^2\s+theory/);
    assert.match(text, /theory \(mean field\): q\* = 0\.2647, chi_1 = 0\.05572/);
    assert.match(text, /verdict: vanishing\n {2}- gradients will shrink/);
    // The fixes as the doctor prints them: the change, the patch, the flags to paste, why.
    assert.match(
      text,
      /fixes, best first:\n {2}1\) model\.init \{"gain": [\d.]+, "base": "lecun-normal"\}\n {5}patch: \{"model":\{"init":\{"gain":[\d.]+,"base":"lecun-normal"\}\}\}\n {5}flags: --set model\.init\.gain=[\d.]+ --set model\.init\.base=lecun-normal\n {5}why: /,
    );
    assert.match(
      text,
      /\n {2}2\) model\.activation "relu" \+ model\.init "he-normal"\n {5}patch: .*\n {5}flags: --set model\.activation=relu --set model\.init=he-normal\n/,
    );
  });

  it('shortens long tables and prints the time trace of recurrent models', () => {
    const text = formatReport(preflight(preset('adding-rnn'), { networks: 1 }));
    assert.match(text, /\s+t\s+\|\|dL\/dh_t\|\|\n\s+1\s/);
    const rows = text.split('\n').filter((line) => /^\s*\d+\s+\S+$/.test(line));
    assert.equal(rows.length, 24, '24 of the 50 time steps');
    assert.match(rows[rows.length - 1] as string, /^\s*50\s+1$/);
  });
});
