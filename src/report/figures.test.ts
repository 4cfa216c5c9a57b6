import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { craftRecord } from '../doctor/test-records.js';
import { layerGradNorm, layerUpdateRatio } from './data.js';
import {
  activationProfile,
  depthProfile,
  edgeLayerLines,
  gradientGrid,
  gradNormLines,
  lossLine,
  skippedSteps,
  timeGradRatio,
  timeGrid,
  timeProfile,
  timeReachLine,
} from './figures.js';

const layers = (...grads: number[]) => grads.map((grad) => ({ grad }));

describe('figures', () => {
  const records = [
    craftRecord({
      step: 1,
      loss: 2,
      layers: layers(1e-6, 1e-3, 0.5),
      activations: [{ dead: 0.1 }, { dead: 0.2 }],
    }),
    craftRecord({ step: 10, loss: 1.5, layers: layers(1e-5, 1e-3, 0.4), skipped: true }),
    craftRecord({
      step: 20,
      loss: 1,
      layers: layers(1e-4, 1e-2, 0.3),
      activations: [{ dead: 0.3 }, { dead: 0.4 }],
    }),
    craftRecord({ step: 30, loss: Number.NaN, layers: layers(Number.NaN, 1, 1), skipped: true }),
  ];

  it('per-step lines keep every logged step, non-finite values included', () => {
    assert.deepEqual(lossLine(records), [
      [1, 2],
      [10, 1.5],
      [20, 1],
      [30, Number.NaN],
    ]);
    const { before, after } = gradNormLines(records);
    assert.deepEqual(
      before.map(([step]) => step),
      [1, 10, 20, 30],
    );
    assert.deepEqual(after[0], [1, records[0]?.gradNormClipped]);
    assert.deepEqual(skippedSteps(records), [10, 30]);
  });

  it('a depth profile is the first record and the last the guard did not skip, over every layer', () => {
    const lines = depthProfile(records, layerGradNorm);
    assert.deepEqual(
      lines.map((l) => [l.moment, l.step, l.name]),
      [
        ['start', 1, 'step 1 (initialisation)'],
        ['end', 20, 'step 20 (last not skipped)'],
      ],
    );
    const end = records[2] as (typeof records)[number];
    assert.deepEqual(
      lines[1]?.points,
      [0, 1, 2].map((l) => [l, layerGradNorm(end, l)]),
    );
    assert.ok(
      (lines[1]?.points[0]?.[1] as number) < (lines[1]?.points[2]?.[1] as number),
      'input side smallest',
    );
    const ratios = depthProfile(records, layerUpdateRatio);
    assert.deepEqual(
      ratios[0]?.points,
      [0, 1, 2].map((l) => [l, layerUpdateRatio(records[0] as (typeof records)[0], l)]),
    );
    // One record, or only skipped ones after it: the start alone.
    assert.deepEqual(
      depthProfile(records.slice(0, 2), layerGradNorm).map((l) => l.moment),
      ['start'],
    );
    assert.deepEqual(depthProfile([], layerGradNorm), []);
  });

  it('the activation profile reads the same two records, per activation layer', () => {
    const { layers: shown, bars } = activationProfile(records, 'dead');
    assert.deepEqual(shown, [0, 1]);
    assert.deepEqual(
      bars.map((b) => [b.moment, b.step, b.values]),
      [
        ['start', 1, [0.1, 0.2]],
        ['end', 20, [0.3, 0.4]],
      ],
    );
  });

  it('the first and last layer over the steps; no last line for one layer', () => {
    const { first, last } = edgeLayerLines(records);
    assert.equal(first?.layer, 0);
    assert.equal(last?.layer, 2);
    assert.deepEqual(
      first?.points.map(([step]) => step),
      [1, 10, 20, 30],
    );
    const single = edgeLayerLines([craftRecord({ step: 1, layers: layers(0.1) })]);
    assert.equal(single.first?.layer, 0);
    assert.equal(single.last, null);
    assert.deepEqual(edgeLayerLines([]), { first: null, last: null });
  });

  it('the gradient grid has one row per layer and NaN where a layer logged nothing', () => {
    const grid = gradientGrid([records[0], craftRecord({ step: 5, layers: layers(0.2) })] as typeof records);
    assert.deepEqual(grid.layers, [0, 1, 2]);
    assert.deepEqual(grid.steps, [1, 5]);
    assert.equal(grid.values[0]?.[1], layerGradNorm(craftRecord({ step: 5, layers: layers(0.2) }), 0));
    assert.ok(Number.isNaN(grid.values[2]?.[1] as number));
  });

  it('time profiles: the first, a middle and the last record with time gradients', () => {
    const FIRST = [1, 0.1, 0.01, 0.001, 1e-4];
    const timed = [1, 10, 20, 30, 40].map((step, i) =>
      craftRecord({ step, layers: layers(1), timeGrad: [FIRST[i] as number, 0.1, 1] }),
    );
    const lines = timeProfile([craftRecord({ step: 0, layers: layers(1) }), ...timed]);
    assert.deepEqual(
      lines.map((l) => [l.moment, l.step]),
      [
        ['start', 1],
        ['middle', 20],
        ['end', 40],
      ],
    );
    assert.deepEqual(lines[2]?.points, [
      [1, 1e-4],
      [2, 0.1],
      [3, 1],
    ]);
    assert.deepEqual(
      timeProfile(timed.slice(0, 1)).map((l) => l.moment),
      ['end'],
    );
    assert.deepEqual(
      timeReachLine(timed),
      [1, 10, 20, 30, 40].map((step, i) => [step, FIRST[i]]),
    );
    assert.equal(timeGradRatio([1e-3, 1e-2, 1]), 1e-3);
    assert.ok(Number.isNaN(timeGradRatio([])));
  });

  it('a long sequence is merged into blocks by geometric mean; NaN and 0 mark their block', () => {
    const r = craftRecord({ step: 1, layers: layers(1), timeGrad: [1e-4, 1e-2, 1, 0.1, 10] });
    const bad = craftRecord({ step: 2, layers: layers(1), timeGrad: [1, Number.NaN, 1, 0, 1] });
    const grid = timeGrid([r, bad], 2);
    assert.deepEqual(grid.rowLabels, ['t 1–3', 't 4–5']);
    assert.deepEqual(grid.steps, [1, 2]);
    assert.ok(Math.abs((grid.values[0]?.[0] as number) - 1e-2) < 1e-15, 'geometric mean of 1e-4, 1e-2, 1');
    assert.ok(Math.abs((grid.values[1]?.[0] as number) - 1) < 1e-12, 'geometric mean of 0.1 and 10');
    assert.ok(Number.isNaN(grid.values[0]?.[1] as number));
    assert.equal(grid.values[1]?.[1], 0);
    assert.deepEqual(timeGrid([r], 10).rowLabels, ['t 1', 't 2', 't 3', 't 4', 't 5']);
  });
});
