/**
 * The browser lab (web/index.html): the runs of a folder (`gradscope lab --runs DIR`), opened, overlaid and
 * followed live as they are written; and an experiment trained in the page's Web Worker (lab-worker.ts), whose
 * doctor's fixes run as run B beside it. DOM wiring only: training lives in lab-trainer.ts, the folder client in
 * folder.ts, the uPlot charts in charts.ts, the heat map in heatmap.ts, the SVG panels in panels.ts and the address
 * (the page's whole state) in lab-query.ts.
 *
 * When every in-page run is over the page writes a machine-readable summary into `<pre id="result">`, which the
 * tests (and anyone scripting the lab) read: `{"status": "done", "runs": [{"label": "A", "verdict": "vanishing", ...}]}`.
 */
import { findPreset } from '../config/index.js';
import { applyMergePatch, type Finding, type JsonObject } from '../doctor/findings.js';
import type { MetricsRecord } from '../io/runlog.js';
import { describeClip, describeModel, describeOptimizer, isRecurrent } from '../report/data.js';
import { escapeHtml, formatNumber, formatPercent, formatRanges } from '../report/format.js';
import { VERDICT_TEXT } from '../report/page.js';
import { ChartGroup, LineChart, type LineSeries } from './charts.js';
import { DistributionsPanel } from './distributions.js';
import {
  entropyPanel,
  isTransformerRun,
  similarityPanel,
  sublayerPanel,
  transformerCharts,
} from './transformer-panels.js';
import { branchRatioHeatMap, hasResidualData, streamHeatMap } from '../report/residual.js';
import { RunFolder } from './folder.js';
import { HeatMap } from './heatmap.js';
import {
  DEFAULT_PRESET,
  experimentQuery,
  linkQuery,
  MAX_SHOWN_RUNS,
  parseLabQuery,
  stateQuery,
  type Speed,
} from './lab-query.js';
import { browserPresets, checkConfig, type RunLabel, type RunProblem, type SeenFinding } from './lab-run.js';
import { LabTrainer, type RunSnapshot, type TrainerCommand, type TrainerMessage } from './lab-trainer.js';
import {
  DEFAULT_TRIALS,
  defaultParallel,
  TrialRunner,
  TrialSet,
  verificationJson,
  type TrialCommand,
  type TrialMessage,
  type TrialPort,
} from './lab-trials.js';
import { trialColor, trialRows, trialsHeadline } from './trials-panel.js';
import {
  activationPanel,
  depthPanel,
  firstLayerPanel,
  RUN_COLORS,
  timePanel,
  timeReachPanel,
  updateRatioPanel,
} from './panels.js';
import { ageText, depthColor, layerGradSeries, METRICS, runColor, type MetricName } from './series.js';
import { gradNormLines, perStep } from '../report/figures.js';

