/**
 * The conv model kinds in the config (issue 12): image tasks declare their shape; `cnn` and `resnet` resolve with
 * their defaults, refuse bad input naming the field, the value and the fix; the geometry the rules and the budget
 * read agrees with the models `train/build` makes; the doctor's facts describe them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TASKS as DATA_TASKS, createTask } from '../data/index.js';
import { describeModel, modelFacts } from '../doctor/facts.js';
import { Conv2d, Pool2d, asImages } from '../nn/conv.js';
import { ResidualBlock } from '../nn/residual.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { buildModel } from '../train/build.js';
import { BudgetError, checkMemoryBudget, estimateMemory } from '../train/budget.js';
import { cnnGeometry, resnetGeometry } from './conv-geometry.js';
import { ConfigError } from './errors.js';
import { resolveConfig } from './resolve.js';
import { TASKS, taskImage, taskInputs } from './schema.js';
import type { ResolvedConfig } from './types.js';

const resolve = (raw: unknown): ResolvedConfig => resolveConfig(raw, { defaultName: 'conv' });

/** Resolving `raw` throws a ConfigError at `path`; its message matches each of `texts`. */
function refused(raw: unknown, path: string, ...texts: RegExp[]): void {
  assert.throws(
    () => resolve(raw),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.path, path, error.message);
      for (const text of texts) assert.match(error.message, text);
      return true;
    },
  );
}

describe('image tasks', () => {
  it('images and mnist declare the image shape their data tasks build', () => {
    for (const name of ['images', 'mnist'] as const) {
      const image = taskImage(name);
      assert.ok(image !== null, name);
      const task = createTask(DATA_TASKS[name].resolve({ name }), 0);
      assert.deepEqual(image, task.image, name);
      assert.equal(image.channels * image.height * image.width, task.inputSize, name);
      assert.deepEqual(taskInputs(name), ['vector', 'image']);
    }
  });

  it('no other task has an image shape (so no conv model reads them)', () => {
    for (const name of Object.keys(TASKS)) {
      if (name === 'images' || name === 'mnist') continue;
      assert.equal(taskImage(name), null, name);
      assert.ok(!taskInputs(name).includes('image'), name);
    }
  });

  it('an image task still defaults to an mlp reading the features flattened', () => {
    const config = resolve({ task: 'images', model: { depth: 1, width: 8 } });
    assert.equal(config.model.kind, 'mlp');
    const task = createTask(config.task, 0);
    const model = buildModel(config.model, task, new Rng(0));
    const batch = task.trainBatch(3, new Rng(1));
    assert.deepEqual(batch.x.shape, [3, 144]);
    assert.deepEqual(model.forward(batch.x).shape, [3, 4]);
  });
});

