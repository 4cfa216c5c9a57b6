/**
 * The Transformer figures of a report (and of the lab, which draws the same SVG): where the gradient goes inside
 * each block, and what the attention does, from what the run log records.
 *
 * - Sublayer heat map: per block, the gradient norm of the attention sublayer, of the cross-attention (seq2seq
 *   decoders) and of the feed-forward sublayer (each with its LayerNorm), and ||dL/dx_l|| of the block's output, the
 *   residual stream; blocks x logged steps. Post-LN's gradients near the output are large at initialisation and
 *   Pre-LN's shrink with depth (Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture",
 *   Theorems 1 and 2), so the two placements look different here from step 1.
 * - Attention entropy per head over steps (nats): a head whose entropy falls towards 0 attends to one key; its
 *   collapse precedes instability (Zhai et al. 2023, "Stabilizing Transformer Training by Preventing Attention
 *   Entropy Collapse").
 * - Token similarity per block over steps: the mean cosine similarity of a sequence's token representations; rank
 *   collapse drives it towards 1 (Noci et al. 2022, "Signal Propagation in Transformers").
 */
import type { MetricsRecord } from '../io/runlog.js';
import { heatMap, lineChart, PALETTE, type Series } from './svg.js';

/** The sublayers of a block, as parameter names spell them (`layers.<l>.<sublayer>...`), and the stream. */
export type SublayerKind = 'attention' | 'crossAttention' | 'feedForward' | 'stream';

const SUBLAYER_LABEL: Readonly<Record<SublayerKind, string>> = {
  attention: 'attention',
  crossAttention: 'cross-attn',
  feedForward: 'feed-forward',
  stream: 'stream',
};

/** The second part of a block parameter's name, its LayerNorm read with the sublayer it belongs to. */
const SUBLAYER_OF: Readonly<Record<string, Exclude<SublayerKind, 'stream'>>> = {
  attention: 'attention',
  attentionNorm: 'attention',
  crossAttention: 'crossAttention',
  crossAttentionNorm: 'crossAttention',
  feedForward: 'feedForward',
  feedForwardNorm: 'feedForward',
};

/** One row of the sublayer heat map: a block's sublayer (or its residual stream). */
export interface SublayerRow {
  /** The block's layer index, as in metrics.jsonl (block 1 is layers.1). */
  layer: number;
  kind: SublayerKind;
}

/** Reads `layers.<l>.<part>....` into the block index and its sublayer, or null for anything else. */
export function sublayerOf(name: string): { layer: number; kind: Exclude<SublayerKind, 'stream'> } | null {
  const m = /^(?:.*\.)?layers\.(\d+)\.([A-Za-z]+)\./.exec(name);
  if (!m) return null;
  const kind = SUBLAYER_OF[m[2] as string];
  return kind ? { layer: Number(m[1]), kind } : null;
}

/** Whether the run is an attention model the figures apply to: it logged attention records or sublayer parameters. */
export function hasTransformerData(records: readonly MetricsRecord[]): boolean {
  return records.some((r) => r.attention !== undefined || r.params.some((p) => sublayerOf(p.name) !== null));
}

/**
 * The rows the run has, input side first and, within a block, in forward order: attention, cross-attention,
 * feed-forward, then the stream (the block's output) when the log records it.
 */
export function sublayerRows(records: readonly MetricsRecord[]): SublayerRow[] {
  const seen = new Map<string, SublayerRow>();
  const add = (layer: number, kind: SublayerKind): void => {
    const key = `${layer}:${kind}`;
    if (!seen.has(key)) seen.set(key, { layer, kind });
  };
  for (const r of records) {
    for (const p of r.params) {
      const s = sublayerOf(p.name);
      if (s) add(s.layer, s.kind);
    }
    // streamGrad[i] belongs to block i + 1 (layers.0 is the input).
    r.attention?.streamGrad?.forEach((_, i) => add(i + 1, 'stream'));
  }
  const order: readonly SublayerKind[] = ['attention', 'crossAttention', 'feedForward', 'stream'];
  return [...seen.values()].sort(
    (a, b) => a.layer - b.layer || order.indexOf(a.kind) - order.indexOf(b.kind),
  );
}

/** The L2 norm of a sublayer's gradient (its parameters together) at one record, or ||dL/dx_l|| for the stream. */
export function sublayerGradNorm(record: MetricsRecord, row: SublayerRow): number {
  if (row.kind === 'stream') return record.attention?.streamGrad?.[row.layer - 1] ?? NaN;
  let sum = 0;
  let found = false;
  for (const p of record.params) {
    const s = sublayerOf(p.name);
    if (!s || s.layer !== row.layer || s.kind !== row.kind) continue;
    found = true;
    sum += p.gradNorm * p.gradNorm;
  }
  return found ? Math.sqrt(sum) : NaN;
}

