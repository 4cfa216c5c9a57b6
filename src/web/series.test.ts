import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricsRecord } from '../io/runlog.js';
import {
  ageText,
  alignRuns,
  columnAt,
  depthColor,
  forLinearAxis,
  forLogAxis,
  HEAT_SCALE,
  heatColor,
  heatGrid,
  isMetricName,
  METRICS,
  NON_FINITE_COLOR,
  OKABE_ITO,
  runColor,
  smooth,
  ZERO_COLOR,
} from './series.js';

function record(step: number, grads: number[]): MetricsRecord {
  return {
    step,
    loss: 1,
    lr: 0.1,
    gradNorm: 1,
    gradNormClipped: 1,
    clipped: false,
    skipped: false,
    params: grads.flatMap((g, layer) => [
      {
        name: `layers.${layer}.weight`,
        layer,
        gradNorm: g,
        weightNorm: 1,
        updateRatio: 0,
        maxAbsGrad: g,
        nonFinite: 0,
      },
      {
        name: `layers.${layer}.bias`,
        layer,
        gradNorm: 0,
        weightNorm: 1,
        updateRatio: 0,
        maxAbsGrad: 0,
        nonFinite: 0,
      },
    ]),
    activations: [],
    findings: [],
  };
}

describe('chart series', () => {
  it('smooths as TensorBoard does: a debiased moving average that starts at the first value', () => {
    assert.deepEqual(smooth([1, 1, 4], 0.5), [1, 1, 2.375 / 0.875]);
    assert.ok(Math.abs((smooth([5, 5, 5, 5], 0.9)[3] as number) - 5) < 1e-12, 'a constant stays constant');
    assert.deepEqual(
      smooth([2, NaN, null, 2], 0.5),
      [2, NaN, null, 2],
      'non-finite values stay and are skipped',
    );
    assert.deepEqual(smooth([3, 1], 0), [3, 1]);
    assert.throws(() => smooth([1], 1), /\[0, 1\)/);
    assert.throws(() => smooth([1], -0.1), /\[0, 1\)/);
  });

  it('aligns runs with different steps on one axis, and keeps only what each axis can draw', () => {
    const { x, ys } = alignRuns([
      {
        points: [
          [1, 2],
          [10, 1],
        ],
      },
      {
        points: [
          [1, 3],
          [5, 9],
        ],
      },
    ]);
    assert.deepEqual(x, [1, 5, 10]);
    assert.deepEqual(ys, [
      [2, null, 1],
      [3, 9, null],
    ]);
    assert.deepEqual(forLogAxis([1, 0, -1, NaN, Infinity, null, 1e-30]), [
      1,
      null,
      null,
      null,
      null,
      null,
      1e-30,
    ]);
    assert.deepEqual(forLinearAxis([0, -1, NaN, -Infinity]), [0, -1, null, null]);
  });

  it('colours the heat map on one fixed log10 scale, with its own colours for NaN, infinity and zero', () => {
    assert.equal(heatColor(10 ** HEAT_SCALE.min), 'rgb(68, 1, 84)');
    assert.equal(heatColor(10 ** HEAT_SCALE.max), 'rgb(253, 231, 37)');
    assert.equal(heatColor(1e-30), heatColor(10 ** HEAT_SCALE.min), 'clamped below');
    assert.equal(heatColor(1e30), heatColor(10 ** HEAT_SCALE.max), 'clamped above');
    assert.notEqual(heatColor(1e-6), heatColor(1e-3));
    assert.equal(heatColor(NaN), NON_FINITE_COLOR);
    assert.equal(heatColor(Infinity), NON_FINITE_COLOR);
    assert.equal(heatColor(0), ZERO_COLOR);
    assert.notEqual(depthColor(0, 5), depthColor(4, 5));
  });

  it('builds the layer x step grid from records, one value per layer over all its parameters', () => {
    const grid = heatGrid([record(1, [3, 1]), record(10, [NaN, 0.5])]);
    assert.deepEqual(grid.steps, [1, 10]);
    assert.deepEqual(grid.layers, [0, 1]);
    assert.deepEqual(grid.values[0], [3, NaN]);
    assert.deepEqual(grid.values[1], [1, 0.5]);
    assert.equal(columnAt(10, 0), 0);
    assert.equal(columnAt(10, 0.999), 9);
    assert.equal(columnAt(10, 1.5), 9);
    assert.equal(columnAt(0, 0.5), -1);
  });

  it('reads each overlay metric from a record', () => {
    const r = record(5, [0.25, 4]);
    assert.deepEqual(
      [METRICS.loss.value(r), METRICS.gradNorm.value(r), METRICS.inputGradNorm.value(r), METRICS.lr.value(r)],
      [1, 1, 0.25, 0.1],
    );
    assert.ok(isMetricName('gradNorm') && !isMetricName('toString'));
  });

  it('gives runs colour-blind-safe colours in order, and ages in words', () => {
    assert.equal(runColor(0), OKABE_ITO[0]);
    assert.equal(runColor(OKABE_ITO.length), OKABE_ITO[0]);
    assert.equal(ageText(0, 12_000), '12 s ago');
    assert.equal(ageText(0, 5 * 60_000), '5 min ago');
    assert.equal(ageText(0, 3 * 3_600_000), '3 h ago');
    assert.equal(ageText(0, 2 * 86_400_000), '2 d ago');
  });
});