describe('model kind cnn', () => {
  it('fills every default', () => {
    assert.deepEqual(resolve({ task: 'images', model: { kind: 'cnn' } }).model, {
      kind: 'cnn',
      channels: [8, 8],
      kernel: 3,
      stride: 1,
      padding: 1,
      pool: 'max',
      poolEvery: 1,
      activation: 'relu',
      norm: 'none',
      init: 'he-normal',
      bias: 0,
      head: [],
    });
  });

  it('takes depth x width or channels, a padding that follows the kernel, the init that follows the activation', () => {
    const model = resolve({
      task: 'mnist',
      model: { kind: 'cnn', depth: 3, width: 4, kernel: 5, activation: 'tanh', head: [32] },
    }).model;
    assert.ok(model.kind === 'cnn');
    assert.deepEqual(model.channels, [4, 4, 4]);
    assert.equal(model.padding, 2);
    assert.equal(model.init, 'xavier-uniform');
    assert.deepEqual(model.head, [32]);
    const explicit = resolve({ task: 'mnist', model: { kind: 'cnn', channels: [4, 8], depth: 2 } }).model;
    assert.ok(explicit.kind === 'cnn');
    assert.deepEqual(explicit.channels, [4, 8]);
  });

  it('resolves to itself (a run directory config.json reruns)', () => {
    const config = resolve({ task: 'images', model: { kind: 'cnn', channels: [4, 8], norm: 'batch' } });
    assert.deepEqual(resolve(JSON.parse(JSON.stringify(config))), config);
  });

  it('on a task without images: exit-2 error at model.kind naming the image tasks', () => {
    refused(
      { task: 'spirals', model: { kind: 'cnn' } },
      'model.kind',
      /"cnn" does not fit task "spirals"/,
      /reads images and task spirals has none/,
      /use an image task \(mnist\|images\)/,
    );
    refused({ task: 'adding', model: { kind: 'cnn' } }, 'model.kind', /rnn\|lstm\|gru/);
  });

  it('stride 0: error at model.stride saying what a stride is and what to use', () => {
    refused(
      { task: 'images', model: { kind: 'cnn', stride: 0 } },
      'model.stride',
      /0 is not accepted/,
      /an integer >= 1/,
      /use 1 \(or 2 to halve the image\)/,
    );
  });

  it('a kernel larger than the input: at layer 0, and after the poolings before a later layer', () => {
    refused(
      { task: 'images', model: { kind: 'cnn', kernel: 13 } },
      'model.kernel',
      /13x13 kernel does not fit the 12x12 image conv layer 0 gets/,
      /an integer in \[1, 12\]/,
      /the images of task images are 12x12/,
    );
    // 12 -> pool 6 -> pool 3: the third layer gets 3x3.
    refused(
      { task: 'images', model: { kind: 'cnn', depth: 3, kernel: 5 } },
      'model.kernel',
      /conv layer 2 gets a 3x3 image/,
      /"pool": "none" or a larger "poolEvery"/,
    );
    // The same stack fits without pooling.
    assert.equal(
      resolve({ task: 'images', model: { kind: 'cnn', depth: 3, kernel: 5, pool: 'none' } }).model.kind,
      'cnn',
    );
    // A stride shrinks the image too: 28 -> 14 -> 7 -> 4 at stride 2 without pooling, then a 5x5 kernel is too big.
    refused(
      { task: 'mnist', model: { kind: 'cnn', depth: 4, kernel: 5, stride: 2, pool: 'none' } },
      'model.kernel',
      /conv layer 3 gets a 4x4 image/,
    );
  });

  it('channels that do not fit depth and width, or are not positive counts', () => {
    refused(
      { task: 'images', model: { kind: 'cnn', channels: [4, 8], width: 6 } },
      'model.channels',
      /\[4,8\] disagrees with width 6/,
      /give either "channels" or "depth" and "width"/,
    );
    refused(
      { task: 'images', model: { kind: 'cnn', channels: [4, 8], depth: 3 } },
      'model.channels',
      /depth 3/,
    );
    refused({ task: 'images', model: { kind: 'cnn', channels: [] } }, 'model.channels', /non-empty array/);
    refused({ task: 'images', model: { kind: 'cnn', channels: [4, 0] } }, 'model.channels.1', /\[1, 4096\]/);
    refused({ task: 'images', model: { kind: 'cnn', channels: 8 } }, 'model.channels', /"depth" and "width"/);
  });

  it('refuses a padding wider than kernel - 1, prelu, an unknown key, batch norm on batches of 1', () => {
    refused(
      { task: 'images', model: { kind: 'cnn', kernel: 3, padding: 3 } },
      'model.padding',
      /an integer in \[0, 2\]/,
      /leave "padding" out/,
    );
    refused(
      { task: 'images', model: { kind: 'cnn', activation: 'prelu' } },
      'model.activation',
      /did you mean/,
    );
    refused({ task: 'images', model: { kind: 'cnn', kernal: 3 } }, 'model.kernal', /did you mean "kernel"/);
    refused(
      { task: 'images', model: { kind: 'cnn', norm: 'batch' }, train: { batchSize: 1 } },
      'train.batchSize',
      /batch norm needs 2 or more/,
    );
    refused({ task: 'images', model: { kind: 'cnn', norm: 'layer' } }, 'model.norm', /none\|batch/);
  });
});

