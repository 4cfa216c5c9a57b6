/**
 * `report.html` for one run: the verdict and key numbers, the doctor's findings with their fixes, then the plots
 * that show where the gradient goes (loss, global norm, per-layer heat map, depth profile, update ratios,
 * per-time-step decay, saturation and dead units) and the resolved config.
 */
import type { MetricsRecord } from '../io/runlog.js';
import {
  describeClip,
  describeModel,
  describeOptimizer,
  firstMiddleLast,
  layerGradNorm,
  layerParamNames,
  layerUpdateRatio,
  readFindings,
  timeGradRecords,
  type RunData,
} from './data.js';
import {
  activationProfile,
  depthProfile,
  gradientGrid,
  gradNormLines,
  lossLine,
  timeGrid,
  timeGradRatio,
  timeProfile,
  type Moment,
} from './figures.js';
import type { PreflightData } from './data.js';
import { escapeHtml, formatDuration, formatNumber, formatPercent, readableJson } from './format.js';
import { cards, figure, htmlPage, renderFinding, VERDICT_TEXT, verdictBadge, type Card } from './page.js';
import { branchRatioHeatMap, hasResidualData, streamHeatMap } from './residual.js';
import { barChart, heatMap, lineChart, PALETTE, type Series, type XMarker } from './svg.js';
import { entropyChart, hasTransformerData, sublayerHeatMap, tokenSimilarityChart } from './transformer.js';

/** Colours for "start" and "end" (and "middle") in the depth and time profiles. */
const START = '#9aa5b1';
const MIDDLE = '#f28e2b';
const END = '#4e79a7';

/** How an eval number compares with the baseline, in words, and whether that is good news. */
export function versusBaseline(
  value: number,
  baseline: number | undefined,
  higherIsBetter: boolean,
): { text: string; tone: Card['tone'] } {
  if (!Number.isFinite(value)) return { text: 'not finite', tone: 'bad' };
  if (baseline === undefined || !Number.isFinite(baseline)) return { text: '', tone: 'neutral' };
  const better = higherIsBetter ? value - baseline : baseline - value;
  const scale = Math.max(Math.abs(baseline), 1e-12);
  if (better / scale > 0.1) {
    const factor = higherIsBetter ? '' : value > 0 ? `, ${formatNumber(baseline / value, 2)}× lower` : '';
    return { text: `beats baseline ${formatBaseline(baseline, higherIsBetter)}${factor}`, tone: 'good' };
  }
  if (better / scale > 0.02)
    return {
      text: `slightly better than baseline ${formatBaseline(baseline, higherIsBetter)}`,
      tone: 'neutral',
    };
  return { text: `no better than baseline ${formatBaseline(baseline, higherIsBetter)}`, tone: 'bad' };
}

function formatBaseline(value: number, isAccuracy: boolean): string {
  return isAccuracy ? formatPercent(value) : formatNumber(value);
}

function taskText(run: RunData): string {
  const task = run.config.task;
  if (!task) return 'task unknown';
  const details = [
    task.length !== undefined ? `T = ${task.length}` : '',
    task.mode !== undefined ? task.mode : '',
    task.size !== undefined ? `${task.size} examples` : '',
  ].filter(Boolean);
  return `${task.name}${details.length ? ` (${details.join(', ')})` : ''}`;
}

function stepMarkers(run: RunData): XMarker[] {
  const markers: XMarker[] = [];
  for (const r of run.records) {
    if (r.skipped) markers.push({ x: r.step, kind: 'skipped' });
    else if (r.nonFiniteSource !== undefined && run.config.guard === 'rollback')
      markers.push({ x: r.step, kind: 'rollback' });
  }
  return markers;
}

