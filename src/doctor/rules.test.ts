/** Each rule on crafted records, positive and negative, with and without a config. */
import assert from 'node:assert/strict';
import { createTask } from '../data/index.js';
import { Rng } from '../tensor/rng.js';
import { buildModel } from '../train/build.js';
import { describe, it } from 'node:test';
import { findPreset, resolveConfig } from '../config/index.js';
import type { Config } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/types.js';
import type { MetricsRecord } from '../io/runlog.js';
import { diagnose } from './diagnose.js';
import { applyMergePatch, FINDING_CODES, verdictOf, type Finding, type FindingCode } from './findings.js';
import { healthyStepFactor, makeContext, RULES, THRESHOLDS, type DoctorInput } from './rules.js';
import { craftRecord, craftRun, healthyLayers, timeProfile } from './test-records.js';

function preset(name: string, patch: object = {}): ResolvedConfig {
  const found = findPreset(name);
  assert.ok(found, `preset ${name}`);
  return resolveConfig(applyMergePatch(found.config as Config, patch as never), { defaultName: name });
}

function run<C extends FindingCode>(code: C, input: DoctorInput): Finding | null {
  const rule = RULES[code] as (ctx: ReturnType<typeof makeContext>) => Finding | null;
  return rule(makeContext(input));
}

function only(records: MetricsRecord[], config: ResolvedConfig | null = null): Finding[] {
  return diagnose({ records, config }).findings;
}

/** Every fix patch of every finding resolves to a valid config when applied to `config`. */
function assertPatchesResolve(findings: readonly Finding[], config: ResolvedConfig): void {
  for (const f of findings) {
    for (const fix of f.fixes) {
      assert.doesNotThrow(
        () => resolveConfig(applyMergePatch(config, fix.patch), { defaultName: config.name }),
        `${f.code}: ${fix.change}`,
      );
    }
  }
}

// A healthy run learns: its loss falls (craftRecord's default), as its gradients stay within range.
const healthyRun = (): MetricsRecord[] =>
  craftRun(20, 10, () => ({ layers: healthyLayers(), activations: [{}, {}, {}, {}] }));

describe('healthyStepFactor', () => {
  it('takes the largest update ratio to at least 1e-3, by a power of ten in 10..1000', () => {
    assert.equal(healthyStepFactor(6e-6), 1000); // 166x needed: rounded up, not down to 100
    assert.equal(healthyStepFactor(2e-5), 100); // 50x
    assert.equal(healthyStepFactor(1e-4), 10); // exactly 10x
    assert.equal(healthyStepFactor(5e-4), 10); // at least 10x
    assert.equal(healthyStepFactor(1e-9), 1000); // at most 1000x
    for (const r of [3e-6, 7e-5, 2e-4]) assert.ok(r * healthyStepFactor(r) >= 1e-3 * (1 - 1e-9));
  });
});

describe('not_learning', () => {
  const flat = (update: number): MetricsRecord[] =>
    craftRun(20, 10, () => ({ layers: healthyLayers().map((l) => ({ ...l, update })), loss: 2.3 }));

  it('a loss that stays at the baseline with tiny steps: the learning rate is too small, raise it', () => {
    const config = preset('deep-relu-he', { optimizer: { name: 'sgd', learningRate: 1e-5 } });
    const f = run('not_learning', { records: flat(1e-6), config, summary: { baselineLoss: 2.3 } });
    assert.ok(f);
    assert.equal(f.causeKind, 'learning-rate');
    assert.match(f.fixes[0]?.change ?? '', /optimizer\.learningRate 0\.01 \(from 1e-5\)/);
    assert.equal(
      diagnose({ records: flat(1e-6), config, summary: { baselineLoss: 2.3 } }).verdict,
      'not-learning',
    );
  });

  it('healthy steps with plain SGD: the optimiser; with Adam: the number of steps', () => {
    const sgd = preset('deep-relu-he', { optimizer: { name: 'sgd', learningRate: 0.1 } });
    const slow = run('not_learning', { records: flat(1e-3), config: sgd });
    assert.equal(slow?.causeKind, 'optimizer');
    // Adam keeps the run's step, within 1e-3..1e-2: 0.1 becomes 0.01, 0.003 stays, 1e-4 becomes 1e-3
    assert.deepEqual(slow?.fixes[0]?.patch, { optimizer: { name: 'adam', learningRate: 0.01 } });
    for (const [lr, adamLr] of [
      [0.003, 0.003],
      [1e-4, 0.001],
    ] as const) {
      const config = preset('deep-relu-he', { optimizer: { name: 'sgd', learningRate: lr } });
      const f = run('not_learning', { records: flat(1e-3), config });
      assert.deepEqual(f?.fixes[0]?.patch, { optimizer: { name: 'adam', learningRate: adamLr } });
    }
    assert.equal(
      run('not_learning', { records: flat(1e-3), config: preset('deep-relu-he') })?.causeKind,
      'steps',
    );
  });

  it('a falling loss is learning', () => {
    assert.equal(run('not_learning', { records: healthyRun(), config: preset('deep-relu-he') }), null);
  });
});

