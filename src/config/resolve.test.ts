import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTIVATIONS } from '../kernels/activations.js';
import { ConfigError, type ConfigErrorCode } from './errors.js';
import { OPTIMIZER_NAMES, resolveConfig, type ResolveOptions } from './resolve.js';
import type { ResolvedConfig } from './types.js';

const resolve = (raw: unknown, overrides?: ResolveOptions['overrides']): ResolvedConfig =>
  resolveConfig(raw, overrides === undefined ? { defaultName: 'test' } : { defaultName: 'test', overrides });

interface Expected {
  code?: ConfigErrorCode;
  path: string;
  suggestion?: string;
  /** a fragment the message must contain */
  says?: string;
}

function rejects(raw: unknown, expected: Expected, overrides?: ResolveOptions['overrides']): ConfigError {
  let caught: unknown;
  try {
    resolve(raw, overrides);
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof ConfigError,
    `expected a ConfigError for ${JSON.stringify(raw)}, got ${String(caught)}`,
  );
  assert.equal(caught.path, expected.path, caught.message);
  if (expected.code !== undefined) assert.equal(caught.code, expected.code, caught.message);
  if (expected.suggestion !== undefined) assert.equal(caught.suggestion, expected.suggestion, caught.message);
  if (expected.says !== undefined) assert.ok(caught.message.includes(expected.says), caught.message);
  assert.ok(
    caught.message.startsWith(`${expected.path === '' ? 'config' : expected.path}: `),
    caught.message,
  );
  assert.ok(caught.message.includes('expected '), caught.message);
  return caught;
}