function keyNumbers(run: RunData): Card[] {
  const s = run.summary;
  const list: Card[] = [
    {
      label: 'Steps',
      value: String(s.steps),
      sub: `${run.records.length} logged · ${formatDuration(s.wallSeconds)}${s.stoppedEarly ? ' · stopped early' : ''}`,
      ...(s.stoppedEarly ? { tone: 'bad' as const } : {}),
    },
    { label: 'Speed', value: `${formatNumber(s.stepsPerSecond)} /s`, sub: 'training steps per second' },
    {
      label: 'Final loss',
      value: formatNumber(s.finalLoss),
      sub: `best ${formatNumber(s.bestLoss)}`,
      tone: Number.isFinite(s.finalLoss) ? 'neutral' : 'bad',
    },
  ];
  const evalLoss = versusBaseline(s.eval?.loss ?? NaN, s.baseline?.loss, false);
  list.push({
    label: 'Eval loss',
    value: formatNumber(s.eval?.loss ?? NaN),
    sub: evalLoss.text,
    tone: evalLoss.tone ?? 'neutral',
  });
  if (s.eval?.accuracy !== undefined) {
    const acc = versusBaseline(s.eval.accuracy, s.baseline?.accuracy, true);
    list.push({
      label: 'Eval accuracy',
      value: formatPercent(s.eval.accuracy),
      sub: acc.text,
      tone: acc.tone ?? 'neutral',
    });
  }
  list.push({
    label: 'Skipped steps',
    value: String(s.skippedSteps),
    sub: `non-finite guard: ${run.config.guard ?? '?'}${s.rolledBackSteps ? ` · ${s.rolledBackSteps} rolled back` : ''}`,
    tone: s.skippedSteps > 0 || s.rolledBackSteps > 0 ? 'bad' : 'neutral',
  });
  list.push({
    label: 'Clipped steps',
    value: String(s.clippedSteps),
    sub: `${s.steps > 0 ? formatPercent(s.clippedSteps / s.steps) + ' of steps · ' : ''}${describeClip(run.config)}`,
  });
  return list;
}

function lossChart(run: RunData): string {
  const points = lossLine(run.records);
  const baseline = run.summary.baseline?.loss;
  return lineChart({
    id: 'loss-chart',
    title: 'Training loss',
    xLabel: 'step',
    yLabel: 'loss',
    integerX: true,
    series: [{ name: 'training loss', points, color: PALETTE[0] as string }],
    markers: stepMarkers(run),
    references:
      baseline !== undefined && Number.isFinite(baseline)
        ? [{ y: baseline, label: `baseline loss ${formatNumber(baseline)} (eval)` }]
        : [],
    yScale: 'auto',
  });
}

function gradNormChart(run: RunData): string {
  const clipping = run.config.clip?.name !== undefined && run.config.clip.name !== 'none';
  const { before, after } = gradNormLines(run.records);
  const series: Series[] = [{ name: 'before clipping', points: before, color: PALETTE[3] as string }];
  if (clipping || run.records.some((r) => r.clipped)) {
    series.push({
      name: 'after clipping',
      points: after,
      color: PALETTE[0] as string,
      dashed: true,
    });
  }
  return lineChart({
    id: 'grad-norm-chart',
    title: 'Global gradient norm',
    xLabel: 'step',
    yLabel: '‖g‖ (L2, all parameters)',
    integerX: true,
    series,
    markers: stepMarkers(run),
    yScale: 'log',
  });
}

function layerRowLabels(layers: readonly number[]): string[] {
  return layers.map((l, i) =>
    i === 0 ? `${l} input` : i === layers.length - 1 && layers.length > 1 ? `${l} output` : String(l),
  );
}

/**
 * The heat map of log10 gradient norm, layers (input at the bottom) by logged steps: one drawing for the report
 * and the lab.
 */
export function gradientHeatMap(
  records: readonly MetricsRecord[],
  options: { id?: string; maxColumns?: number; width?: number } = {},
): string {
  const grid = gradientGrid(records);
  return heatMap({
    id: options.id ?? 'grad-heatmap',
    title: 'log10 gradient norm per layer and step',
    rowLabels: layerRowLabels(grid.layers),
    rowTitles: grid.layers.map((l) => `layer ${l}: ${layerParamNames(records, l).join(', ')}`),
    columns: grid.steps,
    values: grid.values,
    flaggedColumns: records.flatMap((r, i) =>
      r.skipped ? [{ column: i, label: `step ${r.step} skipped` }] : [],
    ),
    xLabel: 'logged step',
    yLabel: 'layer (input at the bottom)',
    valueLabel: '‖g‖ per layer',
    maxColumns: options.maxColumns ?? 300,
    ...(options.width === undefined ? {} : { width: options.width }),
  });
}

const MOMENT_COLOR: { readonly [M in Moment]: string } = { start: START, middle: MIDDLE, end: END };