describe('the rule table', () => {
  it('has a rule for every finding code, each producing its own code', () => {
    assert.deepEqual(Object.keys(RULES).sort(), [...FINDING_CODES].sort());
  });

  it('finds nothing in a healthy run, with or without a config', () => {
    assert.deepEqual(only(healthyRun()), []);
    assert.deepEqual(only(healthyRun(), preset('deep-relu-he')), []);
    assert.equal(diagnose({ records: healthyRun(), config: null }).verdict, 'healthy');
  });
});

describe('vanishing_gradient', () => {
  const vanishing = (): MetricsRecord[] =>
    craftRun(20, 10, () => ({
      layers: [
        { grad: 1e-13, maxAbs: 1e-14 },
        { grad: 1e-10 },
        { grad: 1e-7 },
        { grad: 1e-4 },
        { grad: 0.4 },
      ],
      activations: [{}, {}, {}, {}],
    }));

  it('fires on a first/last ratio below 1e-3 with a tiny first layer (AUTOTRAINER), critical below 1e-6', () => {
    const f = run('vanishing_gradient', { records: vanishing(), config: null });
    assert.ok(f);
    assert.equal(f.code, 'vanishing_gradient');
    assert.equal(f.severity, 'critical');
    assert.deepEqual(f.where.steps, [150, 190]);
    assert.ok(f.where.layers?.includes(0));
    assert.ok(!f.where.layers?.includes(4), 'the output layer is not a vanishing layer');
    assert.ok(
      f.evidence.some((e) => e.includes('AUTOTRAINER') && e.includes('2.5e-13')),
      f.evidence.join('\n'),
    );
    assert.ok(f.fixes.length > 0 && f.cause.length > 0, 'generic cause and fixes without a config');
  });

  it('needs both halves of the AUTOTRAINER condition: a small ratio with a large first gradient is not vanishing', () => {
    const records = craftRun(20, 10, () => ({
      layers: [{ grad: 1e-2 }, { grad: 1 }, { grad: 10 }, { grad: 50 }, { grad: 100 }],
    }));
    assert.equal(run('vanishing_gradient', { records, config: null }), null);
  });

  it('fires on the absolute magnitude alone: max |g| of the first layer below 1e-7 (SageMaker), even in a 2-layer net', () => {
    const records = craftRun(10, 10, () => ({ layers: [{ grad: 1e-8, maxAbs: 1e-9 }, { grad: 1e-8 }] }));
    const f = run('vanishing_gradient', { records, config: null });
    assert.ok(f);
    assert.equal(f.severity, 'critical');
  });

  it('judges the later part of the run: vanishing at the start only is not reported', () => {
    const records = craftRun(40, 10, (step) => ({
      layers:
        step < 200
          ? [{ grad: 1e-12 }, { grad: 1e-9 }, { grad: 1e-3 }]
          : [{ grad: 0.1 }, { grad: 0.2 }, { grad: 0.3 }],
    }));
    assert.equal(run('vanishing_gradient', { records, config: null }), null);
  });

  it('blames the sigmoid slope and prescribes relu + he-normal first for a deep sigmoid MLP', () => {
    const config = preset('deep-sigmoid');
    const findings = only(vanishing(), config);
    const f = findings[0];
    assert.ok(f && f.code === 'vanishing_gradient');
    assert.match(f.cause, /sigmoid/);
    assert.match(f.cause, /satur/);
    assert.match(f.cause, /20-layer/);
    assert.deepEqual(f.fixes[0]?.patch, { model: { activation: 'relu', init: 'he-normal' } });
    assert.ok(f.fixes.some((x) => JSON.stringify(x.patch) === JSON.stringify({ model: { norm: 'batch' } })));
    assertPatchesResolve(findings, config);
  });

  it('prescribes the variance-preserving init first for a ReLU net under Xavier', () => {
    const config = preset('deep-relu-xavier-30');
    const f = run('vanishing_gradient', { records: vanishing(), config });
    assert.ok(f);
    assert.deepEqual(f.fixes[0]?.patch, { model: { init: 'he-normal' } });
    assert.match(f.cause, /xavier-uniform/);
  });

  it('does not prescribe a norm the model already has', () => {
    const config = preset('deep-sigmoid-batchnorm');
    const f = run('vanishing_gradient', { records: vanishing(), config });
    assert.ok(f);
    assert.ok(!f.fixes.some((x) => JSON.stringify(x.patch).includes('"norm":"batch"')));
  });
});

