import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricsRecord, ParamRecord } from '../io/runlog.js';
import { renderRunReport } from './run-report.js';
import { sampleRun } from './sample-runs.js';
import {
  entropySeries,
  hasTransformerData,
  sublayerGradNorm,
  sublayerHeatMap,
  sublayerOf,
  sublayerRows,
} from './transformer.js';

function param(name: string, layer: number, gradNorm: number): ParamRecord {
  return { name, layer, gradNorm, weightNorm: 1, updateRatio: 1e-3, maxAbsGrad: gradNorm, nonFinite: 0 };
}

/**
 * A 2-block, 2-head LM's records: block l's attention parameters have gradient norms 3 l and 4 l (so the sublayer's
 * norm is 5 l), its feed-forward 0.1 l per parameter, its stream 10^-l; head 2 of block 2 collapses over the steps.
 */
function transformerRecords(steps: readonly number[], withStream = true): MetricsRecord[] {
  return steps.map((step, i) => ({
    step,
    loss: 3 - 0.1 * i,
    lr: 0.01,
    gradNorm: 1,
    gradNormClipped: 1,
    clipped: false,
    skipped: false,
    params: [
      param('layers.0.embedding.weight', 0, 1),
      ...[1, 2].flatMap((l) => [
        param(`layers.${l}.attention.inProj.weight`, l, 3 * l),
        param(`layers.${l}.attentionNorm.weight`, l, 4 * l),
        param(`layers.${l}.feedForward.0.weight`, l, 0.1 * l),
        param(`layers.${l}.feedForwardNorm.bias`, l, 0.1 * l),
      ]),
      param('layers.3.output.weight', 3, 2),
    ],
    activations: [],
    attention: {
      entropy: [
        [2, 2],
        [2, 2 / (i + 1)],
      ],
      tokenSimilarity: [0.3, 0.4 + 0.1 * i],
      ...(withStream ? { streamGrad: [0.1, 0.01] } : {}),
    },
    findings: [],
  }));
}

describe('Transformer report figures', () => {
  it('reads a block parameter into its sublayer, its LayerNorm included; other parameters are none', () => {
    assert.deepEqual(sublayerOf('layers.3.attentionNorm.weight'), { layer: 3, kind: 'attention' });
    assert.deepEqual(sublayerOf('layers.2.crossAttention.inProj.bias'), { layer: 2, kind: 'crossAttention' });
    assert.deepEqual(sublayerOf('layers.1.feedForward.1.weight'), { layer: 1, kind: 'feedForward' });
    assert.deepEqual(sublayerOf('decoder.layers.4.feedForwardNorm.bias'), { layer: 4, kind: 'feedForward' });
    assert.equal(sublayerOf('layers.0.embedding.weight'), null);
    assert.equal(sublayerOf('layers.3.output.weight'), null);
    assert.equal(sublayerOf('layers.2.weight'), null);
  });

  it('rows go input side first, attention before feed-forward before the stream; norms combine as L2', () => {
    const records = transformerRecords([1, 10]);
    const rows = sublayerRows(records);
    assert.deepEqual(
      rows.map((r) => `${r.layer} ${r.kind}`),
      ['1 attention', '1 feedForward', '1 stream', '2 attention', '2 feedForward', '2 stream'],
    );
    const record = records[0] as MetricsRecord;
    assert.ok(Math.abs(sublayerGradNorm(record, { layer: 2, kind: 'attention' }) - 10) < 1e-12);
    assert.ok(
      Math.abs(sublayerGradNorm(record, { layer: 1, kind: 'feedForward' }) - 0.1 * Math.SQRT2) < 1e-12,
    );
    assert.equal(sublayerGradNorm(record, { layer: 2, kind: 'stream' }), 0.01);
    assert.ok(Number.isNaN(sublayerGradNorm(record, { layer: 2, kind: 'crossAttention' })));
    // Older logs without streamGrad: no stream rows.
    assert.deepEqual(
      sublayerRows(transformerRecords([1], false)).map((r) => r.kind),
      ['attention', 'feedForward', 'attention', 'feedForward'],
    );
  });

  it('the heat map carries one row per sublayer with its log10 norm', () => {
    const svg = sublayerHeatMap(transformerRecords([1, 10, 20]));
    assert.match(svg, /data-rows="6"/);
    const rowValues = [...svg.matchAll(/data-label="([^"]+)" data-v="([^"]+)"/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      rowValues.find(([label]) => label === '2 attention'),
      ['2 attention', '1.00,1.00,1.00'],
    );
    assert.deepEqual(
      rowValues.find(([label]) => label === '2 stream'),
      ['2 stream', '-2.00,-2.00,-2.00'],
    );
  });

  it('one entropy series per block and head, in step order', () => {
    const series = entropySeries(transformerRecords([1, 10, 20]));
    assert.deepEqual(
      series.map((s) => s.name),
      ['block 1 head 1', 'block 1 head 2', 'block 2 head 1', 'block 2 head 2'],
    );
    assert.deepEqual(series[3]?.points, [
      [1, 2],
      [10, 1],
      [20, 2 / 3],
    ]);
  });

  it('the run report gets the Transformer section for a Transformer run only', () => {
    const base = sampleRun();
    const html = renderRunReport({ ...base, records: transformerRecords([1, 10, 20]) });
    for (const id of ['chart-sublayer-heatmap', 'chart-attention-entropy', 'chart-token-similarity'])
      assert.ok(html.includes(`id="${id}"`), id);
    assert.ok(html.includes('href="#transformer"'));
    assert.equal(hasTransformerData(base.records), false);
    const mlp = renderRunReport(base);
    assert.ok(!mlp.includes('id="transformer"') && !mlp.includes('chart-sublayer-heatmap'));
  });
});