/** The depth profile at the first and the last (not skipped) logged step, drawn as dotted lines. */
function depthSeries(
  records: readonly MetricsRecord[],
  value: (r: MetricsRecord, layer: number) => number,
): Series[] {
  return depthProfile(records, value).map((line) => ({
    name: line.name,
    points: line.points,
    color: MOMENT_COLOR[line.moment],
    dots: true,
  }));
}

function flowChart(run: RunData): string {
  return lineChart({
    id: 'flow-chart',
    title: 'Gradient norm over depth',
    xLabel: 'layer (0 = input side)',
    yLabel: '‖g‖ per layer',
    integerX: true,
    series: depthSeries(run.records, layerGradNorm),
    yScale: 'log',
  });
}

function updateRatioChart(run: RunData): string {
  return lineChart({
    id: 'update-ratio-chart',
    title: 'Update to weight ratio per layer',
    xLabel: 'layer (0 = input side)',
    yLabel: '‖Δw‖ / ‖w‖',
    integerX: true,
    series: depthSeries(run.records, layerUpdateRatio),
    references: [{ y: 1e-3, label: '10⁻³ (rule of thumb)' }],
    yScale: 'log',
  });
}

/** At most this many time-step rows in the time heat map; longer sequences are averaged in blocks. */
const MAX_TIME_ROWS = 60;

/**
 * ||dL/dh_t|| as a heat map, time steps (t = 1 at the bottom) x logged steps. Blocks of time steps are merged by
 * their geometric mean (the mean of log10) when the sequence is long; a non-finite value makes its block non-finite.
 */
function timeHeatMap(records: readonly MetricsRecord[]): string {
  const { rowLabels, steps, values } = timeGrid(records, MAX_TIME_ROWS);
  return heatMap({
    id: 'time-heatmap',
    title: 'log10 gradient norm per time step and training step',
    rowLabels,
    columns: steps,
    values,
    flaggedColumns: records.flatMap((r, i) =>
      r.skipped ? [{ column: i, label: `step ${r.step} skipped` }] : [],
    ),
    xLabel: 'logged step',
    yLabel: 'time step (t = 1 at the bottom)',
    valueLabel: '‖∂L/∂hₜ‖',
    maxColumns: 300,
  });
}

function timeChart(records: readonly MetricsRecord[]): string {
  return lineChart({
    id: 'time-chart',
    title: 'Gradient through time',
    xLabel: 'time step t (the loss is read at the end of the sequence)',
    yLabel: '‖∂L/∂hₜ‖',
    integerX: true,
    width: 1100,
    height: 320,
    series: timeProfile(records).map((line) => ({
      name: line.name,
      points: line.points,
      color: MOMENT_COLOR[line.moment],
    })),
    yScale: 'log',
  });
}

function activationCharts(run: RunData): string {
  const chart = (field: 'saturated' | 'dead', title: string): string => {
    const { layers, bars } = activationProfile(run.records, field);
    return barChart({
      id: `${field}-chart`,
      title,
      groups: layers.map(String),
      series: bars.map((bar) => ({ name: bar.name, values: bar.values, color: MOMENT_COLOR[bar.moment] })),
      xLabel: 'layer (0 = input side)',
      yLabel: field === 'saturated' ? 'saturated units' : 'dead units',
      height: 250,
    });
  };
  return (
    '<div class="grid2">' +
    figure(
      'chart-saturation',
      'Saturated units',
      'Fraction of units whose activation derivative is below the cut-off for the whole batch (sigmoid and tanh). ' +
        'A saturated unit passes almost no gradient back.',
      chart('saturated', 'Saturated units per layer'),
    ) +
    figure(
      'chart-dead',
      'Dead units',
      'Fraction of units that output zero for the whole batch (ReLU family). A dead unit gets no gradient and may never recover.',
      chart('dead', 'Dead units per layer'),
    ) +
    '</div>'
  );
}

/**
 * The run's report as one self-contained HTML page (inline CSS and SVG, no network).
 *
 * @example writeFileSync(join(dir, 'report.html'), renderRunReport(loadRun(dir)))
 */