describe('exploding_gradient', () => {
  it('fires on a first/last ratio above 70 (AUTOTRAINER), sustained: critical', () => {
    const records = craftRun(20, 10, () => ({
      layers: [{ grad: 500 }, { grad: 50 }, { grad: 5 }, { grad: 1 }],
    }));
    const f = run('exploding_gradient', { records, config: null });
    assert.ok(f);
    assert.equal(f.severity, 'critical');
    assert.ok(f.evidence.some((e) => e.includes('AUTOTRAINER')));
  });

  it('fires on an absolute global norm above 1e4 and names the overflow that followed', () => {
    const records = [
      craftRecord({ step: 1, layers: [{ grad: 3e9 }, { grad: 3e9 }, { grad: 6e9 }], loss: 1e10 }),
      ...craftRun(5, 1, () => ({
        layers: [{ grad: NaN, nonFinite: 10 }, { grad: NaN }, { grad: NaN }],
        loss: NaN,
      })).map((r, i) => ({ ...r, step: i + 2 })),
    ];
    const f = run('exploding_gradient', { records, config: preset('relu-normal1') });
    assert.ok(f);
    assert.equal(f.severity, 'critical');
    assert.ok(f.evidence.some((e) => /followed by non-finite values at step 2/.test(e)));
    assert.deepEqual(f.fixes[0]?.patch, { model: { init: 'he-normal' } }, 'the N(0,1) init is the cause');
  });

  it('a single spike 1000x the early norm is a warning; steady gradients are nothing', () => {
    const records = craftRun(20, 10, (step) => ({
      layers: [{ grad: 0.1 }, { grad: 0.1 }, { grad: step === 100 ? 500 : 0.1 }],
    }));
    const f = run('exploding_gradient', { records, config: null });
    assert.ok(f);
    assert.equal(f.severity, 'warning');
    assert.equal(run('exploding_gradient', { records: healthyRun(), config: null }), null);
  });
});