// ---------------------------------------------------------------------------------------------------------------
// Elements

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the lab page has no <${type.name}> with id "${id}".`);
  return found;
}

const ui = {
  runsCard: element('runs', HTMLElement),
  runsStatus: element('runs-status', HTMLElement),
  runsBody: element('runs-body', HTMLElement),
  preset: element('preset', HTMLSelectElement),
  presetDescription: element('preset-description', HTMLElement),
  config: element('config', HTMLTextAreaElement),
  configStatus: element('config-status', HTMLElement),
  start: element('start', HTMLButtonElement),
  pause: element('pause', HTMLButtonElement),
  step: element('step', HTMLButtonElement),
  reset: element('reset', HTMLButtonElement),
  speed: element('speed', HTMLSelectElement),
  copyLink: element('copy-link', HTMLButtonElement),
  trainerNote: element('trainer-note', HTMLElement),
  progress: element('progress', HTMLElement),
  notices: element('notices', HTMLElement),
  smoothing: element('smoothing', HTMLInputElement),
  smoothingValue: element('smoothing-value', HTMLElement),
  logScale: element('log-scale', HTMLInputElement),
  metric: element('metric', HTMLSelectElement),
  resetZoom: element('reset-zoom', HTMLButtonElement),
  compare: element('compare', HTMLElement),
  compareHeads: element('compare-heads', HTMLElement),
  viewSelect: element('view-select', HTMLSelectElement),
  timeFigure: element('panel-time', HTMLElement),
  transformerFigure: element('panel-transformer', HTMLElement),
  residualFigure: element('panel-residual', HTMLElement),
  compareTimeFigure: element('compare-time', HTMLElement),
  verdict: element('doctor-verdict', HTMLElement),
  findings: element('findings', HTMLElement),
  result: element('result', HTMLElement),
  trials: element('trials', HTMLElement),
  trialsHeadline: element('trials-headline', HTMLElement),
  trialsBody: element('trials-body', HTMLElement),
  verifyBox: element('verify-box', HTMLElement),
  verifyFixes: element('verify-fixes', HTMLButtonElement),
};

function chart(id: string): HTMLElement {
  return element(id, HTMLElement);
}

// ---------------------------------------------------------------------------------------------------------------
// State

const { options, problems: queryProblems } = parseLabQuery(location.search);

/** An in-page run as the page holds it: the trainer's latest snapshot with every record so far. */
type PageRun = RunSnapshot;

const state = {
  lab: { A: null, B: null } as Record<RunLabel, PageRun | null>,
  playing: false,
  where: 'worker' as 'worker' | 'page',
  /** Folder runs shown (overlaid), in the order they were picked. */
  shown: [...options.runs],
  /** The run the detail panels and the doctor show: 'A', 'B' or a folder run's name. */
  view: options.view,
  smoothing: options.smoothing,
  log: options.log,
  metric: options.metric,
  /** The distributions panel's parameter and kind. */
  histogram: options.histogram,
  histogramOf: options.histogramOf,
  /** The config text run A was built from: editing it means Start builds a new run. */
  builtFrom: '',
  findingsKey: '',
  /** Set by `fix=K` in the address: apply that fix when run A is over. */
  pendingFix: options.fix,
  /** Set by `verify=K` in the address: verify that many fixes when run A is over. */
  pendingVerify: options.verify,
  /** The doctor's fixes trained as trials beside run A (lab-trials.ts), once asked for. */
  trials: null as TrialSet | null,
  /** The kernels the in-page runs train on, as the trainer reports them. */
  kernels: null as string | null,
  /** A problem that ended an automatic run (`autorun`), for the result element. */
  failure: null as string | null,
  renderQueued: false,
  runsKey: '',
};

const folder = new RunFolder(() => scheduleRender());

function labRuns(): PageRun[] {
  return [state.lab.A, state.lab.B].filter((run): run is PageRun => run !== null);
}

// ---------------------------------------------------------------------------------------------------------------
// The trainer: a Web Worker, or the same trainer on this thread where no worker can start

const sentCommands: TrainerCommand[] = [];
let trainer: { send(command: TrainerCommand): void } = startWorker();

function startPageTrainer(): { send(command: TrainerCommand): void } {
  const local = new LabTrainer((message) => onTrainerMessage(message), 'page');
  state.where = 'page';
  ui.trainerNote.textContent =
    "Training on the page itself (this browser could not start the lab's worker here, e.g. a page opened from disk): the page may pause while a run trains.";
  ui.trainerNote.hidden = false;
  return { send: (command) => local.handle(command) };
}

function startWorker(): { send(command: TrainerCommand): void } {
  let worker: Worker;
  try {
    worker = new Worker(new URL('dist/lab-worker.js', document.baseURI));
  } catch {
    return startPageTrainer();
  }
  let heard = false;
  worker.addEventListener('message', (event: MessageEvent<TrainerMessage>) => {
    heard = true;
    onTrainerMessage(event.data);
  });
  worker.addEventListener('error', (event) => {
    if (heard) {
      state.failure = `the training worker failed: ${event.message}`;
      scheduleRender();
      return;
    }
    // The worker script did not load: train here instead, replaying what was asked of the worker.
    worker.terminate();
    trainer = startPageTrainer();
    for (const command of sentCommands) trainer.send(command);
  });
  return { send: (command) => worker.postMessage(command) };
}

function send(command: TrainerCommand): void {
  sentCommands.push(command);
  if (sentCommands.length > 50) sentCommands.splice(0, sentCommands.length - 50);
  trainer.send(command);
}

function onTrainerMessage(message: TrainerMessage): void {
  if (message.type === 'problem') {
    const target = message.during === 'start' ? ui.configStatus : ui.notices;
    ui.notices.hidden = message.during !== 'fix';
    showProblem(target, message.problem);
    if (message.during === 'start') ui.config.classList.add('invalid');
    state.failure = message.problem.message;
    scheduleRender();
    return;
  }
  state.where = message.where;
  state.kernels = message.kernels;
  document.documentElement.dataset['trainer'] = message.where;
  state.playing = message.playing;
  const next: Record<RunLabel, PageRun | null> = { A: null, B: null };
  for (const snapshot of message.runs) {
    const before = state.lab[snapshot.label];
    next[snapshot.label] =
      before && before.id === snapshot.id
        ? { ...snapshot, records: before.records.concat(snapshot.records) }
        : { ...snapshot, records: [...snapshot.records] };
  }
  if (next.B && (!state.lab.B || state.lab.B.id !== next.B.id)) state.view = 'B';
  state.lab = next;
  afterProgress();
  scheduleRender();
}

// ---------------------------------------------------------------------------------------------------------------
// Config editing

/** The name a run gets when its config has none: the preset's, or 'custom' for a config from the address. */
function presetName(): string {
  return ui.preset.value || 'custom';
}

/** The config with `steps=` and `seed=` from the address written in, as the text the textarea shows. */
function withOverrides(raw: unknown, overrides: { steps: number | null; seed: number | null }): string {
  const config = structuredClone(raw) as Record<string, unknown>;
  if (overrides.seed !== null) config['seed'] = overrides.seed;
  if (overrides.steps !== null) {
    const train = config['train'];
    config['train'] = {
      ...(typeof train === 'object' && train !== null ? train : {}),
      steps: overrides.steps,
    };
  }
  return JSON.stringify(config, null, 2);
}

function loadPresetText(name: string, overrides: { steps: number | null; seed: number | null }): string {
  return withOverrides(findPreset(name)?.config ?? {}, overrides);
}

function showPresetDescription(): void {
  const preset = findPreset(presetName());
  ui.presetDescription.textContent = preset ? preset.description : '';
}

function showProblem(target: HTMLElement, problem: RunProblem): void {
  target.className = 'status bad';
  target.textContent = '';
  const strong = document.createElement('strong');
  strong.textContent = problem.kind === 'config' ? 'Config problem: ' : 'Could not build the run: ';
  target.append(strong, problem.message);
  if (problem.offset !== undefined) {
    const offset = problem.offset;
    const jump = document.createElement('button');
    jump.type = 'button';
    jump.className = 'link';
    jump.textContent = 'show me';
    jump.addEventListener('click', () => {
      ui.config.focus();
      ui.config.setSelectionRange(offset, Math.min(ui.config.value.length, offset + 1));
    });
    target.append(' ', jump);
  }
}

/** Validates the textarea; returns whether it holds a usable config. */
function validateConfig(): boolean {
  const checked = checkConfig(ui.config.value, presetName());
  ui.config.classList.toggle('invalid', !checked.ok);
  if (!checked.ok) {
    showProblem(ui.configStatus, checked.problem);
    return false;
  }
  const c = checked.config;
  const edited = state.lab.A !== null && ui.config.value !== state.builtFrom;
  ui.configStatus.className = 'status good';
  ui.configStatus.textContent =
    `✓ ${c.task.name} · ${describeModel(c)} · ${describeOptimizer(c)} · ${describeClip(c)} · ` +
    `${c.train.steps} steps, batch ${c.train.batchSize}, logged every ${c.monitor.every}` +
    (edited ? ' — edited: press Start to run this config (the current run keeps its own)' : '');
  return true;
}

let validateTimer: ReturnType<typeof setTimeout> | null = null;

function scheduleValidation(): void {
  if (validateTimer !== null) clearTimeout(validateTimer);
  validateTimer = setTimeout(() => {
    validateTimer = null;
    validateConfig();
    updateButtons();
    writeAddress();
  }, 250);
}

// ---------------------------------------------------------------------------------------------------------------
// Running

function newRunA(): void {
  dropTrials();
  state.builtFrom = ui.config.value;
  state.failure = null;
  state.findingsKey = '';
  state.view = 'A';
  ui.result.textContent = '';
  send({ type: 'start', text: ui.config.value, name: presetName() });
  validateConfig();
  writeAddress();
}

function start(): void {
  const resumable =
    state.lab.A !== null && ui.config.value === state.builtFrom && labRuns().some((r) => !r.done);
  if (resumable) send({ type: 'play' });
  else newRunA();
}

function stepOnce(): void {
  if (state.lab.A === null || ui.config.value !== state.builtFrom || labRuns().every((r) => r.done)) {
    newRunA();
    send({ type: 'pause' });
  }
  send({ type: 'step' });
}

function reset(): void {
  dropTrials();
  state.pendingFix = null;
  state.pendingVerify = null;
  state.failure = null;
  state.findingsKey = '';
  ui.result.textContent = '';
  send({ type: 'reset' });
  validateConfig();
}

function applyFix(from: RunLabel, code: string, index: number): void {
  ui.notices.hidden = true;
  state.findingsKey = '';
  ui.result.textContent = '';
  send({ type: 'fix', from, code, index });
  ui.compare.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

/** A worker for one trial: the lab's worker script, or a trial runner on this thread where workers cannot start. */
function trialPort(): TrialPort {
  if (state.where === 'page') {
    let listener: (message: TrialMessage) => void = () => {};
    let alive = true;
    const runner = new TrialRunner((message) => alive && listener(message));
    return {
      post: (command) => runner.handle(command),
      listen: (onMessage) => (listener = onMessage),
      terminate: () => (alive = false),
    };
  }
  const worker = new Worker(new URL('dist/lab-worker.js', document.baseURI));
  let current = -1;
  return {
    post: (command: TrialCommand) => {
      if (command.type === 'trial') current = command.id;
      worker.postMessage(command);
    },
    listen: (onMessage) => {
      worker.addEventListener('message', (event: MessageEvent<TrialMessage>) => onMessage(event.data));
      worker.addEventListener('error', (event) =>
        onMessage({
          type: 'trial-error',
          id: current,
          message: `the trial's worker failed: ${event.message}`,
        }),
      );
    },
    terminate: () => worker.terminate(),
  };
}

