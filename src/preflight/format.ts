/**
 * The preflight report as terminal text: a per-layer table of measured beside predicted values, the Jacobian, the
 * theory line, the verdict, the advice and the fixes (printed as the doctor prints them, with their flags). Plain text only (no colour codes), so it reads the same in a log.
 */
import { fixLines } from '../doctor/format.js';
import type { PreflightReport } from './index.js';

/** Rows shown of a long table: the first and last few and evenly spaced ones between. */
const MAX_ROWS = 24;

/**
 * @example
 * process.stdout.write(formatReport(preflight(config)));
 */
export function formatReport(report: PreflightReport): string {
  const lines: string[] = [];
  const m = report.model;
  const shape =
    m.kind === 'mlp'
      ? `${describeWidths(m.widths)} ${m.activation}`
      : `${m.kind} ${m.widths.length} x ${m.widths[0] ?? 0}${m.kind === 'rnn' ? ` ${m.activation}` : ''}`;
  const extras = [m.norm !== 'none' ? `${m.norm} norm` : '', m.residual ? 'residual' : '']
    .filter(Boolean)
    .join(', ');
  lines.push(
    `preflight ${report.name}: ${report.networks} network${report.networks === 1 ? '' : 's'} of ${shape}${extras ? ` (${extras})` : ''}, init ${m.init}`,
  );
  lines.push(`inputs: ${INPUTS[report.inputs](report)}`);
  lines.push('');
  lines.push(...layerTable(report));
  if (report.recurrent) {
    lines.push('');
    lines.push(...timeTable(report));
  }
  lines.push('');
  const t = report.theory;
  if (t) {
    lines.push(
      `theory (mean field): q* = ${t.qStar === null ? `none (${t.fixedPoint})` : num(t.qStar)}, chi_1 = ${num(t.chi1)}, ` +
        `depth scale ${num(t.depthScale)} layers, phase ${t.phase} (sigma_w^2 = ${num(t.sigmaW2)}, sigma_b^2 = ${num(t.sigmaB2)}` +
        `${t.biasMean !== 0 ? `, bias mean ${num(t.biasMean)}` : ''}; critical sigma_w^2 = ${t.criticalSigmaW2 === null ? 'none' : num(t.criticalSigmaW2)})`,
    );
  } else if (report.theoryNote) {
    lines.push(`theory: ${report.theoryNote}`);
  }
  const L = report.layers.length;
  const fit =
    report.fit.perLayerFactor === null ? '' : `; fitted factor per layer ${num(report.fit.perLayerFactor)}`;
  const step =
    report.fit.perStepFactor === null ? '' : `; fitted factor per step ${num(report.fit.perStepFactor)}`;
  const ratioLabel = report.recurrent
    ? `(||dL/dh_1|| / ||dL/dh_T||)^2`
    : `gradNorm2[0] / gradNorm2[${L - 1}]`;
  lines.push(
    `measured: ${ratioLabel} = ${num(report.gradRatio)}${fit}${step}${t ? ` (predicted ${num(t.gradRatio)})` : ''}`,
  );
  lines.push(
    `spread across networks: var ln gradNorm2[0] = ${num(report.spread.varLogGrad)}, var ln ||x_L||^2 = ${num(report.spread.varLogSignal)}`,
  );
  const j = report.jacobian;
  const jacobian = report.recurrent ? 'jacobian dh_T/dx' : 'jacobian dx_L/dx_0';
  if (report.transformer) {
    const w = report.transformer.weightGrad;
    lines.push(`||dL/dW2|| per block (feed-forward output weight): ${w.map(num).join(', ')}`);
  }
  if (j.method === 'none') lines.push(`${jacobian}: not measured for this model`);
  else
    lines.push(
      `${jacobian} (${j.method}, ${j.singularValues} singular values): mean s^2 = ${num(j.meanSquaredSingular)}, ` +
        `variance of s^2 = ${num(j.varianceSquaredSingular)}, largest s = ${num(j.maxSingular)}`,
    );
  lines.push('');
  lines.push(`verdict: ${report.verdict}`);
  for (const line of report.advice) lines.push(`  - ${line}`);
  if (report.fixes.length > 0) {
    // As the doctor prints its fixes: the change, its merge patch, the flags to paste after `gradscope run`, why.
    lines.push('fixes, best first:');
    report.fixes.forEach((fix, k) => lines.push(...fixLines(fix, k + 1, '  ')));
  }
  return lines.join('\n') + '\n';
}

const INPUTS: { readonly [K in PreflightReport['inputs']]: (report: PreflightReport) => string } = {
  'gaussian-fixed-point': (r) =>
    `Gaussian, scaled so layer 0's mean squared pre-activation is q* = ${num(r.theory?.qStar ?? NaN)}`,
  'gaussian-unit': () => 'Gaussian with unit variance',
  task: () => "the task's own",
};

function describeWidths(widths: readonly number[]): string {
  if (widths.length > 0 && widths.every((w) => w === widths[0])) return `${widths.length} x ${widths[0]}`;
  return `[${widths.join(', ')}]`;
}

function layerTable(report: PreflightReport): string[] {
  const recurrent = report.recurrent !== null;
  const header = recurrent
    ? ['layer', 'width', 'mean h^2', 'sum_t ||dL/dh_t||^2']
    : ['layer', 'width', 'q', 'q theory', '||dL/dh||^2', 'theory', 'measured/theory'];
  const rows = pick(report.layers.length).map((l) => {
    const layer = report.layers[l];
    if (!layer) return header.map(() => '');
    if (recurrent) return [String(layer.layer), String(layer.width), num(layer.q), num(layer.gradNorm2)];
    const ratio = layer.gradNorm2Theory === null ? '' : num(layer.gradNorm2 / layer.gradNorm2Theory);
    return [
      String(layer.layer),
      String(layer.width),
      num(layer.q),
      layer.qTheory === null ? '-' : num(layer.qTheory),
      num(layer.gradNorm2),
      layer.gradNorm2Theory === null ? '-' : num(layer.gradNorm2Theory),
      ratio || '-',
    ];
  });
  return table(header, rows);
}

function timeTable(report: PreflightReport): string[] {
  const T = report.timeGrad.length;
  const header = ['t', '||dL/dh_t||'];
  const rows = pick(T).map((i) => [String(i + 1), num(report.timeGrad[i] ?? NaN)]);
  return table(header, rows);
}

/** Indices to show of n rows: all up to MAX_ROWS, else the first and last few and evenly spaced ones between. */
function pick(n: number): number[] {
  if (n <= MAX_ROWS) return Array.from({ length: n }, (_, i) => i);
  const ends = 4;
  const middle = MAX_ROWS - 2 * ends;
  const out: number[] = [];
  for (let i = 0; i < ends; i++) out.push(i);
  for (let k = 1; k <= middle; k++) out.push(ends - 1 + Math.round((k * (n - 2 * ends + 1)) / (middle + 1)));
  for (let i = n - ends; i < n; i++) out.push(i);
  return out.filter((v, i, all) => all.indexOf(v) === i);
}

function table(header: readonly string[], rows: readonly string[][]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => cell.padStart(widths[c] as number)).join('  ');
  return [line(header), ...rows.map(line)];
}

/** Four significant digits, exponent form for very large or small values. */
function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e5 ? String(Number(x.toPrecision(4))) : x.toExponential(3);
}