describe('resolveConfig defaults', () => {
  it('fills every field of an empty config', () => {
    assert.deepEqual(resolve({}), {
      name: 'test',
      seed: 0,
      task: { name: 'spirals', size: 2000 },
      model: {
        kind: 'mlp',
        hidden: [64, 64, 64, 64],
        activation: 'relu',
        init: 'he-normal',
        bias: 0,
        norm: 'none',
        residual: false,
        dropout: 0,
      },
      optimizer: { name: 'sgd', learningRate: 0.1, weightDecay: 0 },
      schedule: { name: 'constant' },
      clip: { name: 'none' },
      guard: 'skip',
      threads: 'auto',
      train: { steps: 1000, batchSize: 64, bptt: 0, checkpointEvery: 0, guardPatience: 10 },
      monitor: { every: 10, timesteps: true, histograms: 5 },
    });
  });

  it('keeps a given name and seed', () => {
    const config = resolve({ name: 'mine', seed: 7 });
    assert.equal(config.name, 'mine');
    assert.equal(config.seed, 7);
  });

  it('fills the defaults of a recurrent model, following the task', () => {
    const config = resolve({ task: { name: 'adding' } });
    assert.deepEqual(config.task, { name: 'adding', length: 50 });
    assert.deepEqual(config.model, {
      kind: 'lstm',
      hidden: 64,
      layers: 1,
      activation: 'tanh',
      init: 'xavier-uniform',
      recurrentInit: 'orthogonal',
      bias: 0,
      forgetBias: 1,
    });
    const rnn = resolve({ task: 'copy', model: { kind: 'rnn' } });
    assert.deepEqual(rnn.task, { name: 'copy', length: 50 });
    assert.equal(rnn.model.kind, 'rnn');
    assert.equal(rnn.model.activation, 'tanh');
    assert.equal(rnn.model.forgetBias, 0);
  });

  it('fills task fields only where they apply', () => {
    assert.deepEqual(resolve({ task: { name: 'teacher' } }).task, {
      name: 'teacher',
      inputs: 32,
      classes: 10,
      size: 10000,
    });
    assert.deepEqual(resolve({ task: { name: 'teacher', classes: 3 } }).task, {
      name: 'teacher',
      inputs: 32,
      classes: 3,
      size: 10000,
    });
    assert.deepEqual(resolve({ task: { name: 'spirals', size: 500 } }).task, { name: 'spirals', size: 500 });
    assert.deepEqual(resolve({ task: 'copy' }).task, { name: 'copy', length: 50 });
    assert.deepEqual(resolve({ task: { name: 'seq-mnist' } }).task, { name: 'seq-mnist', mode: 'row' });
    assert.deepEqual(resolve({ task: 'mnist' }).task, { name: 'mnist' });
    assert.deepEqual(resolve({ task: { name: 'xor' } }).task, { name: 'xor' });
  });

  it('picks the variance-preserving init for the activation', () => {
    const initFor = (activation: string): unknown => {
      const model = resolve({ model: { activation } }).model;
      return model.init;
    };
    assert.equal(initFor('relu'), 'he-normal');
    assert.equal(initFor('leaky-relu'), 'he-normal');
    assert.equal(initFor('elu'), 'he-normal');
    assert.equal(initFor('selu'), 'lecun-normal');
    assert.equal(initFor('sigmoid'), 'xavier-uniform');
    assert.equal(initFor('tanh'), 'xavier-uniform');
    assert.equal(initFor('linear'), 'xavier-uniform');
    for (const activation of ACTIVATIONS) assert.equal(typeof initFor(activation), 'string');
  });

  it('fills each optimiser with its own options and PyTorch defaults', () => {
    const expected = {
      sgd: { name: 'sgd', learningRate: 0.1, weightDecay: 0 },
      momentum: { name: 'momentum', learningRate: 0.01, momentum: 0.9, weightDecay: 0 },
      nesterov: { name: 'nesterov', learningRate: 0.01, momentum: 0.9, weightDecay: 0 },
      adagrad: { name: 'adagrad', learningRate: 0.01, eps: 1e-10, weightDecay: 0 },
      rmsprop: { name: 'rmsprop', learningRate: 0.01, decay: 0.99, eps: 1e-8, weightDecay: 0 },
      adam: { name: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
      adamw: { name: 'adamw', learningRate: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
    };
    for (const name of OPTIMIZER_NAMES) {
      assert.deepEqual(resolve({ optimizer: { name } }).optimizer, expected[name]);
      assert.deepEqual(resolve({ optimizer: name }).optimizer, expected[name]);
    }
    assert.deepEqual(resolve({ optimizer: { name: 'adam', learningRate: 0.01, beta2: 0.99 } }).optimizer, {
      name: 'adam',
      learningRate: 0.01,
      beta1: 0.9,
      beta2: 0.99,
      eps: 1e-8,
      weightDecay: 0,
    });
    assert.deepEqual(resolve({ optimizer: { learningRate: 0.5 } }).optimizer, {
      name: 'sgd',
      learningRate: 0.5,
      weightDecay: 0,
    });
  });

  it('fills schedule defaults from the number of steps', () => {
    const schedule = (raw: unknown, steps = 900): unknown =>
      resolve({ schedule: raw, train: { steps } }).schedule;
    assert.deepEqual(schedule('constant'), { name: 'constant' });
    assert.deepEqual(schedule('step'), { name: 'step', stepSize: 300, gamma: 0.1 });
    assert.deepEqual(schedule({ name: 'step', stepSize: 50 }), { name: 'step', stepSize: 50, gamma: 0.1 });
    assert.deepEqual(schedule('cosine'), { name: 'cosine', minFactor: 0 });
    assert.deepEqual(schedule('warmup-cosine'), { name: 'warmup-cosine', warmupSteps: 90, minFactor: 0 });
    assert.deepEqual(schedule('plateau'), { name: 'plateau', factor: 0.1, patience: 10 });
    const exponential = schedule('exponential') as { name: string; gamma: number };
    assert.equal(exponential.name, 'exponential');
    assert.ok(Math.abs(exponential.gamma ** 900 - 0.01) < 1e-4, String(exponential.gamma));
  });

  it('fills clipping defaults', () => {
    const clip = (raw: unknown): unknown => resolve({ clip: raw }).clip;
    assert.deepEqual(clip('none'), { name: 'none' });
    assert.deepEqual(clip({ name: 'norm', max: 1 }), { name: 'norm', max: 1 });
    assert.deepEqual(clip({ name: 'value', max: 0.5 }), { name: 'value', max: 0.5 });
    assert.deepEqual(clip({ name: 'param-norm', max: 2 }), { name: 'param-norm', max: 2 });
    assert.deepEqual(clip('agc'), { name: 'agc', factor: 0.01, eps: 1e-3 });
    assert.deepEqual(clip('autoclip'), { name: 'autoclip', percentile: 10 });
  });

  it('resolves its own output to itself, also through JSON', () => {
    const raws: unknown[] = [
      {},
      { task: 'adding', model: { kind: 'gru', hidden: 8 }, schedule: 'warmup-cosine', clip: 'agc' },
      {
        task: 'copy',
        model: { kind: 'rnn', activation: 'relu', recurrentInit: 'identity' },
        train: { bptt: 5 },
      },
      {
        task: 'teacher',
        model: { hidden: [8, 4], init: { gain: 2, base: 'lecun-normal' }, bias: { normal: 0.1 } },
      },
      { optimizer: 'rmsprop', schedule: 'exponential', guard: 'rollback' },
    ];
    for (const raw of raws) {
      const once = resolve(raw);
      assert.deepEqual(resolve(once), once);
      assert.deepEqual(resolve(JSON.parse(JSON.stringify(once))), once);
    }
  });

  it('neither changes nor shares the input', () => {
    const raw = { model: { hidden: [4, 4] }, train: { steps: 5 } };
    const copy = JSON.parse(JSON.stringify(raw)) as unknown;
    const config = resolve(raw, { steps: 9 });
    assert.deepEqual(raw, copy);
    assert.ok(config.model.kind === 'mlp');
    config.model.hidden.push(1);
    assert.deepEqual(raw.model.hidden, [4, 4]);
  });
});

describe('resolveConfig MLP shape', () => {
  const hidden = (model: unknown): unknown => {
    const resolved = resolve({ model }).model;
    return resolved.kind === 'mlp' ? resolved.hidden : undefined;
  };

  it('turns depth x width into hidden', () => {
    assert.deepEqual(hidden({ depth: 3, width: 5 }), [5, 5, 5]);
    assert.deepEqual(hidden({ depth: 2 }), [64, 64]);
    assert.deepEqual(hidden({ width: 8 }), [8, 8, 8, 8]);
    assert.deepEqual(hidden({ hidden: [3, 2, 1] }), [3, 2, 1]);
    const model = resolve({ model: { depth: 2, width: 3 } }).model;
    assert.ok(!('depth' in model) && !('width' in model));
  });

  it('accepts hidden with depth and width only when they agree', () => {
    assert.deepEqual(hidden({ hidden: [4, 4], depth: 2, width: 4 }), [4, 4]);
    assert.deepEqual(hidden({ hidden: [4, 4], width: 4 }), [4, 4]);
    rejects(
      { model: { hidden: [4, 4], depth: 3 } },
      { code: 'conflict', path: 'model.hidden', says: 'depth 3' },
    );
    rejects(
      { model: { hidden: [4, 5], width: 4 } },
      { code: 'conflict', path: 'model.hidden', says: 'width 4' },
    );
  });

  it('rejects malformed widths', () => {
    rejects({ model: { hidden: [] } }, { path: 'model.hidden' });
    rejects({ model: { hidden: 64 } }, { path: 'model.hidden', says: '"depth" and "width"' });
    rejects({ model: { hidden: [64, 0] } }, { path: 'model.hidden.1' });
    rejects({ model: { hidden: [64, 1.5] } }, { path: 'model.hidden.1' });
    rejects({ model: { depth: 0 } }, { path: 'model.depth' });
    rejects({ model: { depth: 1e6 } }, { path: 'model.depth' });
    rejects({ model: { width: -1 } }, { path: 'model.width' });
  });

  it('needs equal widths for residual connections', () => {
    assert.equal(resolve({ model: { hidden: [8, 8], residual: true } }).model.kind, 'mlp');
    rejects({ model: { hidden: [8, 4], residual: true } }, { code: 'conflict', path: 'model.residual' });
  });

  it('reads every init form', () => {
    const init = (value: unknown): unknown => resolve({ model: { init: value } }).model.init;
    assert.deepEqual(init({ normal: 1 }), { normal: 1 });
    assert.deepEqual(init({ uniform: 0.1 }), { uniform: 0.1 });
    assert.deepEqual(init({ gain: 1.5, base: 'orthogonal' }), { gain: 1.5, base: 'orthogonal' });
    assert.equal(init('zeros'), 'zeros');
    rejects({ model: { init: { normal: 0 } } }, { path: 'model.init.normal' });
    rejects({ model: { init: { uniform: -1 } } }, { path: 'model.init.uniform' });
    rejects({ model: { init: { gain: 0, base: 'he-normal' } } }, { path: 'model.init.gain' });
    rejects({ model: { init: { gain: 2 } } }, { code: 'missing', path: 'model.init.base' });
    rejects({ model: { init: { base: 'he-normal' } } }, { code: 'missing', path: 'model.init.gain' });
    rejects({ model: { init: { gain: 2, base: 'zeros' } } }, { path: 'model.init.base' });
    rejects({ model: { init: { normal: 1, uniform: 1 } } }, { path: 'model.init', says: 'exactly one' });
    rejects({ model: { init: 3 } }, { path: 'model.init' });
  });

  it('reads both bias forms', () => {
    assert.equal(resolve({ model: { bias: -0.5 } }).model.bias, -0.5);
    assert.deepEqual(resolve({ model: { bias: { normal: 0.1 } } }).model.bias, { normal: 0.1 });
    rejects({ model: { bias: { normal: -1 } } }, { path: 'model.bias.normal' });
    rejects({ model: { bias: {} } }, { path: 'model.bias' });
    rejects({ model: { bias: 'zero' } }, { path: 'model.bias' });
  });

  it('bounds dropout to [0, 1)', () => {
    assert.equal(resolve({ model: { dropout: 0.5 } }).model.kind === 'mlp' && 0.5, 0.5);
    rejects({ model: { dropout: 1 } }, { path: 'model.dropout', says: '[0, 1)' });
    rejects({ model: { dropout: -0.1 } }, { path: 'model.dropout' });
  });
});

describe('resolveConfig enum spelling', () => {
  const cases: [raw: unknown, path: string, suggestion: string][] = [
    [{ task: { name: 'spirls' } }, 'task.name', 'spirals'],
    [{ task: 'teachr' }, 'task.name', 'teacher'],
    [{ task: { name: 'seq-mnist', mode: 'rows' } }, 'task.mode', 'row'],
    [{ model: { kind: 'mpl' } }, 'model.kind', 'mlp'],
    [{ model: { activation: 'sigmod' } }, 'model.activation', 'sigmoid'],
    [{ model: { activation: 'tahn' } }, 'model.activation', 'tanh'],
    [{ model: { activation: 'leaky_relu' } }, 'model.activation', 'leaky-relu'],
    [{ model: { init: 'he_normal' } }, 'model.init', 'he-normal'],
    [{ model: { init: 'glorot-uniform' } }, 'model.init', 'xavier-uniform'],
    [{ model: { init: 'orthogonl' } }, 'model.init', 'orthogonal'],
    [{ model: { init: { gain: 2, base: 'lecun_normal' } } }, 'model.init.base', 'lecun-normal'],
    [{ model: { norm: 'batchnorm' } }, 'model.norm', 'batch'],
    [{ model: { norm: 'layr' } }, 'model.norm', 'layer'],
    [{ task: 'adding', model: { kind: 'lstn' } }, 'model.kind', 'lstm'],
    [{ task: 'adding', model: { kind: 'rnn', activation: 'rleu' } }, 'model.activation', 'relu'],
    [{ task: 'adding', model: { recurrentInit: 'identiy' } }, 'model.recurrentInit', 'identity'],
    [{ optimizer: { name: 'adma' } }, 'optimizer.name', 'adam'],
    [{ optimizer: 'nesterow' }, 'optimizer.name', 'nesterov'],
    [{ optimizer: 'rmsprob' }, 'optimizer.name', 'rmsprop'],
    [{ schedule: { name: 'cosin' } }, 'schedule.name', 'cosine'],
    [{ schedule: 'warmup_cosine' }, 'schedule.name', 'warmup-cosine'],
    [{ schedule: 'reduce-on-plateau' }, 'schedule.name', 'plateau'],
    [{ clip: { name: 'nrom', max: 1 } }, 'clip.name', 'norm'],
    [{ clip: 'autoclipp' }, 'clip.name', 'autoclip'],
    [{ guard: 'skp' }, 'guard', 'skip'],
    [{ guard: 'rolback' }, 'guard', 'rollback'],
  ];

  for (const [raw, path, suggestion] of cases) {
    it(`${path}: ${JSON.stringify(raw)} suggests "${suggestion}"`, () => {
      const error = rejects(raw, { code: 'invalid_value', path, suggestion });
      assert.ok(error.message.includes(`did you mean "${suggestion}"?`), error.message);
      assert.ok(error.message.includes('one of '), error.message);
    });
  }

  it('lists what is accepted when nothing is close', () => {
    const error = rejects({ guard: 'banana' }, { path: 'guard' });
    assert.equal(error.suggestion, undefined);
    assert.equal(error.message, 'guard: "banana" is not accepted; expected one of off|skip|rollback|stop');
  });

  it('rejects names of the wrong type', () => {
    rejects({ guard: true }, { path: 'guard' });
    rejects({ model: { activation: 3 } }, { path: 'model.activation' });
    rejects({ optimizer: 5 }, { path: 'optimizer' });
    rejects({ task: ['spirals'] }, { path: 'task' });
  });
});

describe('resolveConfig unknown keys', () => {
  const cases: [raw: unknown, path: string, suggestion: string | undefined][] = [
    [{ seeed: 1 }, 'seeed', 'seed'],
    [{ optimiser: {} }, 'optimiser', 'optimizer'],
    [{ banana: 1 }, 'banana', undefined],
    [{ task: { name: 'teacher', clases: 3 } }, 'task.clases', 'classes'],
    [{ model: { actvation: 'relu' } }, 'model.actvation', 'activation'],
    [{ model: { residul: true } }, 'model.residual'.replace('residual', 'residul'), 'residual'],
    [{ task: 'adding', model: { kind: 'lstm', forget_bias: 1 } }, 'model.forget_bias', 'forgetBias'],
    [{ task: 'adding', model: { kind: 'lstm', hiddenSize: 3 } }, 'model.hiddenSize', 'hidden'],
    [{ model: { init: { normall: 1 } } }, 'model.init.normall', 'normal'],
    [{ model: { bias: { std: 1 } } }, 'model.bias.std', undefined],
    [{ optimizer: { name: 'adam', lr: 0.1 } }, 'optimizer.lr', 'learningRate'],
    [{ optimizer: { name: 'adam', learning_rate: 0.1 } }, 'optimizer.learning_rate', 'learningRate'],
    [{ optimizer: { name: 'adam', beta: 0.9 } }, 'optimizer.beta', 'beta1'],
    [{ schedule: { name: 'step', step_size: 10 } }, 'schedule.step_size', 'stepSize'],
    [{ clip: { name: 'norm', maxNorm: 1 } }, 'clip.maxNorm', 'max'],
    [{ train: { epochs: 3 } }, 'train.epochs', 'steps'],
    [{ train: { batch_size: 3 } }, 'train.batch_size', 'batchSize'],
    [{ monitor: { evry: 3 } }, 'monitor.evry', 'every'],
  ];

  for (const [raw, path, suggestion] of cases) {
    it(`${path} is unknown${suggestion === undefined ? '' : `; did you mean "${suggestion}"`}`, () => {
      const error = rejects(raw, { code: 'unknown_key', path });
      assert.equal(error.suggestion, suggestion, error.message);
      const key = path.split('.').pop() ?? '';
      assert.equal(error.value, key);
      assert.ok(error.message.includes(`unknown key "${key}"`), error.message);
    });
  }
});

describe('resolveConfig keys of another kind', () => {
  const cases: [raw: unknown, path: string, says: string][] = [
    [{ model: { forgetBias: 1 } }, 'model.forgetBias', 'lstm'],
    [{ model: { forgetBias: 0 } }, 'model.forgetBias', 'lstm'],
    [{ model: { layers: 2 } }, 'model.layers', 'depth'],
    [{ model: { recurrentInit: 'orthogonal' } }, 'model.recurrentInit', 'recurrent'],
    [{ task: 'adding', model: { kind: 'lstm', depth: 3 } }, 'model.depth', 'kind mlp'],
    [{ task: 'adding', model: { kind: 'gru', width: 3 } }, 'model.width', 'kind mlp'],
    [{ task: 'adding', model: { kind: 'rnn', norm: 'batch' } }, 'model.norm', 'kind mlp'],
    [{ task: 'adding', model: { kind: 'rnn', dropout: 0.1 } }, 'model.dropout', 'kind mlp'],
    [{ task: 'adding', model: { kind: 'rnn', residual: true } }, 'model.residual', 'kind mlp'],
    [{ task: 'adding', model: { kind: 'gru', forgetBias: 1 } }, 'model.forgetBias', 'lstm'],
    [{ task: 'adding', model: { kind: 'lstm', activation: 'relu' } }, 'model.activation', 'rnn'],
    [{ task: 'adding', model: { kind: 'gru', activation: 'sigmoid' } }, 'model.activation', 'rnn'],
    [{ optimizer: { name: 'sgd', beta1: 0.9 } }, 'optimizer.beta1', 'adam|adamw'],
    [{ optimizer: { name: 'adam', momentum: 0.9 } }, 'optimizer.momentum', 'momentum|nesterov'],
    [{ optimizer: { name: 'adam', decay: 0.9 } }, 'optimizer.decay', 'rmsprop'],
    [{ optimizer: { name: 'momentum', eps: 1e-8 } }, 'optimizer.eps', 'adagrad|rmsprop|adam|adamw'],
    [{ schedule: { name: 'cosine', gamma: 0.5 } }, 'schedule.gamma', 'step|exponential'],
    [{ schedule: { name: 'constant', warmupSteps: 5 } }, 'schedule.warmupSteps', 'warmup-cosine'],
    [{ schedule: { stepSize: 5 } }, 'schedule.stepSize', 'step'],
    [{ clip: { name: 'agc', max: 1 } }, 'clip.max', 'value|norm|param-norm'],
    [{ clip: { name: 'norm', max: 1, factor: 0.1 } }, 'clip.factor', 'agc'],
    [{ task: { name: 'spirals', length: 10 } }, 'task.length', 'adding|copy'],
    [{ task: { name: 'adding', inputs: 10 } }, 'task.inputs', 'teacher'],
    [{ task: { name: 'xor', size: 100 } }, 'task.size', 'spirals|teacher'],
    [{ task: { name: 'copy', mode: 'row' } }, 'task.mode', 'seq-mnist'],
    [{ train: { bptt: 5 } }, 'train.bptt', 'recurrent'],
  ];

  for (const [raw, path, says] of cases) {
    it(`${path} is rejected in ${JSON.stringify(raw)}`, () => {
      rejects(raw, { code: 'not_applicable', path, says });
    });
  }

  it('accepts the resolved values of recurrent-only keys on the other recurrent kinds', () => {
    const gru = resolve({ task: 'adding', model: { kind: 'gru', activation: 'tanh', forgetBias: 0 } });
    assert.equal(gru.model.kind, 'gru');
    assert.equal(resolve({ train: { bptt: 0 } }).train.bptt, 0);
  });

  it('pairs sequence tasks with recurrent models and the others with MLPs', () => {
    rejects(
      { task: 'adding', model: { kind: 'mlp' } },
      { code: 'conflict', path: 'model.kind', says: 'rnn|lstm|gru' },
    );
    rejects(
      { task: { name: 'seq-mnist' }, model: { kind: 'mlp' } },
      { code: 'conflict', path: 'model.kind' },
    );
    rejects(
      { task: 'spirals', model: { kind: 'lstm' } },
      { code: 'conflict', path: 'model.kind', says: '"mlp"' },
    );
    rejects({ model: { kind: 'gru' } }, { code: 'conflict', path: 'model.kind' });
    assert.equal(resolve({ task: 'seq-mnist', model: { kind: 'gru' } }).model.kind, 'gru');
  });
});

describe('resolveConfig values', () => {
  const cases: [raw: unknown, path: string][] = [
    [{ optimizer: { learningRate: '0.1' } }, 'optimizer.learningRate'],
    [{ optimizer: { learningRate: Number.NaN } }, 'optimizer.learningRate'],
    [{ optimizer: { learningRate: Infinity } }, 'optimizer.learningRate'],
    [{ optimizer: { learningRate: 0 } }, 'optimizer.learningRate'],
    [{ optimizer: { learningRate: -0.1 } }, 'optimizer.learningRate'],
    [{ optimizer: { name: 'momentum', momentum: 1 } }, 'optimizer.momentum'],
    [{ optimizer: { name: 'adam', beta2: 1.5 } }, 'optimizer.beta2'],
    [{ optimizer: { name: 'adam', eps: 0 } }, 'optimizer.eps'],
    [{ optimizer: { name: 'adamw', weightDecay: -1 } }, 'optimizer.weightDecay'],
    [{ train: { steps: -3 } }, 'train.steps'],
    [{ train: { steps: 0 } }, 'train.steps'],
    [{ train: { steps: 2.5 } }, 'train.steps'],
    [{ train: { steps: '100' } }, 'train.steps'],
    [{ train: { batchSize: 0 } }, 'train.batchSize'],
    [{ train: { bptt: -1 } }, 'train.bptt'],
    [{ train: 5 }, 'train'],
    [{ monitor: { every: 0 } }, 'monitor.every'],
    [{ monitor: { timesteps: 'true' } }, 'monitor.timesteps'],
    [{ model: { residual: 1 } }, 'model.residual'],
    [{ seed: -1 }, 'seed'],
    [{ seed: 1.5 }, 'seed'],
    [{ seed: 2 ** 32 }, 'seed'],
    [{ name: '' }, 'name'],
    [{ name: 5 }, 'name'],
    [{ task: { name: 'teacher', classes: 1 } }, 'task.classes'],
    [{ task: { name: 'adding', length: 0 } }, 'task.length'],
    [{ task: { name: 'teacher', inputs: 2.5 } }, 'task.inputs'],
    [{ task: { name: 'spirals', size: 1 } }, 'task.size'],
    [{ task: 'adding', model: { hidden: 0 } }, 'model.hidden'],
    [{ task: 'adding', model: { hidden: [16] } }, 'model.hidden'],
    [{ task: 'adding', model: { layers: 0 } }, 'model.layers'],
    [{ task: 'adding', model: { forgetBias: Number.NaN } }, 'model.forgetBias'],
    [{ schedule: { name: 'step', stepSize: 0 } }, 'schedule.stepSize'],
    [{ schedule: { name: 'step', gamma: 0 } }, 'schedule.gamma'],
    [{ schedule: { name: 'cosine', minFactor: 2 } }, 'schedule.minFactor'],
    [{ schedule: { name: 'plateau', factor: 1 } }, 'schedule.factor'],
    [{ schedule: { name: 'plateau', patience: -1 } }, 'schedule.patience'],
    [{ schedule: { name: 'warmup-cosine', warmupSteps: 2000 } }, 'schedule.warmupSteps'],
    [{ clip: { name: 'norm', max: 0 } }, 'clip.max'],
    [{ clip: { name: 'value', max: '1' } }, 'clip.max'],
    [{ clip: { name: 'agc', factor: -1 } }, 'clip.factor'],
    [{ clip: { name: 'autoclip', percentile: 101 } }, 'clip.percentile'],
    [{ clip: { name: 'autoclip', percentile: 0 } }, 'clip.percentile'],
  ];

  for (const [raw, path] of cases) {
    it(`${path} rejects ${JSON.stringify(raw, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`, () => {
      rejects(raw, { code: 'invalid_value', path });
    });
  }

  it('shows the bad value and the accepted range', () => {
    const error = rejects({ train: { steps: -3 } }, { path: 'train.steps' });
    assert.equal(error.message, 'train.steps: -3 is not accepted; expected an integer >= 1');
    assert.equal(error.value, -3);
    const nan = rejects({ optimizer: { learningRate: Number.NaN } }, { path: 'optimizer.learningRate' });
    assert.ok(nan.message.startsWith('optimizer.learningRate: NaN is not accepted; expected a number > 0'));
  });

  it('tells how to write a quoted number', () => {
    const error = rejects({ optimizer: { learningRate: '0.1' } }, { path: 'optimizer.learningRate' });
    assert.equal(error.hint, 'write the number without quotes: 0.1');
  });

  it('treats null as a mistake, not as "use the default"', () => {
    const error = rejects({ train: { steps: null } }, { path: 'train.steps', says: 'leave "steps" out' });
    assert.ok(error.message.includes('default 1000'), error.message);
    rejects({ model: null }, { path: 'model' });
    rejects({ clip: { name: 'norm', max: null } }, { path: 'clip.max' });
  });

  it('needs a root object and a task name', () => {
    rejects(null, { path: '' });
    rejects([], { path: '' });
    rejects('spirals', { path: '' });
    rejects({ task: { length: 5 } }, { code: 'missing', path: 'task.name' });
  });

  it('needs max for the clippings that have no default', () => {
    for (const name of ['value', 'norm', 'param-norm']) {
      rejects({ clip: { name } }, { code: 'missing', path: 'clip.max', says: `clip "${name}"` });
      rejects({ clip: name }, { code: 'missing', path: 'clip.max' });
    }
  });

  it('needs two examples per batch under batch norm', () => {
    rejects(
      { model: { norm: 'batch' }, train: { batchSize: 1 } },
      { path: 'train.batchSize', says: 'batch norm' },
    );
    assert.equal(resolve({ model: { norm: 'layer' }, train: { batchSize: 1 } }).train.batchSize, 1);
  });
});

describe('resolveConfig overrides', () => {
  it('replaces steps and seed', () => {
    const config = resolve({ seed: 3, train: { steps: 100 } }, { steps: 20, seed: 9 });
    assert.equal(config.train.steps, 20);
    assert.equal(config.seed, 9);
    assert.equal(resolve({}, { steps: 7 }).train.steps, 7);
    assert.equal(resolve({ seed: 4 }, {}).seed, 4);
  });

  it('validates them under the flag name', () => {
    rejects({}, { code: 'invalid_value', path: '--steps' }, { steps: 0 });
    rejects({}, { path: '--steps' }, { steps: 1.5 });
    rejects({}, { path: '--steps' }, { steps: Number.NaN });
    rejects({}, { path: '--seed' }, { seed: -2 });
  });

  it('still validates the config value it replaces', () => {
    rejects({ train: { steps: -1 } }, { path: 'train.steps' }, { steps: 10 });
  });

  it('feeds the replaced steps to schedule defaults and checks', () => {
    assert.deepEqual(resolve({ schedule: 'step' }, { steps: 30 }).schedule, {
      name: 'step',
      stepSize: 10,
      gamma: 0.1,
    });
    rejects(
      { schedule: { name: 'warmup-cosine', warmupSteps: 50 } },
      { path: 'schedule.warmupSteps' },
      { steps: 40 },
    );
  });
});

describe('run names', () => {
  it('accepts names and refuses paths, dot names and control characters', () => {
    assert.equal(
      resolveConfig({ name: 'deep-sigmoid_v2.1' }, { defaultName: 'x' }).name,
      'deep-sigmoid_v2.1',
    );
    for (const bad of ['../escape', 'a/b', '..', '.', '', 'a b', 'x\u0000', 'C:\\run', 'a'.repeat(101)]) {
      assert.throws(
        () => resolveConfig({ name: bad }, { defaultName: 'x' }),
        (error: unknown) =>
          error instanceof ConfigError && error.path === 'name' && /letters, digits/.test(error.message),
        JSON.stringify(bad),
      );
    }
  });
  it('makes a default name (a file base name) a valid run name', () => {
    assert.equal(resolveConfig({}, { defaultName: 'my config (2)' }).name, 'my-config-2-');
    assert.equal(resolveConfig({}, { defaultName: '..' }).name, 'run');
  });
  it('fills train.checkpointEvery and train.guardPatience, and checks them', () => {
    const train = resolveConfig({}, { defaultName: 'x' }).train;
    assert.equal(train.checkpointEvery, 0);
    assert.equal(train.guardPatience, 10);
    assert.throws(
      () => resolveConfig({ train: { guardPatience: 0 } }, { defaultName: 'x' }),
      /train\.guardPatience/,
    );
    assert.throws(
      () => resolveConfig({ train: { checkpointEvery: 1.5 } }, { defaultName: 'x' }),
      /train\.checkpointEvery/,
    );
  });
});

describe('the rules optim once kept apart, now the schema’s (as torch.optim reads them)', () => {
  it('sgd takes momentum and nesterov, as torch.optim.SGD does', () => {
    assert.deepEqual(resolve({ optimizer: { name: 'sgd', momentum: 0.9 } }).optimizer, {
      name: 'sgd',
      learningRate: 0.1,
      momentum: 0.9,
      weightDecay: 0,
    });
    assert.deepEqual(resolve({ optimizer: { name: 'sgd', momentum: 0.9, nesterov: true } }).optimizer, {
      name: 'sgd',
      learningRate: 0.1,
      momentum: 0.9,
      nesterov: true,
      weightDecay: 0,
    });
    rejects({ optimizer: { name: 'sgd', nesterov: true } }, { code: 'conflict', path: 'optimizer.nesterov' });
    rejects(
      { optimizer: { name: 'sgd', nesterov: 'yes' } },
      { path: 'optimizer.nesterov', says: 'true or false' },
    );
  });

  it('rmsprop takes momentum, as torch.optim.RMSprop does', () => {
    assert.equal(resolve({ optimizer: { name: 'rmsprop', momentum: 0.5 } }).optimizer.momentum, 0.5);
    assert.equal(resolve({ optimizer: 'rmsprop' }).optimizer.momentum, undefined);
  });

  it('momentum lies in [0, 1) for every optimiser that takes it', () => {
    for (const name of ['sgd', 'momentum', 'nesterov', 'rmsprop']) {
      rejects(
        { optimizer: { name, momentum: 1.5 } },
        { code: 'invalid_value', path: 'optimizer.momentum', says: '[0, 1)' },
      );
      rejects({ optimizer: { name, momentum: -0.1 } }, { path: 'optimizer.momentum' });
    }
  });

  it('clip "norm" without max names clip.max, never a silent 1', () => {
    const error = rejects({ clip: 'norm' }, { code: 'missing', path: 'clip.max' });
    assert.equal(error.message.includes('a number > 0'), true, error.message);
  });

  it('agc eps is > 0', () => {
    rejects({ clip: { name: 'agc', eps: 0 } }, { code: 'invalid_value', path: 'clip.eps', says: '> 0' });
    assert.equal(resolve({ clip: { name: 'agc', eps: 1e-6 } }).clip.eps, 1e-6);
  });

  it('accepts "$schema" and ignores it', () => {
    const config = resolve({ $schema: './node_modules/gradscope/gradscope.schema.json' });
    assert.deepEqual(config, resolve({}));
    rejects({ $schema: 3 }, { path: '$schema' });
  });
});
