/**
 * The residual figures of a report (and of the lab, which draws the same SVG): per residual block and logged step,
 * the mean square of the stream arriving at the block's sum (its shortcut) and the branch/shortcut ratio, from the
 * monitor's `residual` records (monitor/residual.ts).
 *
 * Without a norm each x + F(x) adds its branch's variance to the stream, which then grows geometrically with depth
 * (Yang & Schoenholz 2017, "Mean Field Residual Networks"; Zhang et al. 2019, "Fixup Initialization"); with batch
 * norm in the branch it grows about linearly; Fixup, ReZero and SkipInit start every ratio at 0, the identity.
 *
 * @example
 * if (hasResidualData(records)) html += streamHeatMap(records) + branchRatioHeatMap(records);
 */
import type { MetricsRecord } from '../io/runlog.js';
import { heatMap } from './svg.js';

/** Whether the run logged residual blocks. */
export function hasResidualData(records: readonly MetricsRecord[]): boolean {
  return records.some((r) => (r.residual?.length ?? 0) > 0);
}

/** The blocks' layer indices (input side first) and each block's name, as the records give them. */
function blocksOf(records: readonly MetricsRecord[]): Array<{ layer: number; name: string }> {
  const seen = new Map<number, string>();
  for (const r of records)
    for (const b of r.residual ?? []) if (!seen.has(b.layer)) seen.set(b.layer, b.name);
  return [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([layer, name]) => ({ layer, name }));
}

type Field = 'shortcut' | 'ratio';

/** values[block][logged step] of one field; NaN where a record has no entry for the block. */
export function residualGrid(
  records: readonly MetricsRecord[],
  field: Field,
): { blocks: Array<{ layer: number; name: string }>; steps: number[]; values: number[][] } {
  const logged = records.filter((r) => (r.residual?.length ?? 0) > 0);
  const blocks = blocksOf(logged);
  const values = blocks.map((block) =>
    logged.map((r) => r.residual?.find((b) => b.layer === block.layer)?.[field] ?? NaN),
  );
  return { blocks, steps: logged.map((r) => r.step), values };
}

function grid(
  records: readonly MetricsRecord[],
  field: Field,
  options: { id: string; title: string; valueLabel: string; maxColumns?: number; width?: number },
): string {
  const { blocks, steps, values } = residualGrid(records, field);
  return heatMap({
    id: options.id,
    title: options.title,
    rowLabels: blocks.map((b) => `block ${b.layer}`),
    rowTitles: blocks.map((b) => b.name),
    columns: steps,
    values,
    xLabel: 'step',
    yLabel: 'residual block (input at the bottom)',
    valueLabel: options.valueLabel,
    ...(options.maxColumns !== undefined ? { maxColumns: options.maxColumns } : {}),
    ...(options.width !== undefined ? { width: options.width } : {}),
  });
}

/** log10 of the stream's mean square arriving at each block's sum, by logged step. */
export function streamHeatMap(
  records: readonly MetricsRecord[],
  options: { id?: string; maxColumns?: number; width?: number } = {},
): string {
  return grid(records, 'shortcut', {
    id: options.id ?? 'residual-stream',
    title: 'Residual stream mean square per block',
    valueLabel: 'mean square of the shortcut',
    ...options,
  });
}

/** log10 of each block's branch/shortcut mean-square ratio, by logged step. */
export function branchRatioHeatMap(
  records: readonly MetricsRecord[],
  options: { id?: string; maxColumns?: number; width?: number } = {},
): string {
  return grid(records, 'ratio', {
    id: options.id ?? 'residual-ratio',
    title: 'Branch / shortcut ratio per block',
    valueLabel: 'branch / shortcut',
    ...options,
  });
}
