import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricsRecord } from '../io/runlog.js';
import { branchRatioHeatMap, hasResidualData, residualGrid, streamHeatMap } from './residual.js';

const record = (step: number, blocks: number): MetricsRecord =>
  ({
    step,
    loss: 1,
    lr: 0.1,
    gradNorm: 1,
    gradNormClipped: 1,
    clipped: false,
    skipped: false,
    params: [],
    activations: [],
    findings: [],
    residual: Array.from({ length: blocks }, (_, i) => ({
      name: `layers.${i + 1}`,
      layer: i + 1,
      shortcut: 2 ** i * step,
      branch: 2 ** i,
      ratio: 1 / step,
    })),
  }) as MetricsRecord;

describe('residual figures', () => {
  it('lay the blocks out by layer and the logged steps as columns, NaN where a block is missing', () => {
    const records = [record(1, 3), record(2, 2), record(3, 3)];
    const { blocks, steps, values } = residualGrid(records, 'shortcut');
    assert.deepEqual(
      blocks.map((b) => b.layer),
      [1, 2, 3],
    );
    assert.deepEqual(steps, [1, 2, 3]);
    assert.deepEqual(values[1], [2, 4, 6]);
    assert.ok(Number.isNaN(values[2]?.[1]));
    assert.deepEqual(residualGrid(records, 'ratio').values[0], [1, 0.5, 1 / 3]);
  });

  it('draw a heat map per field, and only for runs that logged residual blocks', () => {
    const records = [record(1, 4), record(10, 4)];
    assert.equal(hasResidualData(records), true);
    assert.equal(hasResidualData([{ ...record(1, 0), residual: [] }]), false);
    const stream = streamHeatMap(records);
    assert.match(stream, /<svg/);
    assert.match(stream, /Residual stream mean square per block/);
    assert.match(stream, /block 4/);
    assert.match(branchRatioHeatMap(records), /Branch \/ shortcut ratio per block/);
  });
});