/** The sublayer heat map: log10 gradient norm, rows (block, sublayer) with the input at the bottom, by logged step. */
export function sublayerHeatMap(
  records: readonly MetricsRecord[],
  options: { id?: string; maxColumns?: number; width?: number } = {},
): string {
  const rows = sublayerRows(records);
  return heatMap({
    id: options.id ?? 'sublayer-heatmap',
    title: 'log10 gradient norm per Transformer sublayer and step',
    rowLabels: rows.map((r) => `${r.layer} ${SUBLAYER_LABEL[r.kind]}`),
    rowTitles: rows.map((r) =>
      r.kind === 'stream'
        ? `block ${r.layer}: ‖∂L/∂x‖ of its output, the residual stream`
        : `block ${r.layer}: ${r.kind}.* and ${r.kind}Norm.* parameters`,
    ),
    columns: records.map((r) => r.step),
    values: rows.map((row) => records.map((r) => sublayerGradNorm(r, row))),
    flaggedColumns: records.flatMap((r, i) =>
      r.skipped ? [{ column: i, label: `step ${r.step} skipped` }] : [],
    ),
    xLabel: 'logged step',
    yLabel: 'block and sublayer (input at the bottom)',
    valueLabel: '‖g‖',
    maxColumns: options.maxColumns ?? 300,
    ...(options.width === undefined ? {} : { width: options.width }),
  });
}

/** The records that carry attention entropy. */
function attentionRecords(records: readonly MetricsRecord[]): MetricsRecord[] {
  return records.filter((r) => (r.attention?.entropy.length ?? 0) > 0);
}

/** Each head's mean attention entropy over logged steps, one series per (block, head), blocks input side first. */
export function entropySeries(records: readonly MetricsRecord[]): Series[] {
  const withAttention = attentionRecords(records);
  const blocks = withAttention.reduce((n, r) => Math.max(n, r.attention?.entropy.length ?? 0), 0);
  const series: Series[] = [];
  for (let b = 0; b < blocks; b++) {
    const heads = withAttention.reduce((n, r) => Math.max(n, r.attention?.entropy[b]?.length ?? 0), 0);
    for (let h = 0; h < heads; h++) {
      series.push({
        name: `block ${b + 1} head ${h + 1}`,
        points: withAttention.map((r) => [r.step, r.attention?.entropy[b]?.[h] ?? NaN] as const),
        color: PALETTE[b % PALETTE.length] as string,
        dashed: h % 2 === 1,
      });
    }
  }
  return series;
}

/** The attention-entropy chart: nats per head over steps, coloured by block. */
export function entropyChart(
  records: readonly MetricsRecord[],
  options: { id?: string; width?: number } = {},
): string {
  return lineChart({
    id: options.id ?? 'entropy-chart',
    title: 'Attention entropy per head',
    xLabel: 'logged step',
    yLabel: 'entropy (nats)',
    integerX: true,
    series: entropySeries(records),
    yScale: 'linear',
    emptyMessage: 'no attention entropy logged',
    ...(options.width === undefined ? {} : { width: options.width }),
  });
}

/** The token-similarity chart: one line per block over steps; 1 is full rank collapse. */
export function tokenSimilarityChart(
  records: readonly MetricsRecord[],
  options: { id?: string; width?: number } = {},
): string {
  const withAttention = records.filter((r) => (r.attention?.tokenSimilarity.length ?? 0) > 0);
  const blocks = withAttention.reduce((n, r) => Math.max(n, r.attention?.tokenSimilarity.length ?? 0), 0);
  const series: Series[] = Array.from({ length: blocks }, (_, b) => ({
    name: `block ${b + 1}`,
    points: withAttention.map((r) => [r.step, r.attention?.tokenSimilarity[b] ?? NaN] as const),
    color: PALETTE[b % PALETTE.length] as string,
  }));
  return lineChart({
    id: options.id ?? 'token-similarity-chart',
    title: 'Token similarity per block',
    xLabel: 'logged step',
    yLabel: 'mean cosine similarity of tokens',
    integerX: true,
    series,
    references: [{ y: 1, label: '1: rank collapse' }],
    yScale: 'linear',
    emptyMessage: 'no token similarity logged',
    ...(options.width === undefined ? {} : { width: options.width }),
  });
}