/** The preflight panel: ||dL/dh_l||^2 per layer at initialisation, measured and predicted, with the advice. */
function renderPreflight(pre: PreflightData): string {
  const measured: Series = {
    name: `measured (mean of ${pre.networks} networks)`,
    points: pre.layers.map((l) => [l.layer, l.gradNorm2] as const),
    color: START,
    dots: true,
  };
  const series: Series[] = [measured];
  if (pre.layers.some((l) => typeof l.gradNorm2Theory === 'number')) {
    series.push({
      name: 'mean-field theory',
      points: pre.layers.map(
        (l) => [l.layer, typeof l.gradNorm2Theory === 'number' ? l.gradNorm2Theory : NaN] as const,
      ),
      color: END,
      dashed: true,
    });
  }
  const theory = pre.theory
    ? `Theory: χ₁ = ${formatNumber(pre.theory.chi1)} (${escapeHtml(pre.theory.phase)} phase), depth scale ${formatNumber(pre.theory.depthScale)} layers${
        pre.theory.qStar === null ? '' : `, q* = ${formatNumber(pre.theory.qStar)}`
      }.`
    : escapeHtml(pre.theoryNote ?? 'No exact theory applies to this model; only measurement is shown.');
  return (
    '<section id="preflight"><h2>At initialisation (preflight)</h2><div class="grid2">' +
    figure(
      'chart-preflight',
      `Gradient at initialisation per layer, ‖∂L/∂hₗ‖² — preflight verdict: ${escapeHtml(pre.verdict)}`,
      'Before any training: freshly initialised networks probed with Gaussian inputs and a random linear loss on the last ' +
        'hidden layer (gradscope preflight). The dashed line is the mean-field prediction (Poole et al. 2016; Schoenholz et al. 2017). ' +
        theory,
      lineChart({
        id: 'preflight-chart',
        title: 'Squared gradient norm per layer at initialisation',
        xLabel: 'layer (0 = input side)',
        yLabel: '‖∂L/∂hₗ‖²',
        integerX: true,
        series,
        yScale: 'log',
      }),
      true,
    ) +
    (pre.advice.length
      ? `<ul class="advice">${pre.advice.map((a) => `<li>${escapeHtml(a)}</li>`).join('')}</ul>`
      : '') +
    '</section>'
  );
}

/** `gradscope fix` / `run --verify` leave `summary.verified.headline`: "verified: +62 points accuracy in 600 steps ...". */
function verifiedLine(summary: object): string {
  const verified = (summary as { verified?: { headline?: unknown } }).verified;
  return typeof verified?.headline === 'string'
    ? `<p class="meaning"><strong>fixes:</strong> ${escapeHtml(verified.headline)} (fixes/report.html).</p>`
    : '';
}

/** The Transformer section: gradients per sublayer and the residual stream, attention entropy, token similarity. */
function renderTransformerSection(records: readonly MetricsRecord[]): string {
  return (
    '<section id="transformer"><h2>Inside the Transformer blocks</h2>' +
    figure(
      'chart-sublayer-heatmap',
      'Gradient norm per sublayer over training (log10)',
      'Each block’s attention, cross-attention and feed-forward sublayers (parameters with their LayerNorm) and ' +
        '‖∂L/∂x‖ of its output, the residual stream; the input at the bottom. At initialisation a Post-LN stack’s ' +
        'gradients are largest near the output, while a Pre-LN stack’s shrink towards the output (Xiong et al. 2020, ' +
        'Theorems 1 and 2).',
      sublayerHeatMap(records),
      true,
    ) +
    '<div class="grid2">' +
    figure(
      'chart-attention-entropy',
      'Attention entropy per head',
      'Mean entropy of each head’s attention weights in nats, coloured by block (dashed: every other head). ' +
        'ln T is uniform attention; a head falling towards 0 attends to one key, and such a collapse precedes ' +
        'instability (Zhai et al. 2023).',
      entropyChart(records),
    ) +
    figure(
      'chart-token-similarity',
      'Token similarity per block',
      'Mean cosine similarity of the token representations a block outputs within a sequence. Near 1 the tokens ' +
        'share one direction, rank collapse (Noci et al. 2022), and the query and key gradients vanish.',
      tokenSimilarityChart(records),
    ) +
    '</div></section>'
  );
}

