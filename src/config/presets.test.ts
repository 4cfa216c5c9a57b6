import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from './errors.js';
import { PRESETS, findPreset, requirePreset } from './presets.js';
import { cnnGeometry, resnetGeometry } from './conv-geometry.js';
import { isSequenceTask, resolveConfig } from './resolve.js';
import { taskImage } from './schema.js';
import type { ResolvedConfig } from './types.js';

function resolved(name: string): ResolvedConfig {
  const preset = requirePreset(name);
  return resolveConfig(preset.config, { defaultName: preset.name });
}

/** Input size, output size and time steps per example, roughly, for the cost estimate. */
function taskShape(config: ResolvedConfig): { inputs: number; outputs: number; steps: number } {
  switch (config.task.name) {
    case 'mnist':
      return { inputs: 784, outputs: 10, steps: 1 };
    case 'images':
      return { inputs: 144, outputs: 4, steps: 1 };
    case 'teacher':
      return { inputs: config.task.inputs ?? 16, outputs: config.task.classes ?? 4, steps: 1 };
    case 'adding':
      return { inputs: 2, outputs: 1, steps: config.task.length ?? 50 };
    case 'copy':
      // ten symbols, the delay, then ten recall steps
      return { inputs: 10, outputs: 10, steps: (config.task.length ?? 50) + 20 };
    case 'seq-mnist':
      return config.task.mode === 'pixel'
        ? { inputs: 1, outputs: 10, steps: 784 }
        : { inputs: 28, outputs: 10, steps: 28 };
    default:
      return { inputs: 2, outputs: 2, steps: 1 };
  }
}

/** Forward multiply-adds of one example through a conv model: C_in C_out k^2 H_out W_out per conv layer. */
function convMultiplyAdds(config: ResolvedConfig): number {
  const model = config.model;
  const image = taskImage(config.task.name);
  assert.ok(image !== null, `${config.name}: a conv model on a task without images`);
  const outputs = taskShape(config).outputs;
  let total = 0;
  if (model.kind === 'cnn') {
    const geometry = cnnGeometry(model, image);
    for (const l of geometry.layers) {
      total += l.input.channels * l.output.channels * model.kernel ** 2 * l.output.height * l.output.width;
    }
    const widths = [geometry.features, ...model.head, outputs];
    total += widths.slice(1).reduce((sum, width, i) => sum + width * (widths[i] as number), 0);
  } else if (model.kind === 'resnet') {
    const { stem, stages } = resnetGeometry(model, image);
    total += image.channels * stem.channels * 9 * stem.height * stem.width;
    let channels = stem.channels;
    for (const stage of stages) {
      const map = stage.output.height * stage.output.width;
      const c = stage.output.channels;
      total += stage.blocks * model.layers * c * c * 9 * map;
      // The first layer of the stage reads the previous channels (counted above as c: an upper bound).
      if (channels !== c) total += channels * c * map;
      channels = c;
    }
    total += channels * outputs;
  }
  return total;
}

/** Multiply-adds of a whole run: forward + backward ~ 3x the forward pass's. */
function runMultiplyAdds(config: ResolvedConfig): number {
  const { inputs, outputs, steps } = taskShape(config);
  let perExample: number;
  if (config.model.kind === 'mlp') {
    const widths = [inputs, ...config.model.hidden, outputs];
    perExample = widths.slice(1).reduce((sum, width, i) => sum + width * (widths[i] as number), 0);
  } else if (config.model.kind === 'transformer') {
    const { dModel: d, ffWidth: f, layers } = config.model;
    perExample = steps * (inputs * d + layers * (4 * d * d + 2 * d * f + 2 * steps * d) + d * outputs);
  } else if (config.model.kind === 'cnn' || config.model.kind === 'resnet') {
    perExample = convMultiplyAdds(config);
  } else if (config.model.kind === 'seq2seq') {
    const { hidden: h, layers, cell, architecture } = config.model;
    const gates = architecture === 'transformer' ? 6 : { rnn: 1, gru: 3, lstm: 4 }[cell];
    // Encoder and decoder cells (or blocks, as ~6 h x h products), attention over every source step, the head.
    perExample = steps * (2 * layers * gates * h * 2 * h + 2 * steps * h + h * outputs);
  } else {
    const gates = { rnn: 1, gru: 3, lstm: 4 }[config.model.kind];
    const h = config.model.hidden;
    perExample =
      steps * (gates * h * (inputs + h) + (config.model.layers - 1) * gates * h * 2 * h) + h * outputs;
  }
  return 3 * perExample * config.train.batchSize * config.train.steps;
}

