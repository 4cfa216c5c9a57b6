import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/resolve.js';
import type { MlpModelConfig, ResolvedConfig } from '../config/types.js';
import { preflight } from './index.js';
import { residualMeanField, residualTrajectory, type ResidualMeanField } from './residual.js';

function config(model: Record<string, unknown>, seed = 0): ResolvedConfig {
  return resolveConfig(
    { seed, task: { name: 'teacher', inputs: 16 }, model: { width: 128, ...model } },
    { defaultName: 'residual-preflight' },
  );
}

function network(model: Record<string, unknown>): ResidualMeanField {
  const m = config(model).model as MlpModelConfig;
  const field = residualMeanField(m, 16);
  assert.ok('network' in field, JSON.stringify(field));
  return field.network;
}

const near = (actual: number, expected: number, rtol: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= rtol * Math.abs(expected), `${what}: ${actual} vs ${expected}`);

describe('the residual mean-field recursion (Yang & Schoenholz 2017)', () => {
  it('ReLU + He, x + relu(W x): the stream and the gradient double per block', () => {
    const t = residualTrajectory(network({ depth: 10, activation: 'relu', residual: true }), {
      q0: 1,
      inputMeanSquare: 1,
    });
    // Layer 0 is plain (16 -> 128); blocks 1..9 each multiply ||dL/dx||^2 by 1 + sigma_w^2 E[relu'^2] = 2.
    near(t.gradNorm2[0]!, 2 ** 9, 1e-9, 'gradient ratio');
    for (let l = 1; l < 10; l++) near(t.factor[l]!, 2, 1e-9, `factor ${l}`);
    // p_1 = p_0 + 2 mu E[relu(z)] + E[relu(z)^2] with z ~ N(0, 2 p_0): p_0 = 1/2, mu = E[relu(h_0)] = 1/sqrt(2 pi).
    const mu = 1 / Math.sqrt(2 * Math.PI);
    const ez = Math.sqrt(2 * 0.5) / Math.sqrt(2 * Math.PI);
    near(t.p[1]!, 0.5 + 2 * mu * ez + 0.5, 1e-9, 'p_1');
    near(t.q[1]!, 2 * 0.5, 1e-12, 'q_1 = sigma_w^2 p_0');
  });

  it('tanh, x + tanh(W x): q grows with depth and the gradient only as exp(c sqrt(L)), not exponentially', () => {
    const logRatio = (depth: number): number =>
      Math.log(
        residualTrajectory(network({ depth, activation: 'tanh', residual: true }), {
          q0: 1,
          inputMeanSquare: 1,
        }).gradNorm2[0]!,
      );
    const [a, b, c] = [logRatio(16), logRatio(64), logRatio(256)];
    // Each 4x in depth multiplies ln(ratio) by about sqrt(4) = 2 (exponential growth would give 4).
    assert.ok(b / a > 1.7 && b / a < 2.6, `${a} ${b}`);
    assert.ok(c / b > 1.7 && c / b < 2.3, `${b} ${c}`);
    const t = residualTrajectory(network({ depth: 64, activation: 'tanh', residual: true }), {
      q0: 1,
      inputMeanSquare: 1,
    });
    assert.ok(t.q[63]! > 20 * t.q[1]!, `q grows: ${t.q[1]} -> ${t.q[63]}`);
  });

  it('a zero branch (ReZero, SkipInit, Fixup) keeps the stream and the gradient at initialisation', () => {
    for (const residual of [
      { scale: 'rezero' },
      { form: 'linear-out', scale: 'skipinit' },
      { form: 'linear-out', layers: 2, fixup: true },
    ]) {
      const t = residualTrajectory(network({ depth: 12, activation: 'relu', residual }), {
        q0: 1,
        inputMeanSquare: 1,
      });
      for (let l = 1; l < 12; l++) {
        near(t.p[l]!, t.p[0]!, 1e-12, `${JSON.stringify(residual)} p_${l}`);
        assert.equal(t.gradNorm2[l - 1], 1);
      }
    }
  });

  it('declines post-activation blocks and normalised stacks, with the reason', () => {
    const reason = (model: Record<string, unknown>): string => {
      const field = residualMeanField(config(model).model as MlpModelConfig, 16);
      return 'reason' in field ? field.reason : '';
    };
    assert.match(reason({ residual: { form: 'post' } }), /post-activation/);
    assert.match(reason({ norm: 'layer', residual: { form: 'pre' } }), /layer norm/);
  });
});