export function renderRunReport(run: RunData): string {
  const { config, records, summary } = run;
  const name = summary.name || config.name || 'run';
  const findings = readFindings(summary.findings);
  const timePicks = firstMiddleLast(timeGradRecords(records));
  const verdict = summary.verdict;

  const header =
    '<header class="top"><div class="eyebrow">gradscope · run report</div>' +
    `<h1><span>${escapeHtml(name)}</span>${verdictBadge(verdict)}</h1>` +
    `<p class="subtitle">${escapeHtml(
      [
        taskText(run),
        describeModel(config),
        describeOptimizer(config),
        describeClip(config),
        `batch ${config.train?.batchSize ?? '?'}`,
        `seed ${config.seed ?? '?'}`,
      ].join(' · '),
    )}</p>` +
    (verdict !== undefined && VERDICT_TEXT[verdict]
      ? `<p class="meaning"><strong>${escapeHtml(verdict)}:</strong> ${escapeHtml(VERDICT_TEXT[verdict] as string)}.</p>`
      : '') +
    verifiedLine(summary) +
    '</header>';

  const banners: string[] = [];
  if (records.length === 0) banners.push('No metrics were logged for this run, so there is nothing to plot.');
  const firstNonFinite = summary.firstNonFinite ?? null;
  if (summary.stoppedEarly) {
    const source =
      firstNonFinite?.source ?? records.find((r) => r.nonFiniteSource !== undefined)?.nonFiniteSource;
    banners.push(`Training stopped early${source ? `: ${source}` : ''}.`);
  } else if (firstNonFinite) {
    banners.push(
      `The first non-finite value appeared at step ${firstNonFinite.step}: ${firstNonFinite.source}.`,
    );
  }
  if (run.badLines?.length) {
    const first = run.badLines[0] as { line: number; message: string };
    banners.push(
      `${run.badLines.length} line${run.badLines.length > 1 ? 's' : ''} of metrics.jsonl could not be read and ${run.badLines.length > 1 ? 'were' : 'was'} left out (line ${first.line}: ${first.message}).`,
    );
  }

  const numbers =
    `<section id="numbers" class="numbers" style="margin-top:0">${cards(keyNumbers(run))}` +
    (summary.baseline?.description
      ? `<p class="baseline-note">Baseline: ${escapeHtml(summary.baseline.description)}.</p>`
      : '') +
    banners.map((b) => `<div class="banner">${escapeHtml(b)}</div>`).join('') +
    '</section>';

  const toc = [
    ['diagnosis', 'Diagnosis'],
    ['training', 'Training'],
    ['layers', 'Gradients by layer'],
    ...(hasTransformerData(records) ? [['transformer', 'Inside the blocks']] : []),
    ...(run.preflight ? [['preflight', 'At initialisation']] : []),
    ...(timePicks.length ? [['time', 'Through time']] : []),
    ['activations', 'Activations'],
    ['config', 'Config'],
  ]
    .map(([id, label]) => `<a href="#${id}">${escapeHtml(label as string)}</a>`)
    .join('');

  const diagnosis =
    '<section id="diagnosis"><h2>Diagnosis</h2>' +
    (findings.length
      ? findings.map(renderFinding).join('')
      : `<p class="empty">${
          verdict === 'healthy'
            ? 'The doctor found nothing wrong with this run.'
            : verdict === undefined
              ? 'No diagnosis was recorded for this run (run gradscope doctor on the directory to get one).'
              : 'The doctor recorded no findings.'
        }</p>`) +
    '</section>';

  const training =
    '<section id="training"><h2>Training</h2><div class="grid2">' +
    figure(
      'chart-loss',
      'Loss',
      'Training loss at each logged step; the dotted line is the baseline loss on the evaluation set (see above). ' +
        'A log scale is used when the loss spans more than two orders of magnitude.',
      lossChart(run),
    ) +
    figure(
      'chart-grad-norm',
      'Global gradient norm',
      'L2 norm of the whole gradient before clipping' +
        (config.clip?.name && config.clip.name !== 'none' ? ' (solid) and after it (dashed)' : '') +
        '. Red lines and bands mark steps the non-finite guard skipped; triangles with a red edge mark NaN or ∞.',
      gradNormChart(run),
    ) +
    '</div></section>';

  const layerSection =
    '<section id="layers"><h2>Gradients by layer</h2>' +
    figure(
      'chart-heatmap',
      'Gradient norm per layer over training (log10)',
      'Each cell is the L2 norm of one layer’s gradient (weights and biases together) at one logged step. ' +
        'Rows are layers with the input at the bottom and the output at the top; dark is small, yellow is large. ' +
        'A vanishing gradient shows as a dark band at the bottom, an exploding one as a bright band there. ' +
        'Grey cells are exactly zero, hatched cells NaN or ∞, red ticks above mark skipped steps.',
      gradientHeatMap(run.records),
      true,
    ) +
    '<div class="grid2">' +
    figure(
      'chart-flow',
      'Gradient flow over depth',
      'Each layer’s gradient norm at the first logged step and at the last one, input on the left. ' +
        'Roughly flat is healthy; falling toward the input means vanishing, rising means exploding.',
      flowChart(run),
    ) +
    figure(
      'chart-update-ratio',
      'Update / weight ratio',
      'How far one optimiser step moves each layer’s weights, ‖Δw‖ / ‖w‖. About 10⁻³ is the usual rule of thumb ' +
        '(CS231n); far below, the layer barely learns; near 1, each step rewrites it.',
      updateRatioChart(run),
    ) +
    '</div></section>';

  let timeSection = '';
  if (timePicks.length) {
    const ratios = timePicks
      .map((r) => `${formatNumber(timeGradRatio(r.timeGrad ?? []))} at step ${r.step}`)
      .join(', ');
    timeSection =
      '<section id="time"><h2>Gradients through time</h2>' +
      figure(
        'chart-time',
        'Gradient norm per time step, ‖∂L/∂hₜ‖',
        'The gradient of the loss with respect to the hidden state at each time step, at the first, middle and last ' +
          'logged steps. The loss is read at the end, so the gradient enters on the right and flows back to t = 1; a line ' +
          `that falls to the left is a gradient vanishing through time. ‖∂L/∂h₁‖ / ‖∂L/∂h_T‖: ${ratios}.`,
        timeChart(records),
        true,
      ) +
      figure(
        'chart-time-heatmap',
        'Gradient norm per time step over training (log10)',
        'The same quantity at every logged step: rows are time steps with t = 1 at the bottom, columns are training ' +
          'steps. A gradient that reaches the early time steps shows as colour reaching down to the bottom rows.',
        timeHeatMap(timeGradRecords(records)),
        true,
      ) +
      '</section>';
  }

  const preflightSection = run.preflight ? renderPreflight(run.preflight) : '';

  const transformerSection = hasTransformerData(records) ? renderTransformerSection(records) : '';

  const residualSection = hasResidualData(records)
    ? '<section id="residual"><h2>Residual blocks</h2><div class="grid2">' +
      figure(
        'chart-residual-stream',
        'The residual stream per block (log10 mean square)',
        'The mean square of the stream arriving at each block’s sum x + F(x), the input at the bottom. Without a ' +
          'norm each block adds its branch’s variance, so the stream grows geometrically with depth (Yang & ' +
          'Schoenholz 2017); with batch norm in the branch about linearly.',
        streamHeatMap(records),
      ) +
      figure(
        'chart-residual-ratio',
        'Branch / shortcut ratio per block (log10)',
        'How much each branch adds against what the shortcut carries. Fixup, ReZero and SkipInit start it at 0 ' +
          '(every block the identity, Zhang et al. 2019; Bachlechner et al. 2020); near 1 every block doubles the stream.',
        branchRatioHeatMap(records),
      ) +
      '</div></section>'
    : '';

  const activations = `<section id="activations"><h2>Activations</h2>${activationCharts(run)}</section>`;

  const configSection =
    '<section id="config"><h2>Resolved config</h2>' +
    `<pre class="config">${escapeHtml(readableJson(config))}</pre></section>`;

  const footer =
    `<footer>Generated by gradscope from config.json, metrics.jsonl (${records.length} logged step${records.length === 1 ? '' : 's'}) ` +
    `and summary.json${run.dir ? ` in ${escapeHtml(run.dir)}` : ''}.</footer>`;

  return htmlPage(
    `${name} · gradscope report`,
    header +
      numbers +
      `<nav class="toc">${toc}</nav>` +
      diagnosis +
      training +
      layerSection +
      transformerSection +
      residualSection +
      preflightSection +
      timeSection +
      activations +
      configSection +
      footer,
  );
}
