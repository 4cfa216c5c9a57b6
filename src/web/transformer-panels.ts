/**
 * The lab's Transformer panels: the report's drawings (src/report/transformer.ts) at the lab's sizes, so the page
 * and report.html show one picture: the gradient per sublayer and residual stream (Xiong et al. 2020), each head's
 * attention entropy (Zhai et al. 2023) and each block's token similarity (Noci et al. 2022). Pure and browser-safe.
 *
 * @example
 * if (isTransformerRun(records)) element.innerHTML = sublayerPanel(records);
 */
import type { MetricsRecord } from '../io/runlog.js';
import {
  entropyChart,
  hasTransformerData,
  sublayerHeatMap,
  sublayerRows,
  tokenSimilarityChart,
} from '../report/transformer.js';

/** The panel spans the page, so its charts are drawn wide and keep their text size when scaled. */
const WIDE = 1000;

/** Whether the records come from an attention model, so the page shows these panels. */
export function isTransformerRun(records: readonly MetricsRecord[]): boolean {
  return hasTransformerData(records);
}

/**
 * Which of the panels have data: a recurrent seq2seq model with attention logs its decoder's attention entropy
 * (one block, one head) but has no Transformer sublayers and no token stream, so only its entropy chart is shown.
 */
export function transformerCharts(records: readonly MetricsRecord[]): {
  sublayers: boolean;
  entropy: boolean;
  similarity: boolean;
} {
  return {
    sublayers: sublayerRows(records).length > 0,
    entropy: records.some((r) => r.attention?.entropy.some((heads) => heads.length > 0) ?? false),
    similarity: records.some((r) => (r.attention?.tokenSimilarity.length ?? 0) > 0),
  };
}

/** log10 gradient norm per block sublayer and the residual stream, by logged step. */
export function sublayerPanel(records: readonly MetricsRecord[], options: { id?: string } = {}): string {
  return sublayerHeatMap(records, { id: options.id ?? 'lab-sublayers', maxColumns: 200, width: WIDE });
}

/** Each head's attention entropy (nats) over the logged steps. */
export function entropyPanel(records: readonly MetricsRecord[], options: { id?: string } = {}): string {
  return entropyChart(records, { id: options.id ?? 'lab-entropy', width: WIDE });
}

/** Each block's token similarity over the logged steps (1: rank collapse). */
export function similarityPanel(records: readonly MetricsRecord[], options: { id?: string } = {}): string {
  return tokenSimilarityChart(records, { id: options.id ?? 'lab-similarity', width: WIDE });
}