describe('tiny_updates and huge_updates', () => {
  it('tiny: every weight update/weight ratio below 1e-6 at step 1 is caught at once (biases ignored)', () => {
    const records = craftRun(3, 10, (step) => ({
      layers: Array.from({ length: 6 }, () => ({ grad: 1e-6, update: step === 1 ? 1e-7 : 1e-3 })),
    }));
    const f = run('tiny_updates', { records, config: preset('deep-relu-xavier-30') });
    assert.ok(f);
    assert.equal(f.severity, 'warning');
    assert.deepEqual(f.where.steps, [1, 1]);
    assert.deepEqual(f.fixes[0]?.patch, { model: { init: 'he-normal' } });
  });

  it('tiny: healthy gradients under a tiny SGD step blame the learning rate, tiny gradients blame the init', () => {
    // Gradients 0.07 of the weights (8): a learning rate of 1e-3 / 0.07 ~ 0.014 would give healthy steps.
    const steps = (grad: number): MetricsRecord[] =>
      craftRun(10, 10, () => ({
        layers: Array.from({ length: 4 }, () => ({ grad, update: 7e-7 })),
      }));
    const sgd = preset('deep-relu-he', { optimizer: { name: 'sgd', learningRate: 1e-5 } });
    const lr = run('tiny_updates', { records: steps(0.56), config: sgd });
    assert.ok(lr);
    assert.equal(lr.causeKind, 'learning-rate');
    assert.match(lr.cause, /learning rate of about 0\.014/);
    assert.deepEqual(lr.fixes[0]?.patch, { optimizer: { learningRate: 0.01 } });
    // Gradients 1e-8 of the weights would need a learning rate of 1e5: not the learning rate's fault.
    const xavier = preset('deep-relu-xavier-30', { optimizer: { name: 'sgd', learningRate: 1e-5 } });
    const init = run('tiny_updates', { records: steps(8e-8), config: xavier });
    assert.ok(init);
    assert.equal(init.causeKind, 'initialisation');
    assert.deepEqual(init.fixes[0]?.patch, { model: { init: 'he-normal' } });
    // Adam's step does not scale with the gradient: tiny steps there are the learning rate's, whatever the gradients.
    const adam = preset('deep-relu-he', { optimizer: { name: 'adam', learningRate: 1e-7 } });
    assert.equal(run('tiny_updates', { records: steps(8e-8), config: adam })?.causeKind, 'learning-rate');
  });

  it('tiny: sustained over the window is critical; healthy ratios are nothing', () => {
    const records = craftRun(10, 10, () => ({
      layers: [
        { grad: 1e-6, update: 1e-9 },
        { grad: 1e-6, update: 5e-7 },
      ],
    }));
    assert.equal(run('tiny_updates', { records, config: null })?.severity, 'critical');
    assert.equal(run('tiny_updates', { records: healthyRun(), config: null }), null);
  });

  it('huge: most layers moving by more than half their norm in one step is critical', () => {
    const records = craftRun(5, 10, (step) => ({
      layers: healthyLayers().map((l) => ({ ...l, update: step === 1 ? 2 : 1e-3 })),
    }));
    const f = run('huge_updates', { records, config: null });
    assert.ok(f);
    assert.equal(f.severity, 'critical');
    assert.deepEqual(f.where.steps, [1, 1]);
  });

  it('huge: weight matrices that start at zero (ratio exactly 1 after the first step, Fixup) are not huge', () => {
    const records = craftRun(5, 10, (step) => ({
      layers: healthyLayers().map((l, i) => ({ ...l, update: step === 1 && i > 0 ? 1 : 1e-3 })),
    }));
    assert.equal(run('huge_updates', { records, config: null }), null);
  });

  it('huge: one layer sustained above 0.1 is a warning; zero-initialised biases (ratio 1) are not huge updates', () => {
    const records = craftRun(10, 10, () => ({
      layers: [{ grad: 0.1 }, { grad: 0.1 }, { grad: 1, update: 0.3 }],
    }));
    const f = run('huge_updates', { records, config: null });
    assert.ok(f);
    assert.equal(f.severity, 'warning');
    assert.deepEqual(f.where.layers, [2]);
    assert.equal(
      run('huge_updates', { records: healthyRun(), config: null }),
      null,
      'crafted biases report ratio 1',
    );
  });
});

describe('non_finite', () => {
  it('ongoing to the end: critical, with the first step, the traced source and the first bad parameter', () => {
    const records = [
      craftRecord({ step: 1, layers: healthyLayers() }),
      craftRecord({ step: 10, layers: healthyLayers(), loss: 3 }),
      ...[20, 30, 40].map((step) =>
        craftRecord({
          step,
          loss: NaN,
          gradNorm: NaN,
          skipped: true,
          nonFiniteSource: 'matmul in layers.3',
          layers: [{ grad: 0.1 }, { grad: 0.1 }, { grad: NaN, nonFinite: 5 }, { grad: NaN, nonFinite: 9 }],
        }),
      ),
    ];
    const f = run('non_finite', { records, config: preset('spirals-mlp') });
    assert.ok(f);
    assert.equal(f.severity, 'critical');
    assert.deepEqual(f.where.steps, [20, 40]);
    assert.deepEqual(
      f.where.params,
      ['layers.2.weight', 'layers.2.bias', 'layers.3.weight', 'layers.3.bias'],
      'input side first',
    );
    assert.deepEqual(f.where.layers, [2, 3]);
    assert.ok(f.evidence.some((e) => e.includes('matmul in layers.3')));
    assert.ok(f.evidence.some((e) => e.includes('last finite step 10')));
  });

  it('a single non-finite step the run recovered from is a warning; a finite run is nothing', () => {
    const records = craftRun(10, 10, (step) =>
      step === 50 ? { layers: healthyLayers(), loss: Infinity, skipped: true } : { layers: healthyLayers() },
    );
    assert.equal(run('non_finite', { records, config: null })?.severity, 'warning');
    assert.equal(run('non_finite', { records: healthyRun(), config: null }), null);
  });

  it('a loss that the log never had (a TensorBoard log without one) is not a NaN', () => {
    const records = healthyRun().map((r) => ({ ...r, loss: NaN, absent: ['loss' as const] }));
    assert.equal(run('non_finite', { records, config: null }), null);
  });
});