describe('model kind resnet', () => {
  it('fills every default', () => {
    assert.deepEqual(resolve({ task: 'images', model: { kind: 'resnet' } }).model, {
      kind: 'resnet',
      width: 8,
      stages: 3,
      blocks: 2,
      layers: 2,
      block: 'post',
      norm: 'batch',
      scale: 'none',
      fixup: false,
      shortcut: true,
      activation: 'relu',
      init: 'he-normal',
      bias: 0,
    });
  });

  it('takes every block form: pre-activation, a constant or learnable scale, Fixup, the plain twin', () => {
    for (const model of [
      { block: 'pre', norm: 'none' },
      { scale: 0.2 },
      { scale: 'rezero', norm: 'none' },
      { scale: 'skipinit', norm: 'none' },
      { fixup: true, norm: 'none' },
      { shortcut: false },
      { layers: 1, stages: 1, blocks: 4 },
    ]) {
      const config = resolve({ task: 'images', model: { kind: 'resnet', ...model } });
      assert.deepEqual(resolve(JSON.parse(JSON.stringify(config))), config, JSON.stringify(model));
      assert.deepEqual({ ...config.model, ...model }, config.model);
    }
  });

  it('refuses Fixup with a branch scale that starts at 0, Fixup without shortcuts, bad scales and counts', () => {
    refused(
      { task: 'images', model: { kind: 'resnet', fixup: true, scale: 'rezero' } },
      'model.scale',
      /never learn/,
      /"fixup": true alone/,
    );
    refused(
      { task: 'images', model: { kind: 'resnet', fixup: true, shortcut: false } },
      'model.fixup',
      /without shortcuts/,
    );
    refused({ task: 'images', model: { kind: 'resnet', scale: 'zero' } }, 'model.scale', /rezero/);
    refused({ task: 'images', model: { kind: 'resnet', stages: 0 } }, 'model.stages', /\[1, 6\]/);
    refused({ task: 'images', model: { kind: 'resnet', layers: 3 } }, 'model.layers', /\[1, 2\]/);
    refused({ task: 'images', model: { kind: 'resnet', width: 0 } }, 'model.width', /\[1, 4096\]/);
    refused({ task: 'images', model: { kind: 'resnet', kernel: 3 } }, 'model.kernel', /model kind cnn/);
    refused({ task: 'xor', model: { kind: 'resnet' } }, 'model.kind', /reads images/);
  });
});

describe('conv geometry agrees with the built models', () => {
  it('cnn: each conv layer and pooling writes the image cnnGeometry says', () => {
    for (const model of [
      { kind: 'cnn', channels: [3, 5, 4], kernel: 3 },
      { kind: 'cnn', channels: [2, 2, 2, 2], kernel: 3, stride: 2, pool: 'none' },
      { kind: 'cnn', channels: [2, 3, 2], kernel: 2, padding: 0, pool: 'average', poolEvery: 2 },
    ]) {
      const config = resolve({ task: 'mnist', model });
      assert.ok(config.model.kind === 'cnn');
      const task = createTask(config.task, 0);
      const net = buildModel(config.model, task, new Rng(0));
      const geometry = cnnGeometry(config.model, { channels: 1, height: 28, width: 28 });
      let x: Tensor = asImages(Tensor.zeros([2, 784]), { channels: 1, height: 28, width: 28 });
      const seen: number[][] = [];
      for (const block of net.blocks) {
        x = block.forward(x);
        if (block instanceof Conv2d || block instanceof Pool2d) seen.push([...x.shape]);
      }
      const expected = geometry.layers.flatMap((l) => {
        const conv = [2, l.output.channels, l.output.height, l.output.width];
        return l.pooled
          ? [conv, [2, l.output.channels, Math.floor(l.output.height / 2), Math.floor(l.output.width / 2)]]
          : [conv];
      });
      assert.deepEqual(seen, expected, JSON.stringify(model));
      assert.equal(geometry.tooSmall, null);
    }
  });

  it('resnet: each stage writes the image resnetGeometry says', () => {
    const config = resolve({ task: 'images', model: { kind: 'resnet', stages: 3, blocks: 2, width: 4 } });
    assert.ok(config.model.kind === 'resnet');
    const net = buildModel(config.model, createTask(config.task, 0), new Rng(0));
    const { stages } = resnetGeometry(config.model, { channels: 1, height: 12, width: 12 });
    let x: Tensor = asImages(Tensor.zeros([2, 144]), { channels: 1, height: 12, width: 12 });
    const blockShapes: number[][] = [];
    for (const block of net.blocks) {
      x = block.forward(x);
      if (block instanceof ResidualBlock) blockShapes.push([...x.shape]);
    }
    const expected = stages.flatMap((s) =>
      new Array<number[]>(s.blocks).fill([2, s.output.channels, s.output.height, s.output.width]),
    );
    assert.deepEqual(blockShapes, expected);
    assert.deepEqual(
      stages.map((s) => [s.output.channels, s.output.height]),
      [
        [4, 12],
        [8, 6],
        [16, 3],
      ],
    );
  });
});

