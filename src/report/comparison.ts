/**
 * The page and JSON of `gradscope compare`: runs side by side (loss, first-layer gradient, gradient over depth and
 * through time, a table of outcomes, each run's most serious finding) and `comparison.json` naming the best run.
 */
import { join } from 'node:path';
import {
  describeClip,
  describeModel,
  describeOptimizer,
  layerGradNorm,
  readFindings,
  type ReportFinding,
  type RunData,
} from './data.js';
import { escapeHtml, formatNumber, formatPercent } from './format.js';
import { figure, htmlPage, verdictBadge } from './page.js';
import { depthProfile, edgeLayerLines, lossLine, perStep, timeGradRatio, timeProfile } from './figures.js';
import { lineChart, PALETTE, type Series } from './svg.js';

/** One run's line in comparison.json. */
export interface ComparedRun {
  name: string;
  dir?: string;
  verdict: string | null;
  finalLoss: number;
  bestLoss: number;
  eval: { loss: number; accuracy?: number };
  baseline: { loss: number; accuracy?: number; description: string };
  stepsPerSecond: number;
  skippedSteps: number;
  clippedSteps: number;
  /** Finding codes, most severe first. */
  findings: string[];
}

/** comparison.json: every run, and the one with the lowest finite eval loss (null when none is finite). */
export interface Comparison {
  runs: ComparedRun[];
  best: string | null;
  /** Index of `best` in `runs` (names may repeat). */
  bestIndex: number | null;
}

function colorOf(index: number): string {
  return PALETTE[index % PALETTE.length] as string;
}

/**
 * The comparison's data: one entry per run, and the best run by eval loss among the finite ones (the first
 * on a tie).
 *
 * @example compareRuns([a, b]).best // 'deep-relu-he'
 */
export function compareRuns(runs: readonly RunData[]): Comparison {
  const list: ComparedRun[] = runs.map((run) => {
    const s = run.summary;
    return {
      name: s.name || run.config.name,
      ...(run.dir !== undefined ? { dir: run.dir } : {}),
      verdict: s.verdict ?? null,
      finalLoss: s.finalLoss,
      bestLoss: s.bestLoss,
      eval: { ...(s.eval ?? { loss: NaN }) },
      baseline: { ...(s.baseline ?? { loss: NaN, description: '' }) },
      stepsPerSecond: s.stepsPerSecond,
      skippedSteps: s.skippedSteps,
      clippedSteps: s.clippedSteps,
      findings: readFindings(s.findings).map((f) => f.code),
    };
  });
  let bestIndex: number | null = null;
  list.forEach((run, i) => {
    const loss = run.eval.loss;
    if (typeof loss !== 'number' || !Number.isFinite(loss)) return;
    if (bestIndex === null || loss < (list[bestIndex] as ComparedRun).eval.loss) bestIndex = i;
  });
  return { runs: list, best: bestIndex === null ? null : (list[bestIndex] as ComparedRun).name, bestIndex };
}

function firstLayerSeries(runs: readonly RunData[]): Series[] {
  return runs.map((run, i) => ({
    name: run.summary.name || run.config.name,
    points: edgeLayerLines(run.records).first?.points ?? perStep(run.records, () => NaN),
    color: colorOf(i),
  }));
}

/** Each run's depth profile at its last logged step the guard did not skip (its first, when there is no other). */
function flowSeries(runs: readonly RunData[]): Series[] {
  return runs.map((run, i) => {
    const line = depthProfile(run.records, layerGradNorm).at(-1);
    return {
      name: `${run.summary.name || run.config.name}${line ? ` (step ${line.step})` : ''}`,
      points: line?.points ?? [],
      color: colorOf(i),
      dots: true,
    };
  });
}

function reportLink(run: RunData): string {
  return run.dir === undefined ? '' : join(run.dir, 'report.html');
}

function runName(run: RunData): string {
  return run.summary.name || run.config.name || 'run';
}