/** Trains the doctor's top fixes of finished run A as trials beside it (what `gradscope fix --top K` does). */
function verifyFixes(top: number): void {
  const a = state.lab.A;
  if (a === null || a.summary === null) return;
  dropTrials();
  state.trials = new TrialSet(a.config, a.summary, {
    top,
    parallel: defaultParallel(navigator.hardwareConcurrency || 2),
    spawn: trialPort,
    onChange: () => scheduleRender(),
  });
  state.trials.start();
  state.findingsKey = '';
  ui.result.textContent = '';
  scheduleRender(true);
  ui.trials.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

function dropTrials(): void {
  state.trials?.cancel();
  state.trials = null;
  if (typeof state.view === 'string' && state.view.startsWith(TRIAL_KEY)) state.view = null;
}

/** The automatic fix of `fix=K` and the trials of `verify=K` once run A is over. */
function afterProgress(): void {
  const a = state.lab.A;
  if (state.pendingVerify !== null && a !== null && a.done) {
    const k = state.pendingVerify;
    state.pendingVerify = null;
    if (a.summary !== null) verifyFixes(k);
    else
      state.failure = `verify=${k}: run A did not finish (${a.error ?? 'no summary'}), so its fixes cannot be verified.`;
  }
  if (state.pendingFix !== null && a !== null && a.done && state.lab.B === null) {
    const k = state.pendingFix;
    state.pendingFix = null;
    const top = a.findings.find((s) => s.active && s.finding.fixes.length > 0);
    if (top && top.finding.fixes[k - 1]) applyFix('A', top.finding.code, k - 1);
    else
      state.failure = `fix=${k}: run A's diagnosis has ${top ? `only ${top.finding.fixes.length} fixes` : 'no fix to apply'}.`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What is shown

interface Shown {
  /** 'A', 'B', a folder run's name or a trial's (`trial:fix-1`). */
  key: string;
  label: string;
  color: string;
  dash?: boolean;
  records: readonly MetricsRecord[];
}

/** The prefix of a trial's key: never a run name, since a run name has no colon. */
const TRIAL_KEY = 'trial:';

function shownRuns(): Shown[] {
  const list: Shown[] = labRuns().map((run) => ({
    key: run.label,
    label: `${run.label}: ${run.config.name}`,
    color: RUN_COLORS[run.label],
    records: run.records,
  }));
  state.shown.forEach((name, i) => {
    const run = folder.opened.get(name);
    if (run) list.push({ key: name, label: name, color: runColor(2 + i), records: run.records });
  });
  state.trials?.trials.forEach((trial, i) =>
    list.push({
      key: TRIAL_KEY + trial.label,
      label: `${trial.label}: ${trial.change}`,
      color: trialColor(i),
      dash: true,
      records: trial.records,
    }),
  );
  return list;
}

function viewedKey(): string | null {
  const shown = shownRuns();
  if (state.view !== null && shown.some((s) => s.key === state.view)) return state.view;
  return shown[0]?.key ?? null;
}

/** The experiment as the address names it: the preset (with steps= and seed= where changed) or the config. */
function experimentInAddress(): ReturnType<typeof experimentQuery> {
  const preset = ui.preset.value || null;
  return experimentQuery(preset, preset === null ? null : findPreset(preset)?.config, ui.config.value);
}

function writeAddress(): void {
  history.replaceState(
    null,
    '',
    stateQuery({
      ...experimentInAddress(),
      runs: state.shown,
      // A trial lives only as long as the page: the address names the runs a reload can show again.
      view: state.view?.startsWith(TRIAL_KEY) ? null : state.view,
      smoothing: state.smoothing,
      log: state.log,
      metric: state.metric,
      histogram: state.histogram,
      histogramOf: state.histogramOf,
    }),
  );
}

async function toggleShown(name: string, show: boolean): Promise<void> {
  if (show && !state.shown.includes(name)) {
    if (state.shown.length >= MAX_SHOWN_RUNS) {
      ui.runsStatus.textContent = `At most ${MAX_SHOWN_RUNS} runs are shown at once; hide one first.`;
      return;
    }
    state.shown.push(name);
    try {
      await folder.open(name);
    } catch (error) {
      state.shown = state.shown.filter((n) => n !== name);
      ui.runsStatus.textContent = `Could not open ${name}: ${error instanceof Error ? error.message : String(error)}`;
    }
  } else if (!show) {
    state.shown = state.shown.filter((n) => n !== name);
    folder.close(name);
    if (state.view === name) state.view = null;
  }
  state.runsKey = '';
  writeAddress();
  scheduleRender(true);
}

// ---------------------------------------------------------------------------------------------------------------
// Drawing

const group = new ChartGroup();
const lossChart = new LineChart(
  chart('chart-loss'),
  {
    title: 'Training loss',
    yLabel: 'loss',
    empty: 'No run shown yet: pick runs above, or start an experiment.',
  },
  group,
);
const layerChart = new LineChart(
  chart('chart-layers'),
  {
    title: 'Gradient norm per layer',
    yLabel: '‖∂L/∂W‖ (L2 norm)',
    empty: 'No gradients logged yet.',
    height: 320,
  },
  group,
);
const heatMap = new HeatMap(chart('chart-heatmap'));
group.zoomListeners.push((range) => heatMap.setRange(range));
group.cursorListeners.push((step) => heatMap.setCursor(step));
const distributions = new DistributionsPanel(chart('chart-distributions'), {
  name: state.histogram,
  of: state.histogramOf,
  onChange: (pick) => {
    state.histogram = pick.name;
    state.histogramOf = pick.of;
    writeAddress();
  },
});
group.zoomListeners.push((range) => distributions.setRange(range));
group.cursorListeners.push((step) => distributions.setCursor(step));

/** Redraws at most this often for data arriving (training, streams); a user's action redraws at the next frame. */
const DATA_RENDER_MS = 250;
let lastRender = 0;
let renderTimer: ReturnType<typeof setTimeout> | null = null;

function scheduleRender(urgent = false): void {
  if (state.renderQueued) return;
  const wait = urgent ? 0 : Math.max(0, lastRender + DATA_RENDER_MS - performance.now());
  if (wait > 0) {
    if (renderTimer === null)
      renderTimer = setTimeout(() => {
        renderTimer = null;
        scheduleRender(true);
      }, wait);
    return;
  }
  state.renderQueued = true;
  requestAnimationFrame(() => {
    state.renderQueued = false;
    lastRender = performance.now();
    render();
  });
}

function render(): void {
  renderRunsTable();
  renderProgress();
  renderCompare();
  renderTrials();
  renderViewSelect();
  renderCharts();
  renderPanels();
  renderFindings();
  updateButtons();
  writeResult();
}

function updateButtons(): void {
  const runs = labRuns();
  const anyLive = runs.some((r) => !r.done);
  const fresh = state.lab.A === null || ui.config.value !== state.builtFrom;
  ui.start.textContent = state.playing
    ? '▶ Running…'
    : fresh
      ? '▶ Start'
      : anyLive
        ? '▶ Resume'
        : '▶ Run again';
  ui.start.disabled = state.playing;
  ui.pause.disabled = !state.playing;
  ui.reset.disabled = runs.length === 0;
}

function verdictBadge(verdict: string | null, provisional: boolean): string {
  if (verdict === null) return '<span class="badge provisional">no verdict yet</span>';
  return `<span class="badge verdict-${escapeHtml(verdict)}${provisional ? ' provisional' : ''}" title="${escapeHtml(
    VERDICT_TEXT[verdict] ?? '',
  )}">${escapeHtml(verdict)}${provisional ? ' so far' : ''}</span>`;
}

function chip(text: string, color: string): string {
  return `<span class="chip" style="background:${color}">${escapeHtml(text)}</span>`;
}

function renderRunsTable(): void {
  if (folder.error !== null && folder.runsDir === null) {
    ui.runsStatus.textContent =
      location.protocol === 'file:'
        ? 'Opened from disk: run folders are listed when the lab is served (npx gradscope lab --runs DIR).'
        : `The run folder could not be read: ${folder.error}`;
    ui.runsBody.innerHTML = '';
    return;
  }
  if (folder.runsDir === null) {
    ui.runsStatus.textContent =
      'Started without a run folder: npx gradscope lab --runs DIR lists and follows runs.';
    ui.runsBody.innerHTML = '';
    return;
  }
  const now = Date.now();
  const key = JSON.stringify([folder.list, state.shown, viewedKey(), Math.floor(now / 10_000)]);
  if (key === state.runsKey) return;
  state.runsKey = key;
  ui.runsStatus.textContent =
    folder.list.length === 0
      ? `No runs in ${folder.runsDir} yet. Train one in a terminal (npx gradscope run deep-sigmoid) and it appears here.`
      : `${folder.list.length} run${folder.list.length === 1 ? '' : 's'} in ${folder.runsDir}. Tick runs to overlay them; a name shows its details.` +
        (folder.skipped.length
          ? ` (${folder.skipped.length} folders skipped: ${folder.skipped.slice(0, 2).join('; ')})`
          : '');
  ui.runsBody.innerHTML = folder.list
    .map((run) => {
      const shownAt = state.shown.indexOf(run.name);
      const opened = folder.opened.get(run.name);
      const entry = opened?.entry ?? run;
      const swatch =
        shownAt >= 0 ? `<span class="swatch" style="border-color:${runColor(2 + shownAt)}"></span>` : '';
      const status =
        entry.status === 'live'
          ? `<span class="live-dot" aria-hidden="true"></span>live${opened?.following ? ', following' : ''}`
          : entry.status;
      return (
        `<tr data-run="${escapeHtml(run.name)}"${viewedKey() === run.name ? ' class="viewed"' : ''}>` +
        `<td><input type="checkbox" class="show-run" aria-label="overlay ${escapeHtml(run.name)}"${shownAt >= 0 ? ' checked' : ''}></td>` +
        `<td>${swatch}<button type="button" class="link view-run">${escapeHtml(run.name)}</button></td>` +
        `<td>${escapeHtml(run.kind)}</td><td>${escapeHtml(run.task ?? '–')}</td>` +
        `<td class="model">${escapeHtml(run.model ?? '–')}</td>` +
        `<td>${verdictBadge(entry.verdict, false)}</td><td>${status}</td>` +
        `<td class="num">${entry.steps ?? '–'}${run.totalSteps ? ` / ${run.totalSteps}` : ''}</td>` +
        `<td>${escapeHtml(ageText(entry.mtime, now))}</td></tr>`
      );
    })
    .join('');
}

function runLine(run: PageRun): string {
  const records = run.records;
  const last = records[records.length - 1];
  const seconds = run.trainingSeconds;
  const speed =
    ui.speed.value === 'fast' && seconds > 0 && run.stepsTaken > 0
      ? `${formatNumber(run.stepsTaken / seconds)} steps/s`
      : '';
  const loss = last ? `loss ${formatNumber(last.loss)}` : '';
  const evalText = run.summary
    ? `eval loss ${formatNumber(run.summary.eval.loss)}` +
      (run.summary.eval.accuracy !== undefined
        ? `, accuracy ${formatPercent(run.summary.eval.accuracy)}`
        : '')
    : '';
  const fraction = run.totalSteps > 0 ? run.stepsTaken / run.totalSteps : 0;
  const parts = [`step ${run.stepsTaken} / ${run.totalSteps}`, loss, evalText, speed].filter(Boolean);
  return (
    `<div class="run-line">${chip(run.label, RUN_COLORS[run.label])}<span class="run-name">${escapeHtml(run.config.name)}</span>` +
    `${verdictBadge(run.verdict, !run.done)}<span class="run-numbers">${escapeHtml(parts.join(' · '))}</span>` +
    `<span class="bar"><span style="width:${(100 * fraction).toFixed(1)}%;background:${RUN_COLORS[run.label]}"></span></span>` +
    (run.error ? `<div class="status bad">${escapeHtml(run.error)}</div>` : '') +
    '</div>'
  );
}

function renderProgress(): void {
  const runs = labRuns();
  ui.progress.innerHTML = runs.length
    ? runs.map(runLine).join('')
    : '<p class="muted">Nothing is training here. Pick an experiment and press <strong>Start</strong>.</p>';
}

function renderCompare(): void {
  const a = state.lab.A;
  const b = state.lab.B;
  ui.compare.hidden = a === null || b === null;
  if (a === null || b === null) return;
  const head = (run: PageRun, text: string): string =>
    `<div class="compare-head" style="border-top-color:${RUN_COLORS[run.label]}">` +
    `<div>${chip(run.label, RUN_COLORS[run.label])} ${verdictBadge(run.verdict, !run.done)}</div>` +
    `<p>${text}</p><p class="muted">step ${run.stepsTaken} / ${run.totalSteps}` +
    (run.summary ? ` · eval loss ${escapeHtml(formatNumber(run.summary.eval.loss))}` : '') +
    '</p></div>';
  ui.compareHeads.innerHTML =
    head(a, `<strong>${escapeHtml(a.config.name)}</strong>: the experiment as configured.`) +
    head(
      b,
      `<strong>${escapeHtml(b.config.name)}</strong> = A + ${b.applied.map((f) => escapeHtml(f.change)).join(' + ')}` +
        `<br><span class="muted">patch: <code>${escapeHtml(JSON.stringify(b.applied.reduce<JsonObject>((patch, f) => applyMergePatch(patch, f.patch), {})))}</code></span>`,
    );
  const plotted = [a, b].map((run) => ({ label: run.label, records: run.records }));
  chart('compare-first-chart').innerHTML = firstLayerPanel(plotted, { id: 'compare-first' });
  const recurrent = [a, b].filter((run) => isRecurrent(run.config));
  ui.compareTimeFigure.hidden = recurrent.length === 0;
  if (recurrent.length)
    chart('compare-time-chart').innerHTML = timeReachPanel(
      recurrent.map((run) => ({ label: run.label, records: run.records })),
      { id: 'compare-time-reach' },
    );
}

function renderTrials(): void {
  const set = state.trials;
  const a = state.lab.A;
  // The button: run A is over, diagnosed, and its fixes are not being (or have not been) tried.
  const canVerify =
    a !== null &&
    a.summary !== null &&
    a.findings.some((s) => s.active && s.finding.severity !== 'info' && s.finding.fixes.length > 0) &&
    set === null;
  ui.verifyBox.hidden = !canVerify || viewedKey() !== 'A';
  ui.trials.hidden = set === null;
  if (set === null) return;
  ui.trialsHeadline.innerHTML = trialsHeadline(set);
  ui.trialsBody.innerHTML = trialRows(set);
}

function renderViewSelect(): void {
  const shown = shownRuns();
  const viewed = viewedKey();
  const key = JSON.stringify([shown.map((s) => [s.key, s.label]), viewed]);
  if (ui.viewSelect.dataset['key'] === key) return;
  ui.viewSelect.dataset['key'] = key;
  ui.viewSelect.innerHTML = shown.length
    ? shown
        .map(
          (s) =>
            `<option value="${escapeHtml(s.key)}"${s.key === viewed ? ' selected' : ''}>${escapeHtml(s.label)}</option>`,
        )
        .join('')
    : '<option value="">no run yet</option>';
  ui.viewSelect.disabled = shown.length === 0;
}

function viewedRecords(): readonly MetricsRecord[] {
  const key = viewedKey();
  return shownRuns().find((s) => s.key === key)?.records ?? [];
}

function renderCharts(): void {
  const view = { smoothing: state.smoothing, log: state.log };
  const metric = METRICS[state.metric];
  lossChart.retitle(metric.title, metric.yLabel);
  lossChart.update(
    shownRuns().map((s) => ({
      label: s.label,
      color: s.color,
      ...(s.dash ? { dash: true } : {}),
      points: perStep(s.records, metric.value),
    })),
    view,
  );
  const records = viewedRecords();
  const layers = layerGradSeries(records);
  const series: LineSeries[] = layers.layers.map((layer, i) => ({
    label: `layer ${layer}`,
    color: depthColor(i, layers.layers.length),
    points: layers.steps.map((step, k) => [step, (layers.values[i] as number[])[k] as number] as const),
  }));
  if (records.length > 0)
    series.push({
      label: 'all layers (global norm)',
      color: '#000000',
      dash: true,
      points: gradNormLines(records).before,
    });
  layerChart.update(series, view);
  heatMap.update(records);
}

function renderPanels(): void {
  const records = viewedRecords();
  chart('chart-depth').innerHTML = depthPanel(records);
  chart('chart-update').innerHTML = updateRatioPanel(records);
  chart('chart-saturated').innerHTML = activationPanel(records, 'saturated');
  chart('chart-dead').innerHTML = activationPanel(records, 'dead');
  distributions.update(records);
  const recurrent = records.some((r) => (r.timeGrad?.length ?? 0) > 0);
  ui.timeFigure.hidden = !recurrent;
  if (recurrent) chart('chart-time').innerHTML = timePanel(records);
  const transformer = isTransformerRun(records);
  ui.transformerFigure.hidden = !transformer;
  if (transformer) {
    // A recurrent seq2seq model with attention has only the entropy of its decoder's attention to show.
    const shown = transformerCharts(records);
    chart('chart-sublayers').hidden = !shown.sublayers;
    chart('chart-entropy').hidden = !shown.entropy;
    chart('chart-similarity').hidden = !shown.similarity;
    chart('chart-sublayers').innerHTML = sublayerPanel(records);
    chart('chart-entropy').innerHTML = entropyPanel(records);
    chart('chart-similarity').innerHTML = similarityPanel(records);
  }
  // Residual nets: the report's stream and branch/shortcut heat maps (src/report/residual.ts).
  const residual = hasResidualData(records);
  ui.residualFigure.hidden = !residual;
  if (residual) {
    chart('chart-residual-stream').innerHTML = streamHeatMap(records, {
      id: 'lab-residual-stream',
      maxColumns: 200,
      width: 1000,
    });
    chart('chart-residual-ratio').innerHTML = branchRatioHeatMap(records, {
      id: 'lab-residual-ratio',
      maxColumns: 200,
      width: 1000,
    });
  }
}

function whereText(finding: Pick<Finding, 'where'>): string {
  const where = finding.where;
  const parts: string[] = [];
  if (where.layers?.length)
    parts.push(`${where.layers.length === 1 ? 'layer' : 'layers'} ${formatRanges(where.layers)}`);
  if (where.timeSteps?.length) parts.push(`time steps ${formatRanges(where.timeSteps)}`);
  return parts.join(' · ');
}

function findingHtml(label: RunLabel | null, done: boolean, seen: SeenFinding): string {
  const f = seen.finding;
  const when = seen.active
    ? done
      ? `in the final diagnosis · first reported at step ${seen.firstStep}`
      : `reported since step ${seen.firstStep}`
    : `reported at steps ${seen.firstStep}–${seen.lastStep}, gone since`;
  const where = whereText(f);
  const action = label === 'B' ? 'Add it to run B' : 'Try it as run B';
  const fixes = f.fixes.length
    ? `<ol class="fixes">${f.fixes
        .map(
          (fix, i) =>
            `<li><div class="fix-change">${escapeHtml(fix.change)}</div>` +
            `<div class="why">${escapeHtml(fix.why)}</div>` +
            (label !== null
              ? `<button type="button" class="apply" data-run="${label}" data-code="${escapeHtml(f.code)}" data-index="${i}">${action} ▸</button>`
              : '') +
            '</li>',
        )
        .join('')}</ol>` +
      (label === null
        ? '<p class="muted">To try a fix: gradscope fix &lt;run dir&gt; trains them beside this run.</p>'
        : '')
    : '<p class="muted">No fix suggested.</p>';
  return (
    `<article class="finding ${f.severity}${seen.active ? '' : ' gone'}" data-code="${escapeHtml(f.code)}">` +
    `<div class="finding-head"><span class="sev">${escapeHtml(f.severity)}</span><code>${escapeHtml(f.code)}</code></div>` +
    `<h3 class="title">${escapeHtml(f.title)}</h3>` +
    `<p class="when">${escapeHtml(when)}${where ? ' · ' + escapeHtml(where) : ''}</p>` +
    `<details class="evidence-box"${seen.active ? ' open' : ''}><summary>Evidence and cause</summary>` +
    `<ul class="evidence">${f.evidence.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul>` +
    `<p class="cause">${escapeHtml(f.cause)}</p></details>` +
    (seen.active ? `<h4>Fixes, best first</h4>${fixes}` : '') +
    '</article>'
  );
}

/** The doctor's view of the viewed run: an in-page run's live findings, or a folder run's summary. */
function doctorView(): {
  title: string;
  verdict: string | null;
  provisional: boolean;
  label: RunLabel | null;
  done: boolean;
  findings: SeenFinding[];
  empty: string;
} | null {
  const key = viewedKey();
  if (key === null) return null;
  if (key === 'A' || key === 'B') {
    const run = state.lab[key];
    if (!run) return null;
    const last = run.records.at(-1);
    return {
      title: chip(run.label, RUN_COLORS[run.label]),
      verdict: run.verdict,
      provisional: !run.done,
      label: run.error ? null : run.label,
      done: run.done,
      findings: run.findings,
      empty:
        run.records.length === 0
          ? 'No steps logged yet.'
          : run.done
            ? 'Nothing wrong: the gradient reaches every layer at a usable size.'
            : `No findings at step ${last?.step ?? 0}.`,
    };
  }
  const trial = state.trials?.trials.find((t) => TRIAL_KEY + t.label === key);
  if (trial) {
    const findings = (trial.summary?.findings ?? []).map((finding) => {
      const first = finding.timeline?.[0]?.step ?? trial.records[0]?.step ?? 0;
      return { finding, firstStep: first, lastStep: trial.stepsTaken, active: true };
    });
    return {
      title: `<strong>${escapeHtml(trial.label)}</strong> <span class="muted">= A + ${escapeHtml(trial.change)}</span>`,
      verdict: trial.summary?.verdict ?? null,
      provisional: false,
      label: null,
      done: trial.summary !== null,
      findings,
      empty:
        trial.summary === null
          ? 'Still training: the diagnosis comes when the trial is over.'
          : 'Nothing wrong: the gradient reaches every layer at a usable size.',
    };
  }
  const run = folder.opened.get(key);
  if (!run) return null;
  const summary = run.summary as { verdict?: string; findings?: Finding[] } | null;
  const findings = (summary?.findings ?? []).map((finding) => {
    const first = finding.timeline?.[0]?.step ?? run.records[0]?.step ?? 0;
    return { finding, firstStep: first, lastStep: run.records.at(-1)?.step ?? first, active: true };
  });
  const live = run.records.at(-1)?.findings ?? [];
  return {
    title: `<strong>${escapeHtml(run.name)}</strong>`,
    verdict: summary?.verdict ?? null,
    provisional: false,
    label: null,
    done: summary !== null,
    findings,
    empty:
      summary === null
        ? live.length
          ? `Still training; at step ${run.records.at(-1)?.step}: ${live.map((f) => f.title).join('; ')}. The full diagnosis comes with summary.json.`
          : 'Still training: the full diagnosis comes with summary.json.'
        : 'Nothing wrong: the gradient reaches every layer at a usable size.',
  };
}

function renderFindings(): void {
  const view = doctorView();
  if (view === null) {
    ui.verdict.innerHTML = '<p class="muted">The doctor reads every logged step of the run you view.</p>';
    ui.findings.innerHTML = '';
    state.findingsKey = '';
    return;
  }
  ui.verdict.innerHTML =
    `<p>${view.title} ${verdictBadge(view.verdict, view.provisional)}</p>` +
    (view.verdict ? `<p class="meaning">${escapeHtml(VERDICT_TEXT[view.verdict] ?? '')}.</p>` : '');
  // Rebuild only when the findings or their fixes change, so a button is never replaced under the pointer;
  // otherwise refresh the changing text in place.
  const key = [
    viewedKey(),
    view.done,
    view.empty,
    ...view.findings.map(
      (s) => `${s.finding.code}:${s.active}:${s.finding.fixes.map((f) => f.change).join('|')}`,
    ),
  ].join(';');
  if (key !== state.findingsKey) {
    state.findingsKey = key;
    ui.findings.innerHTML = view.findings.length
      ? view.findings.map((seen) => findingHtml(view.label, view.done, seen)).join('')
      : `<p class="empty">${escapeHtml(view.empty)}</p>`;
    return;
  }
  for (const seen of view.findings) {
    const article = ui.findings.querySelector(`article[data-code="${seen.finding.code}"]`);
    if (!article) continue;
    const evidence = article.querySelector('.evidence');
    if (evidence) evidence.innerHTML = seen.finding.evidence.map((e) => `<li>${escapeHtml(e)}</li>`).join('');
    const cause = article.querySelector('.cause');
    if (cause) cause.textContent = seen.finding.cause;
  }
}

/** The machine-readable outcome of the in-page runs, once every one is over (empty while anything is to come). */
function writeResult(): void {
  const runs = labRuns();
  const waiting =
    (state.pendingFix !== null ||
      state.pendingVerify !== null ||
      (state.trials !== null && !state.trials.done)) &&
    state.lab.A !== null;
  let result: unknown = null;
  if (state.failure !== null && !runs.some((r) => !r.done)) {
    result = { status: 'error', message: state.failure };
  } else if (runs.length > 0 && runs.every((r) => r.done) && !waiting) {
    result = {
      status: 'done',
      trainer: state.where,
      kernels: state.kernels,
      ...(state.trials === null ? {} : { verification: verificationJson(state.trials) }),
      runs: runs.map((run) => ({
        label: run.label,
        name: run.config.name,
        steps: run.stepsTaken,
        verdict: run.verdict,
        findings: run.findings.filter((s) => s.active).map((s) => s.finding.code),
        finalLoss: run.summary?.finalLoss ?? null,
        evalLoss: run.summary?.eval.loss ?? null,
        applied: run.applied.map((f) => f.change),
        error: run.error,
      })),
    };
  }
  const text = result === null ? '' : JSON.stringify(result);
  if (ui.result.textContent !== text) ui.result.textContent = text;
  document.documentElement.dataset['labState'] = result === null ? 'running' : 'done';
}

// ---------------------------------------------------------------------------------------------------------------
// Wiring

function fillPresets(): void {
  const presets = browserPresets();
  ui.preset.innerHTML =
    presets.map((p) => `<option value="${escapeHtml(p.name)}">${escapeHtml(p.name)}</option>`).join('') +
    '<option value="">custom config</option>';
  ui.speed.value = options.speed;
}

function onPresetChange(): void {
  reset();
  if (ui.preset.value === '') {
    ui.presetDescription.textContent = 'Your own config: edit the JSON below.';
    return;
  }
  ui.config.value = loadPresetText(presetName(), { steps: null, seed: null });
  showPresetDescription();
  validateConfig();
  updateButtons();
  writeAddress();
}

async function copyLink(): Promise<void> {
  const experiment = experimentInAddress();
  const query =
    experiment.preset !== null
      ? stateQuery({
          ...experiment,
          runs: state.shown,
          view: state.view?.startsWith(TRIAL_KEY) ? null : state.view,
          smoothing: state.smoothing,
          log: state.log,
        })
      : linkQuery(ui.config.value);
  history.replaceState(null, '', query);
  try {
    await navigator.clipboard.writeText(location.href);
    ui.copyLink.textContent = 'Link copied';
  } catch {
    ui.copyLink.textContent = 'Link is in the address bar';
  }
  setTimeout(() => (ui.copyLink.textContent = 'Copy link'), 2500);
}

function showSmoothing(): void {
  ui.smoothing.value = String(state.smoothing);
  ui.smoothingValue.textContent = state.smoothing.toFixed(2);
  ui.logScale.checked = state.log;
}

function wire(): void {
  ui.preset.addEventListener('change', onPresetChange);
  ui.config.addEventListener('input', scheduleValidation);
  ui.start.addEventListener('click', start);
  ui.pause.addEventListener('click', () => send({ type: 'pause' }));
  ui.step.addEventListener('click', stepOnce);
  ui.reset.addEventListener('click', reset);
  ui.speed.addEventListener('change', () => send({ type: 'speed', speed: ui.speed.value as Speed }));
  ui.copyLink.addEventListener('click', () => void copyLink());
  ui.smoothing.addEventListener('input', () => {
    state.smoothing = Number(ui.smoothing.value);
    showSmoothing();
    writeAddress();
    scheduleRender(true);
  });
  ui.metric.innerHTML = Object.entries(METRICS)
    .map(([name, m]) => `<option value="${name}">${escapeHtml(m.title)}</option>`)
    .join('');
  ui.metric.value = state.metric;
  ui.metric.addEventListener('change', () => {
    state.metric = ui.metric.value as MetricName;
    writeAddress();
    scheduleRender(true);
  });
  ui.logScale.addEventListener('change', () => {
    state.log = ui.logScale.checked;
    writeAddress();
    scheduleRender(true);
  });
  ui.resetZoom.addEventListener('click', () => group.zoom(null, null));
  ui.verifyFixes.addEventListener('click', () => verifyFixes(DEFAULT_TRIALS));
  ui.viewSelect.addEventListener('change', () => {
    state.view = ui.viewSelect.value || null;
    state.findingsKey = '';
    writeAddress();
    scheduleRender(true);
  });
  ui.runsBody.addEventListener('change', (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.classList.contains('show-run')) return;
    const name = box.closest('tr')?.dataset['run'];
    if (name) void toggleShown(name, box.checked);
  });
  ui.runsBody.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button.view-run') : null;
    const name = button?.closest('tr')?.dataset['run'];
    if (!name) return;
    state.view = name;
    state.findingsKey = '';
    if (!state.shown.includes(name)) void toggleShown(name, true);
    else {
      writeAddress();
      scheduleRender(true);
    }
    chart('chart-loss').scrollIntoView({ behavior: 'smooth', block: 'start' });
  });
  ui.findings.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button.apply') : null;
    if (!(button instanceof HTMLButtonElement)) return;
    const label = button.dataset['run'];
    if (label !== 'A' && label !== 'B') return;
    applyFix(label, button.dataset['code'] ?? '', Number(button.dataset['index']));
  });
}