describe('budget and doctor facts for conv kinds', () => {
  it('activations kept for backward: batch x channels x H x W per map, by hand for one conv layer', () => {
    const config = resolve({
      task: 'images',
      model: { kind: 'cnn', channels: [2], pool: 'none' },
      train: { batchSize: 10 },
    });
    const kept = estimateMemory(config).parts.find((p) => p.what === 'activations kept for backward');
    // Per example: the conv's z and y (2 x 2 x 12 x 12 = 576), the output's 3 x 4 and the 144 inputs, doubled for
    // the gradients except the inputs; plus one image's im2col buffer (1 x 9 x 144).
    assert.equal(kept?.bytes, 4 * (10 * (576 * 2 + 12 * 2 + 144) + 9 * 144));
  });

  it('grows with batch, channels and depth, and a huge conv run is refused naming the field', () => {
    const bytes = (model: object, batchSize = 32) =>
      estimateMemory(resolve({ task: 'mnist', model, train: { batchSize } })).parts.find(
        (p) => p.what === 'activations kept for backward',
      )?.bytes ?? 0;
    const small = bytes({ kind: 'cnn', channels: [4, 8] });
    assert.ok(bytes({ kind: 'cnn', channels: [4, 8] }, 320) > 2 * small);
    assert.ok(bytes({ kind: 'cnn', channels: [64, 128] }) > 2 * small);
    const resnet = bytes({ kind: 'resnet', blocks: 1 });
    assert.ok(bytes({ kind: 'resnet', blocks: 10 }) > 4 * resnet);
    assert.throws(
      () =>
        checkMemoryBudget(
          resolve({ task: 'mnist', model: { kind: 'cnn', channels: [4096, 4096] }, train: { batchSize: 8 } }),
          2 ** 30,
        ),
      (error: unknown) => error instanceof BudgetError && error.field === 'model.channels',
    );
  });

  it('the doctor reads depth, init, activation, norm and residuals of cnn and resnet configs', () => {
    const cnn = modelFacts(
      resolve({ task: 'images', model: { kind: 'cnn', depth: 5, width: 4, head: [16], pool: 'none' } }),
    );
    assert.deepEqual(
      [cnn.kind, cnn.depth, cnn.width, cnn.init, cnn.activation, cnn.norm, cnn.residual, cnn.recurrent],
      ['cnn', 6, 4, 'he-normal', 'relu', 'none', false, false],
    );
    // He-normal keeps sigma_w^2 = Var[w] fan_in = 2 with fan_in = C_in k^2 (He et al. 2015).
    assert.ok(Math.abs((cnn.sigmaW2 ?? 0) - 2) < 1e-9, String(cnn.sigmaW2));
    assert.match(
      describeModel(cnn),
      /^6-layer relu CNN \(channels 4-4-4-4-4, kernel 3, no pooling, dense head 16/,
    );

    const resnet = modelFacts(
      resolve({ task: 'images', model: { kind: 'resnet', stages: 3, blocks: 5, norm: 'none', fixup: true } }),
    );
    assert.deepEqual(
      [resnet.kind, resnet.depth, resnet.norm, resnet.residual, resnet.recurrent],
      ['resnet', 31, 'none', true, false],
    );
    assert.match(describeModel(resnet), /31-layer relu ResNet \(3 stages x 5 blocks of 2 conv layers.*Fixup/);
    const plain = modelFacts(resolve({ task: 'images', model: { kind: 'resnet', shortcut: false } }));
    assert.equal(plain.residual, false);
    assert.match(describeModel(plain), /plain conv net .*no shortcuts/);
  });
});