function table(runs: readonly RunData[], comparison: Comparison): string {
  const anyAccuracy = runs.some((r) => r.summary.eval?.accuracy !== undefined);
  const head = [
    'run',
    'verdict',
    'eval loss',
    ...(anyAccuracy ? ['accuracy'] : []),
    'baseline loss',
    'final loss',
    'best loss',
    'steps/s',
    'skipped',
    'clipped',
  ];
  const rows = runs.map((run, i) => {
    const s = run.summary;
    const link = reportLink(run);
    const name = escapeHtml(runName(run));
    const cells = [
      `<span class="swatch" style="background:${colorOf(i)}"></span>${link ? `<a href="${escapeHtml(link)}">${name}</a>` : name}` +
        (comparison.bestIndex === i ? ' <strong>(best)</strong>' : '') +
        `<div class="setup">${escapeHtml([describeModel(run.config), describeOptimizer(run.config), describeClip(run.config)].join(' · '))}</div>`,
      verdictBadge(s.verdict),
      escapeHtml(formatNumber(s.eval?.loss ?? NaN)),
      ...(anyAccuracy
        ? [escapeHtml(s.eval?.accuracy === undefined ? '—' : formatPercent(s.eval.accuracy))]
        : []),
      escapeHtml(formatNumber(s.baseline?.loss ?? NaN)),
      escapeHtml(formatNumber(s.finalLoss)),
      escapeHtml(formatNumber(s.bestLoss)),
      escapeHtml(formatNumber(s.stepsPerSecond)),
      String(s.skippedSteps),
      String(s.clippedSteps),
    ];
    return `<tr${comparison.bestIndex === i ? ' class="best"' : ''}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return (
    `<div class="table-wrap"><table class="runs"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table></div>`
  );
}

function topFinding(run: RunData, index: number): string {
  const findings: ReportFinding[] = readFindings(run.summary.findings);
  const top = findings[0];
  const head =
    `<div class="finding-head"><span class="swatch" style="background:${colorOf(index)}"></span>` +
    `<h3>${escapeHtml(runName(run))}</h3>${verdictBadge(run.summary.verdict)}</div>`;
  if (!top) {
    return `<article class="finding${run.summary.verdict === 'healthy' ? ' healthy' : ''}">${head}<p class="muted">No findings${run.summary.verdict === 'healthy' ? ': healthy.' : '.'}</p></article>`;
  }
  const fix = top.fixes[0];
  let patch = '';
  if (fix && fix.patch !== undefined) {
    try {
      patch = JSON.stringify(fix.patch) ?? '';
    } catch {
      patch = '';
    }
  }
  return (
    `<article class="finding ${top.severity}">${head}` +
    `<p class="where"><span class="sev">${escapeHtml(top.severity)}</span> <strong>${escapeHtml(top.title)}</strong> ` +
    `<code class="code">${escapeHtml(top.code)}</code></p>` +
    (top.evidence[0] ? `<h4>Evidence</h4><p>${escapeHtml(top.evidence[0])}</p>` : '') +
    (top.cause ? `<h4>Cause</h4><p>${escapeHtml(top.cause)}</p>` : '') +
    (fix
      ? `<h4>First fix</h4><div class="fix-change">${escapeHtml(fix.change)}</div>` +
        (patch
          ? `<div class="patch-line">config change: <code class="patch">${escapeHtml(patch)}</code></div>`
          : '') +
        (fix.why ? `<div class="why">${escapeHtml(fix.why)}</div>` : '')
      : '') +
    (findings.length > 1
      ? `<p class="muted">and ${findings.length - 1} more finding${findings.length > 2 ? 's' : ''}</p>`
      : '') +
    '</article>'
  );
}

/**
 * The comparison page and the JSON for comparison.json.
 *
 * @example const { html, comparison } = renderComparison(dirs.map(loadRun));
 */
export function renderComparison(runs: readonly RunData[]): { html: string; comparison: Comparison } {
  const comparison = compareRuns(runs);
  const names = runs.map(runName);
  const title = names.length <= 3 ? names.join(' vs ') : `${names.length} runs`;
  const best = comparison.bestIndex === null ? null : runs[comparison.bestIndex];

  const header =
    '<header class="top"><div class="eyebrow">gradscope · comparison</div>' +
    `<h1><span>${escapeHtml(title || 'no runs')}</span></h1>` +
    `<p class="subtitle">${
      best
        ? `Lowest eval loss: <strong>${escapeHtml(runName(best))}</strong> (${escapeHtml(formatNumber(best.summary.eval.loss))})`
        : 'No run has a finite eval loss.'
    }</p></header>`;

  const lossSeries: Series[] = runs.map((run, i) => ({
    name: runName(run),
    points: lossLine(run.records),
    color: colorOf(i),
  }));

  // Each recurrent run's time profile at its last logged step with per-time-step gradients.
  const recurrent = runs.flatMap((run, i) => {
    const last = timeProfile(run.records).at(-1);
    return last ? [{ run, i, last }] : [];
  });
  const timeSeries: Series[] = recurrent.map(({ run, i, last }) => ({
    name: `${runName(run)} (step ${last.step})`,
    points: last.points,
    color: colorOf(i),
  }));

  const charts =
    '<section id="charts"><h2>Side by side</h2><div class="grid2">' +
    figure(
      'chart-loss',
      'Training loss',
      'Each run’s training loss at its logged steps (log scale when the losses span more than two orders of magnitude).',
      lineChart({
        id: 'cmp-loss',
        title: 'Training loss, all runs',
        xLabel: 'step',
        yLabel: 'loss',
        integerX: true,
        series: lossSeries,
      }),
    ) +
    figure(
      'chart-first-layer',
      'First-layer gradient norm',
      'The gradient that reaches the layer nearest the input, over training: the first place a vanishing gradient shows.',
      lineChart({
        id: 'cmp-first-layer',
        title: 'First-layer gradient norm, all runs',
        xLabel: 'step',
        yLabel: '‖g‖ of layer 0',
        integerX: true,
        series: firstLayerSeries(runs),
        yScale: 'log',
      }),
    ) +
    figure(
      'chart-flow',
      'Gradient flow over depth, at the end',
      'Each layer’s gradient norm at each run’s last logged step that the guard did not skip, input on the left.',
      lineChart({
        id: 'cmp-flow',
        title: 'Final gradient flow profile, all runs',
        xLabel: 'layer (0 = input side)',
        yLabel: '‖g‖ per layer',
        integerX: true,
        series: flowSeries(runs),
        yScale: 'log',
      }),
    ) +
    (timeSeries.length
      ? figure(
          'chart-time',
          'Gradient through time, at the end',
          '‖∂L/∂hₜ‖ per time step at each recurrent run’s last logged step. ‖∂L/∂h₁‖ / ‖∂L/∂h_T‖: ' +
            recurrent
              .map(
                ({ run, last }) =>
                  `${runName(run)} ${formatNumber(timeGradRatio(last.points.map(([, g]) => g)))}`,
              )
              .join(', ') +
            '.',
          lineChart({
            id: 'cmp-time',
            title: 'Gradient per time step, recurrent runs',
            xLabel: 'time step t',
            yLabel: '‖∂L/∂hₜ‖',
            integerX: true,
            series: timeSeries,
            yScale: 'log',
          }),
        )
      : '') +
    '</div></section>';

  const body =
    header +
    `<section id="runs" style="margin-top:22px">${table(runs, comparison)}</section>` +
    charts +
    `<section id="findings"><h2>Each run’s most serious finding</h2><div class="top-findings">${runs.map(topFinding).join('')}</div></section>` +
    `<footer>Generated by gradscope compare from ${runs.length} run director${runs.length === 1 ? 'y' : 'ies'}; each run’s own report.html has every plot.</footer>`;

  return { html: htmlPage(`${title || 'comparison'} · gradscope comparison`, body), comparison };
}