describe('loss_divergence', () => {
  it('fires when the loss over the window is over twice its initial value', () => {
    const records = craftRun(20, 10, (step) => ({ layers: healthyLayers(), loss: 0.7 * (1 + step / 20) }));
    const f = run('loss_divergence', { records, config: null });
    assert.ok(f);
    assert.equal(f.severity, 'warning');
    assert.equal(
      run('loss_divergence', {
        records: craftRun(20, 10, (s) => ({ layers: healthyLayers(), loss: 0.7 / (1 + s / 50) })),
        config: null,
      }),
      null,
    );
  });
});

describe('poor_initialization', () => {
  const stds = (values: number[]): { std: number }[] => values.map((std) => ({ std }));

  it('a signal collapsing layer by layer at step 1 is poor initialisation (collapsing -> vanishing)', () => {
    const records = [
      craftRecord({ step: 1, layers: healthyLayers(), activations: stds([0.06, 6e-3, 6e-4, 6e-5]) }),
      ...healthyRun().slice(1),
    ];
    const f = run('poor_initialization', { records, config: preset('deep-relu-xavier-30') });
    assert.ok(f && f.code === 'poor_initialization');
    assert.equal(f.direction, 'collapsing');
    assert.equal(verdictOf([f]), 'vanishing');
    assert.deepEqual(f.fixes[0]?.patch, { model: { init: 'he-normal' } });
    assert.match(f.cause, /sigma_w\^2/);
  });

  it('a growing signal is poor initialisation too (growing -> exploding); a steady one is not', () => {
    const growing = [
      craftRecord({ step: 1, layers: healthyLayers(), activations: stds([0.4, 40, 4e3, 4e5]) }),
    ];
    const f = run('poor_initialization', { records: growing, config: null });
    assert.ok(f && f.code === 'poor_initialization');
    assert.equal(f.direction, 'growing');
    assert.equal(verdictOf([f]), 'exploding');
    const steady = [
      craftRecord({ step: 1, layers: healthyLayers(), activations: stds([0.35, 0.3, 0.4, 0.1]) }),
    ];
    assert.equal(
      run('poor_initialization', { records: steady, config: null }),
      null,
      'deep-relu-he spans 16x in variance',
    );
  });
});

describe('saturated_activation and dead_units', () => {
  it('more than half the units of a layer saturated over the window fires; 30% does not', () => {
    const records = craftRun(10, 10, () => ({
      layers: healthyLayers(),
      activations: [{ saturated: 0.8 }, { saturated: 0.6 }, {}, {}],
    }));
    const f = run('saturated_activation', { records, config: preset('deep-sigmoid') });
    assert.ok(f);
    assert.deepEqual(f.where.layers, [0, 1]);
    assert.equal(f.severity, 'critical', 'half of the layers');
    assert.equal(verdictOf([f]), 'saturated');
    const mild = craftRun(10, 10, () => ({
      layers: healthyLayers(),
      activations: [{ saturated: 0.3 }, {}, {}, {}],
    }));
    assert.equal(run('saturated_activation', { records: mild, config: null }), null);
  });

  it('dead units from 50% to 70% are information only (a healthy spirals MLP has 58%), warnings above', () => {
    const mild = craftRun(20, 10, () => ({
      layers: healthyLayers(),
      activations: [{}, { dead: 0.58 }, { dead: 0.55 }, {}],
    }));
    const f = run('dead_units', { records: mild, config: null });
    assert.equal(f?.severity, 'info');
    assert.equal(verdictOf(f ? [f] : []), 'healthy');
    const worse = craftRun(20, 10, () => ({
      layers: healthyLayers(),
      activations: [{}, { dead: 0.75 }, {}, {}],
    }));
    assert.equal(run('dead_units', { records: worse, config: null })?.severity, 'warning');
  });

  it('dead units from 50% to 70% in a run that learned nothing (flat loss, held-out loss at guessing) are a warning', () => {
    const flat = craftRun(20, 10, () => ({
      layers: healthyLayers(),
      activations: [{}, { dead: 0.6 }, {}, {}],
      loss: 1.386,
    }));
    const stalled = { records: flat, config: null, summary: { baselineLoss: 1.386, evalLoss: 1.392 } };
    const f = run('dead_units', stalled);
    assert.equal(f?.severity, 'warning');
    assert.ok(f?.evidence.some((e) => /learned nothing/.test(e) && /1\.392/.test(e) && /1\.386/.test(e)));
    // not_learning leaves the flat loss to the dead units, and the run is not called healthy
    assert.equal(run('not_learning', stalled), null);
    assert.equal(diagnose(stalled).verdict, 'dead-units');
    // the same flat training loss with a held-out loss below guessing (the run generalises): information only
    const generalises = { ...stalled, summary: { baselineLoss: 1.386, evalLoss: 1.25 } };
    assert.equal(run('dead_units', generalises)?.severity, 'info');
    assert.equal(diagnose(generalises).verdict, 'healthy');
    // no held-out loss known (a bare metrics.jsonl): the training loss alone does not promote them
    assert.equal(run('dead_units', { ...stalled, summary: { baselineLoss: 1.386 } })?.severity, 'info');
  });

  it('dead units judged on the window: dead early only is nothing; 97% dead at the top is critical', () => {
    const early = craftRun(20, 10, (step) => ({
      layers: healthyLayers(),
      activations: [{}, {}, {}, { dead: step < 100 ? 0.9 : 0.1 }],
    }));
    assert.equal(run('dead_units', { records: early, config: null }), null);
    const late = craftRun(20, 10, () => ({
      layers: healthyLayers(),
      activations: [{}, {}, { dead: 0.4 }, { dead: 0.97 }],
    }));
    const f = run('dead_units', { records: late, config: preset('deep-relu-xavier-30') });
    assert.ok(f);
    assert.equal(f.severity, 'critical');
    assert.deepEqual(f.where.layers, [3]);
    assert.equal(verdictOf([f]), 'dead-units');
  });
});