async function bootFolder(): Promise<void> {
  if (location.protocol === 'file:') {
    // Opened from disk: there is no server to ask for runs.
    folder.error = 'opened from disk';
    scheduleRender();
    return;
  }
  await folder.refresh();
  const known = new Set(folder.list.map((r) => r.name));
  for (const name of state.shown) {
    if (!known.has(name)) {
      queryProblems.push(`runs=${name}: there is no such run in the folder; it is not shown.`);
      continue;
    }
    try {
      await folder.open(name);
    } catch (error) {
      queryProblems.push(`runs=${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  state.shown = state.shown.filter((name) => folder.opened.has(name));
  // A newcomer who ran a few runs and opened the lab sees the newest one at once.
  if (options.runs.length === 0 && !options.autorun && folder.list[0] !== undefined) {
    state.shown = [folder.list[0].name];
    await folder.open(folder.list[0].name).catch(() => (state.shown = []));
  }
  showNotices();
  scheduleRender();
  // The list's statuses and ages change on their own; the runs being followed update by their streams.
  setInterval(() => {
    if (document.visibilityState === 'visible' && folder.runsDir !== null) void folder.refresh();
  }, 5000);
}

function showNotices(): void {
  if (queryProblems.length) {
    ui.notices.hidden = false;
    ui.notices.className = 'status bad';
    ui.notices.textContent = queryProblems.join(' ');
  }
}

function boot(): void {
  fillPresets();
  wire();
  showSmoothing();
  if (options.configText !== null) {
    let text = options.configText;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        text = withOverrides(parsed, { steps: options.steps, seed: options.seed });
    } catch {
      // Shown as it is: the config check below points at the broken JSON.
    }
    ui.config.value = text;
    ui.preset.value = '';
    ui.presetDescription.textContent = 'A config from the address.';
  } else {
    const known = browserPresets().some((p) => p.name === options.preset);
    if (!known) {
      const reason = findPreset(options.preset)
        ? `preset "${options.preset}" reads the MNIST digits from disk, which a browser cannot (run it with: npx gradscope run ${options.preset})`
        : `there is no preset "${options.preset}"`;
      queryProblems.push(`${reason}; showing ${DEFAULT_PRESET} instead.`);
    }
    ui.preset.value = known ? options.preset : DEFAULT_PRESET;
    ui.config.value = loadPresetText(presetName(), { steps: options.steps, seed: options.seed });
    showPresetDescription();
  }
  showNotices();
  validateConfig();
  send({ type: 'speed', speed: options.speed });
  document.documentElement.dataset['lab'] = 'ready';
  // A config that does not check is still sent: the trainer's answer is the problem the result reports.
  if (options.autorun) newRunA();
  scheduleRender();
  void bootFolder();
}

boot();