describe('preflight of residual MLPs: the probe beside the recursion', () => {
  it('ReLU + He blocks: exploding, measured near the predicted 2^7 and the stream as predicted', () => {
    const report = preflight(config({ depth: 8, activation: 'relu', residual: true }), { networks: 8 });
    assert.equal(report.verdict, 'exploding');
    assert.equal(report.residual?.gradient, 'stream');
    assert.deepEqual(report.residual?.blocks, [1, 2, 3, 4, 5, 6, 7]);
    const predicted = report.residual?.theory?.gradRatio ?? NaN;
    near(predicted, 2 ** 7, 1e-9, 'predicted');
    // Finite width (128) adds a few percent per block on top of the mean field's 2.
    assert.ok(report.gradRatio > predicted / 2 && report.gradRatio < predicted * 2, `${report.gradRatio}`);
    near(report.layers[7]!.gradNorm2, 1, 1e-12, 'the top: ||v||^2');
    const p = report.residual!.p;
    const pTheory = report.residual!.pTheory!;
    near(p[7]!, pTheory[7]!, 0.3, 'p_L');
    assert.ok(
      report.advice.some((line) => /rezero/.test(line) && /fixup/.test(line)),
      report.advice.join('\n'),
    );
    // The fixes are merge patches of the block alone, best first: ReZero, Fixup, 1/sqrt(blocks), Pre-LN form.
    assert.deepEqual(
      report.fixes.map((f) => f.patch),
      [
        { model: { residual: { scale: 'rezero' } } },
        { model: { residual: { fixup: true } } },
        { model: { residual: { scale: 0.378 } } },
        { model: { residual: { form: 'pre' }, norm: 'layer' } },
      ],
    );
  });

  it('the zero-branch fix cures the explosion it names', () => {
    const raw = { depth: 8, activation: 'relu', residual: true } as const;
    const fix = preflight(config(raw), { networks: 2 }).fixes[0];
    assert.equal(fix?.change, 'model.residual.scale "rezero"');
    const cured = preflight(config({ ...raw, residual: { scale: 'rezero' } }), { networks: 2 });
    assert.equal(cured.verdict, 'healthy');
    assert.deepEqual(cured.fixes, []);
  });

  it('tanh linear-out blocks: the stream grows as the recursion says', () => {
    const report = preflight(config({ depth: 12, activation: 'tanh', residual: { form: 'linear-out' } }), {
      networks: 6,
    });
    const p = report.residual!.p;
    const pTheory = report.residual!.pTheory!;
    assert.ok(p[11]! > 4 * p[0]!, `p grows: ${p[0]} -> ${p[11]}`);
    near(p[11]!, pTheory[11]!, 0.15, 'p_L');
    for (const layer of report.layers) assert.ok(layer.qTheory !== null && layer.gradNorm2Theory !== null);
    const predicted = report.residual?.theory?.gradRatio ?? NaN;
    assert.ok(
      report.gradRatio > predicted / 2 && report.gradRatio < predicted * 2,
      `${report.gradRatio} vs ${predicted}`,
    );
  });

  it('ReZero and Fixup stacks are the identity at initialisation: measured gradient ratio 1, healthy', () => {
    for (const residual of [{ scale: 'rezero' }, { form: 'linear-out', layers: 2, fixup: true }]) {
      const report = preflight(config({ depth: 10, activation: 'relu', residual }), { networks: 2 });
      assert.equal(report.verdict, 'healthy');
      near(report.gradRatio, 1, 1e-12, JSON.stringify(residual));
      near(report.residual!.theory!.gradRatio, 1, 1e-12, 'predicted');
    }
  });

  it('post-activation and batch-normalised blocks are measured without theory', () => {
    const post = preflight(config({ depth: 6, width: 32, activation: 'relu', residual: { form: 'post' } }), {
      networks: 2,
    });
    assert.equal(post.residual?.theory, null);
    assert.ok(post.layers.every((l) => l.qTheory === null && Number.isFinite(l.gradNorm2)));
    assert.match(post.theoryNote ?? '', /post-activation/);
    const batch = preflight(
      config({
        depth: 4,
        width: 16,
        activation: 'relu',
        norm: 'batch',
        residual: { form: 'pre', layers: 2 },
      }),
      { networks: 1 },
    );
    assert.ok(batch.layers.every((l) => Number.isFinite(l.gradNorm2) && l.gradNorm2 > 0));
    assert.ok(Number.isFinite(batch.jacobian.meanSquaredSingular));
  });
});