describe('vanishing_through_time and exploding_through_time', () => {
  // Shapes measured on adding length 50: the RNN ends near 1e-20, the LSTM starts near 1e-3 and holds 0.03-0.3 once solved.
  const rnnLike = (): MetricsRecord[] =>
    craftRun(61, 10, (_s, i) => ({
      layers: [{ grad: 0.1 }, { grad: 0.2 }],
      timeGrad: timeProfile(50, i === 0 ? 0.82 : 0.4),
    }));
  const lstmLike = (): MetricsRecord[] =>
    craftRun(61, 10, (step) => ({
      layers: [{ grad: 0.1 }, { grad: 0.2 }],
      timeGrad: timeProfile(50, step < 350 ? 0.77 : 0.96),
    }));

  it('a vanilla RNN whose gradient stays vanished through time is critical, and a GRU then an LSTM are prescribed', () => {
    const config = preset('adding-rnn');
    const findings = only(rnnLike(), config);
    const f = findings.find((x) => x.code === 'vanishing_through_time');
    assert.ok(f);
    assert.equal(f.severity, 'critical');
    assert.deepEqual(f.fixes[0]?.patch, { model: { kind: 'gru', activation: 'tanh', forgetBias: 0 } });
    assert.deepEqual(f.fixes[1]?.patch, { model: { kind: 'lstm', activation: 'tanh', forgetBias: 1 } });
    assert.ok(f.where.timeSteps && f.where.timeSteps[0] === 1);
    assert.ok(f.evidence.some((e) => e.includes('at step 1 the ratio was')));
    assertPatchesResolve(findings, config);
    assert.equal(diagnose({ records: rnnLike(), config }).verdict, 'vanishing');
  });

  it('a plain encoder-decoder whose encoder gradient vanishes is prescribed attention, then gated cells', () => {
    const config = preset('seq2seq-reverse-plain', { model: { cell: 'rnn' } });
    const findings = only(rnnLike(), config);
    const f = findings.find((x) => x.code === 'vanishing_through_time');
    assert.ok(f);
    assert.match(f.cause, /RNN encoder-decoder \(hidden 32, 1 layer each, the encoder's final state only/);
    assert.deepEqual(f.fixes[0]?.patch, { model: { attention: 'additive' } });
    assert.deepEqual(f.fixes[1]?.patch, { model: { cell: 'gru' } });
    assertPatchesResolve(findings, config);
  });

  it('an LSTM that learned to hold its gradient is not vanishing, although it started near 1e-3 or below', () => {
    const records = lstmLike();
    assert.ok((records[0]?.timeGrad?.[0] ?? 1) / 0.2 < 1e-3, 'starts vanished');
    assert.equal(run('vanishing_through_time', { records, config: preset('adding-lstm') }), null);
    assert.equal(diagnose({ records, config: preset('adding-lstm') }).verdict, 'healthy');
  });

  it('online, in the first tenth of the planned steps, a vanishing time gradient is only information', () => {
    const config = preset('adding-lstm');
    const records = lstmLike().slice(0, 3);
    const f = run('vanishing_through_time', { records, config, mode: 'online' });
    assert.ok(f);
    assert.equal(f.severity, 'info');
    assert.equal(verdictOf([f]), 'healthy');
  });

  it('a gradient growing back through time beyond 70x explodes; with overflow after it, critical', () => {
    const records = [
      craftRecord({ step: 1, layers: [{ grad: 1e3 }, { grad: 1 }], timeGrad: timeProfile(50, 1.2) }),
      craftRecord({ step: 2, layers: [{ grad: NaN }, { grad: NaN }], loss: NaN, skipped: true }),
    ];
    const config = preset('adding-rnn', {
      model: { activation: 'relu', recurrentInit: { gain: 1.5, base: 'orthogonal' } },
      clip: { name: 'none', max: null },
    });
    const f = run('exploding_through_time', { records, config });
    assert.ok(f);
    assert.equal(f.severity, 'critical');
    assert.ok(f.fixes.some((x) => x.change.startsWith('clip.name "norm"')));
    assert.equal(run('exploding_through_time', { records: rnnLike(), config: null }), null);
  });
});

describe('clipping_inactive and clipping_always_on', () => {
  it('a configured clip that never engaged is information, with its thresholds from the records', () => {
    const config = preset('adding-lstm');
    const f = run('clipping_inactive', { records: healthyRun(), config });
    assert.ok(f);
    assert.equal(f.severity, 'info');
    assert.equal(verdictOf([f]), 'healthy');
    assert.equal(
      run('clipping_inactive', { records: healthyRun(), config: preset('deep-relu-he') }),
      null,
      'no clip configured',
    );
    assert.equal(
      run('clipping_inactive', { records: healthyRun(), config, summary: { clippedSteps: 4 } }),
      null,
      'clipped between logged steps',
    );
    const once = healthyRun().map((r, i) => ({ ...r, clipped: i === 7 }));
    assert.equal(run('clipping_inactive', { records: once, config }), null);
  });

  it('clipping at 90% of the logged steps or more is a warning; at half of them it is fine', () => {
    const always = healthyRun().map((r) => ({ ...r, clipped: true, gradNorm: 5, gradNormClipped: 1 }));
    const f = run('clipping_always_on', { records: always, config: preset('adding-lstm') });
    assert.ok(f);
    assert.equal(f.severity, 'warning');
    assert.ok(f.fixes[0]?.change.includes('clip.max 7.5'), f.fixes[0]?.change);
    const half = healthyRun().map((r, i) => ({ ...r, clipped: i % 2 === 0 }));
    assert.equal(run('clipping_always_on', { records: half, config: null }), null);
  });
});

describe('thresholds', () => {
  it('keeps the published sources', () => {
    assert.equal(THRESHOLDS.vanishingRatio, 1e-3);
    assert.equal(THRESHOLDS.vanishingFirstNorm, 1e-4);
    assert.equal(THRESHOLDS.explodingRatio, 70);
    assert.equal(THRESHOLDS.vanishingMeanAbs, 1e-7);
    assert.equal(THRESHOLDS.updateRatioFrozen, 1e-8);
    assert.equal(THRESHOLDS.unitFraction, 0.5);
  });
});

describe('conv and residual nets', () => {
  // Dead channels deep in a 25-layer conv stack, at every logged step.
  const deadDeep = (): MetricsRecord[] =>
    craftRun(12, 10, () => ({
      layers: healthyLayers(),
      activations: [{ dead: 0.1 }, { dead: 0.5 }, { dead: 0.9 }, { dead: 0.92 }],
    }));

  it('dead units in an unnormalised plain conv net: the missing norm, batch norm then shortcuts first', () => {
    const f = run('dead_units', { records: deadDeep(), config: preset('plain-cnn-deep') });
    assert.ok(f);
    assert.equal(f.causeKind, 'normalisation');
    assert.deepEqual(
      f.fixes.slice(0, 2).map((x) => x.patch),
      [{ model: { norm: 'batch' } }, { model: { shortcut: true } }],
    );
    // the same symptom in an MLP keeps the rectifier's own fixes
    const mlp = run('dead_units', { records: deadDeep(), config: preset('deep-relu-he') });
    assert.notEqual(mlp?.causeKind, 'normalisation');
    // a ResNet with batch norm and shortcuts is offered neither
    const bn = run('dead_units', { records: deadDeep(), config: preset('resnet-deep') });
    assert.ok(!bn?.fixes.some((x) => 'norm' in ((x.patch['model'] as object | undefined) ?? {})));
  });

  it("a BN-free ResNet's stream that grows far beyond linearly at step 1 names the missing normalisation", () => {
    // mean squares of the stream doubling per block (x2048 over 12 blocks, a normalised stream grows ~13x)
    const residual = Array.from({ length: 12 }, (_, i) => ({
      name: `layers.${i + 1}`,
      layer: i + 1,
      shortcut: 0.25 * 2 ** i,
      branch: 0.25 * 2 ** i,
      ratio: 1,
    }));
    const records = craftRun(8, 1, (step) => ({
      layers: healthyLayers().map((l) => ({ ...l, ...(step >= 4 ? { grad: NaN, nonFinite: 10 } : {}) })),
      ...(step >= 4 ? { loss: NaN, skipped: true } : {}),
    }));
    (records[0] as MetricsRecord).residual = residual;
    const nobn = diagnose({ records, config: preset('resnet-nobn') });
    const lead = nobn.findings.find((x) => x.severity !== 'info');
    assert.equal(lead?.causeKind, 'normalisation');
    assert.deepEqual(
      lead?.fixes.slice(0, 3).map((x) => x.patch),
      [{ model: { norm: 'batch' } }, { model: { fixup: true } }, { model: { scale: 'rezero' } }],
    );
    assert.match(lead?.cause ?? '', /residual stream's mean square grows from 0\.25 at block 1 to 512/);
    // Fixup already there: the stream is not the cause the doctor names
    const fixup = diagnose({ records, config: preset('resnet-fixup') });
    assert.ok(!fixup.findings.some((x) => /residual stream's mean square/.test(x.cause)));
    // linear growth (what batch norm gives) is no cause either
    const linear = residual.map((b, i) => ({ ...b, shortcut: 0.25 * (i + 1) }));
    (records[0] as MetricsRecord).residual = linear;
    const calm = diagnose({ records, config: preset('resnet-nobn') });
    assert.ok(!calm.findings.some((x) => /residual stream's mean square/.test(x.cause)));
  });
});

describe('Post-LN transformers', () => {
  it('a vanishing Post-LN stack is offered Pre-LN, warm-up, then DeepNorm; a Pre-LN or DeepNorm one no DeepNorm', () => {
    const records = craftRun(10, 10, () => ({
      layers: [{ grad: 1e-9 }, { grad: 1e-7 }, { grad: 1e-5 }, { grad: 1e-3 }, { grad: 0.1 }],
    }));
    const post = run('vanishing_gradient', { records, config: preset('post-ln-6') });
    assert.deepEqual(
      post?.fixes.slice(0, 3).map((f) => f.change.split(' ')[0]),
      ['model.norm', 'schedule.name', 'model.deepNorm'],
    );
    for (const config of [preset('pre-ln-6'), preset('post-ln-6', { model: { deepNorm: true } })]) {
      const f = run('vanishing_gradient', { records, config });
      assert.ok(!f?.fixes.some((x) => x.change.startsWith('model.deepNorm')), JSON.stringify(f?.fixes));
    }
  });

  it('model.deepNorm builds the stack with DeepNorm scales (Wang et al. 2022)', () => {
    const norms = (deepNorm: boolean): Map<string, number> => {
      const config = preset('post-ln-6', { model: { deepNorm } });
      const model = buildModel(config.model, createTask(config.task, config.seed), new Rng(1));
      return new Map(
        model
          .namedParameters()
          .map(({ name, tensor }) => [
            name,
            Math.sqrt(Array.from(tensor.data).reduce((a, v) => a + v * v, 0)),
          ]),
      );
    };
    const plain = norms(false);
    const deep = norms(true);
    const beta = (8 * 6) ** -0.25;
    const ff = [...plain.keys()].filter((name) => /\.feedForward\..*weight$/.test(name));
    assert.ok(ff.length > 0, [...plain.keys()].join(', '));
    for (const name of ff)
      assert.ok(
        Math.abs((deep.get(name) as number) / (plain.get(name) as number) - beta) < 1e-3,
        `${name}: ${deep.get(name)} vs ${plain.get(name)} x ${beta}`,
      );
  });
});