describe('PRESETS', () => {
  it('all resolve, under their own name', () => {
    assert.ok(PRESETS.length >= 14);
    for (const preset of PRESETS) {
      const config = resolveConfig(preset.config, { defaultName: preset.name });
      assert.equal(config.name, preset.name);
    }
  });

  it('have unique kebab-case names and one-line descriptions', () => {
    const names = PRESETS.map((preset) => preset.name);
    assert.equal(new Set(names).size, names.length);
    for (const preset of PRESETS) {
      assert.match(preset.name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
      assert.ok(preset.description.length > 20 && preset.description.length <= 110, preset.description);
      assert.ok(!preset.description.includes('\n'));
    }
  });

  it('include the flagship contrasts', () => {
    for (const name of [
      'deep-sigmoid',
      'deep-relu-he',
      'deep-sigmoid-batchnorm',
      'deep-sigmoid-residual',
      'deep-tanh-xavier',
      'deep-relu-xavier-30',
      'relu-normal1',
      'adding-rnn',
      'adding-rnn-short',
      'adding-lstm',
      'adding-gru',
      'copy-lstm',
      'spirals-mlp',
      'mnist-mlp',
      'post-ln-6',
      'pre-ln-6',
      'post-ln-6-warmup',
    ]) {
      assert.ok(findPreset(name) !== undefined, name);
    }
  });

  it('stay cheap: at most 3e10 multiply-adds a run (well under a minute on two cores)', () => {
    for (const preset of PRESETS) {
      const config = resolved(preset.name);
      const cost = runMultiplyAdds(config);
      assert.ok(cost <= 3e10, `${preset.name}: ${cost.toExponential(2)} multiply-adds`);
      assert.ok(config.train.steps <= 1000, preset.name);
    }
  });

  it('set up the Post-LN / Pre-LN contrast of Xiong et al. 2020 as described', () => {
    const post = resolved('post-ln-6');
    assert.ok(post.model.kind === 'transformer');
    assert.equal(post.model.layers, 6);
    assert.equal(post.model.norm, 'post');
    assert.equal(post.task.name, 'char-lm');
    assert.equal(post.optimizer.learningRate, 0.01);
    assert.equal(post.train.steps, 300);
    assert.equal(post.schedule.name, 'constant');
    const pre = resolved('pre-ln-6');
    assert.deepEqual(pre.model, { ...post.model, norm: 'pre' });
    const warm = resolved('post-ln-6-warmup');
    assert.deepEqual(warm.model, post.model);
    assert.equal(warm.schedule.name, 'warmup-cosine');
    assert.equal(warm.schedule.warmupSteps, 100);
  });

  it('set up the deep MLP contrasts as described', () => {
    const sigmoid = resolved('deep-sigmoid');
    assert.ok(sigmoid.model.kind === 'mlp');
    assert.deepEqual(sigmoid.model.hidden, new Array(20).fill(64));
    assert.equal(sigmoid.model.activation, 'sigmoid');
    assert.equal(sigmoid.model.init, 'xavier-uniform');
    assert.equal(sigmoid.optimizer.name, 'sgd');

    const fixed = resolved('deep-relu-he');
    assert.ok(fixed.model.kind === 'mlp');
    assert.deepEqual(fixed.model.hidden, sigmoid.model.hidden);
    assert.equal(fixed.model.activation, 'relu');
    assert.equal(fixed.model.init, 'he-normal');
    assert.equal(fixed.optimizer.name, 'adam');

    for (const [name, differs] of [
      ['deep-sigmoid-batchnorm', { norm: 'batch' }],
      ['deep-sigmoid-residual', { residual: { form: 'activated', layers: 1, scale: 1, fixup: false } }],
    ] as const) {
      const variant = resolved(name);
      assert.deepEqual(variant.model, { ...sigmoid.model, ...differs }, name);
      assert.deepEqual(variant.optimizer, sigmoid.optimizer, name);
    }

    const explode = resolved('relu-normal1');
    assert.ok(explode.model.kind === 'mlp');
    assert.deepEqual(explode.model.init, { normal: 1 });
    assert.equal(explode.model.activation, 'relu');
    assert.ok(explode.model.hidden.every((width) => width === 256));

    const thirty = resolved('deep-relu-xavier-30');
    assert.ok(thirty.model.kind === 'mlp');
    assert.equal(thirty.model.hidden.length, 30);
    assert.equal(thirty.model.init, 'xavier-uniform');
  });

  it('set up the adding problem the same way for every cell', () => {
    for (const [name, kind, length] of [
      ['adding-rnn', 'rnn', 50],
      ['adding-lstm', 'lstm', 50],
      ['adding-gru', 'gru', 50],
      ['adding-rnn-short', 'rnn', 10],
    ] as const) {
      const config = resolved(name);
      assert.deepEqual(config.task, { name: 'adding', length }, name);
      assert.equal(config.model.kind, kind);
      assert.equal(config.model.hidden, 16, name);
      assert.deepEqual(
        { name: config.optimizer.name, learningRate: config.optimizer.learningRate },
        { name: 'adam', learningRate: 0.01 },
      );
      assert.deepEqual(config.clip, { name: 'norm', max: 1 });
      assert.deepEqual(config.train, {
        steps: 600,
        batchSize: 32,
        bptt: 0,
        checkpointEvery: 0,
        guardPatience: 10,
      });
    }
  });

  it("resolve to configs that resolve to themselves (a run directory's config.json reruns)", () => {
    for (const preset of PRESETS) {
      const config = resolved(preset.name);
      assert.deepEqual(resolveConfig(JSON.parse(JSON.stringify(config)), { defaultName: 'other' }), config);
    }
  });

  it('give sequence tasks recurrent models', () => {
    for (const preset of PRESETS) {
      const config = resolved(preset.name);
      const sequenceKind = !['mlp', 'cnn', 'resnet'].includes(config.model.kind);
      assert.equal(isSequenceTask(config.task.name), sequenceKind, preset.name);
    }
  });

  it('are frozen', () => {
    const preset = requirePreset('deep-sigmoid');
    assert.ok(Object.isFrozen(PRESETS));
    assert.ok(Object.isFrozen(preset.config));
    assert.ok(Object.isFrozen(preset.config.model));
    assert.throws(() => {
      (preset as { name: string }).name = 'changed';
    }, TypeError);
  });
});

describe('findPreset / requirePreset', () => {
  it('finds by exact name', () => {
    assert.equal(findPreset('adding-lstm')?.name, 'adding-lstm');
    assert.equal(findPreset('Adding-LSTM'), undefined);
    assert.equal(findPreset('nope'), undefined);
  });

  it('suggests the nearest preset', () => {
    assert.throws(
      () => requirePreset('deep-sigmod'),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.path === 'preset' &&
        error.suggestion === 'deep-sigmoid' &&
        error.message.includes('did you mean "deep-sigmoid"?'),
    );
  });
});
