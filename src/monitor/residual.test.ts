import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/resolve.js';
import { resolveBias, resolveInit } from '../init/index.js';
import type { ActivationName } from '../kernels/activations.js';
import { ResNet } from '../nn/residual.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { TrainingSession } from '../train/session.js';
import { measureBranches, residualBlocks, residualRecords } from './residual.js';
import { branchShortcutRatio, channelStats } from './stats.js';

describe('per-channel dead and saturated fractions of conv outputs', () => {
  it('counts a channel dead only when it is dead at every example and position', () => {
    // N = 2, C = 3, 2 x 2 positions of relu output: channel 0 half zero, channel 1 all zero, channel 2 never zero.
    const y = Float32Array.from([
      ...[0, 1, 0, 2],
      ...[0, 0, 0, 0],
      ...[1, 2, 3, 4],
      ...[0, 3, 0, 1],
      ...[0, 0, 0, 0],
      ...[5, 6, 7, 8],
    ]);
    const s = channelStats(y, [2, 3, 2, 2], 'relu');
    assert.deepEqual(s.channelDead, [0.5, 1, 0]);
    assert.equal(s.dead, 1 / 3);
    assert.deepEqual(s.channelSaturated, [0, 0, 0]);
    assert.equal(s.saturated, 0);
  });
  it('saturation per channel (tanh), and one dead position does not kill a channel', () => {
    const y = Float64Array.from([0.999, 0.9999, 0.1, -0.2, -0.9995, -0.998, 0.3, 0]);
    const s = channelStats(y, [1, 4, 1, 2], 'tanh');
    assert.deepEqual(s.channelSaturated, [1, 0, 1, 0]);
    assert.equal(s.saturated, 0.5);
    const r = channelStats(Float32Array.from([0, 1, 2, 3]), [1, 1, 2, 2], 'relu');
    assert.equal(r.dead, 0);
    assert.equal(r.channelDead[0], 0.25);
  });
});

describe('branch/shortcut variance ratio of residual blocks', () => {
  it('is the branch mean square over the shortcut mean square, NaN without a shortcut signal', () => {
    assert.equal(branchShortcutRatio({ shortcut: 4, branch: 1 }), 0.25);
    assert.ok(Number.isNaN(branchShortcutRatio({ shortcut: 0, branch: 1 })));
  });

  it('finds every block of a ResNet and measures only while switched on', () => {
    const net = new ResNet({
      image: { channels: 1, height: 8, width: 8 },
      outputSize: 4,
      stages: 2,
      blocks: 2,
      width: 4,
      order: 'pre',
      layers: 2,
      norm: 'none',
      fixup: false,
      shortcut: true,
      activation: 'relu',
      weightInit: (activation: ActivationName) => resolveInit('he-normal', { activation }),
      biasInit: resolveBias(0),
      rng: new Rng(1),
    });
    const blocks = residualBlocks(net);
    assert.deepEqual(
      blocks.map((b) => b.name),
      ['layers.1', 'layers.2', 'layers.3', 'layers.4'],
    );
    const x = Tensor.randn([3, 64], new Rng(2));
    net.forward(x);
    assert.deepEqual(residualRecords(blocks), [], 'nothing measured while off');
    measureBranches(blocks, true);
    net.forward(x);
    measureBranches(blocks, false);
    const records = residualRecords(blocks);
    assert.equal(records.length, 4);
    for (const r of records) {
      assert.ok(r.shortcut > 0 && r.branch > 0, JSON.stringify(r));
      assert.ok(Math.abs(r.ratio - r.branch / r.shortcut) < 1e-12);
    }
  });

  it('a training run logs one record per block on logged steps: ReZero starts at ratio 0 and the branch grows', () => {
    const config = resolveConfig(
      {
        task: { name: 'teacher', inputs: 8, size: 200 },
        model: {
          hidden: [16, 16, 16],
          activation: 'tanh',
          residual: { form: 'linear-out', scale: 'rezero' },
        },
        optimizer: { name: 'adam', learningRate: 0.01 },
        train: { steps: 20, batchSize: 16 },
        monitor: { every: 10 },
      },
      { defaultName: 'monitor-residual' },
    );
    const session = new TrainingSession(config);
    const logged = [];
    while (!session.done) {
      const { record } = session.step();
      if (record) logged.push(record);
    }
    assert.deepEqual(
      logged.map((r) => r.step),
      [1, 10, 20],
    );
    const first = logged[0]!.residual!;
    assert.deepEqual(
      first.map((r) => r.name),
      ['layers.1', 'layers.2'],
    );
    assert.ok(first.every((r) => r.branch === 0 && r.ratio === 0 && r.shortcut > 0));
    const last = logged[2]!.residual!;
    assert.ok(
      last.every((r) => r.ratio > 0),
      JSON.stringify(last),
    );
  });
});
