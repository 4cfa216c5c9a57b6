/**
 * The browser lab (web/index.html): pick or edit an experiment, train it in small slices between frames so the
 * page stays responsive, watch the gradients, read the doctor's findings as they appear, apply a fix and watch
 * run B beside run A. DOM wiring only: runs live in lab-run.ts, plots in panels.ts, address options in lab-query.ts.
 *
 * When every run is over the page writes a machine-readable summary into `<pre id="result">`, which the tests
 * (and anyone scripting the lab) read: `{"status": "done", "runs": [{"label": "A", "verdict": "vanishing", ...}]}`.
 */
import { findPreset } from '../config/index.js';
import { applyMergePatch, type Fix, type JsonObject } from '../doctor/findings.js';
import { describeClip, describeModel, describeOptimizer, isRecurrent } from '../report/data.js';
import { escapeHtml, formatNumber, formatPercent, formatRanges } from '../report/format.js';
import { VERDICT_TEXT } from '../report/page.js';
import {
  advanceRuns,
  browserPresets,
  buildRun,
  checkConfig,
  withFix,
  type LabRun,
  type RunLabel,
  type RunProblem,
  type SeenFinding,
} from './lab-run.js';
import { DEFAULT_PRESET, linkQuery, parseLabQuery, STEPS_PER_SECOND, type Speed } from './lab-query.js';
import {
  activationPanel,
  depthPanel,
  firstLayerPanel,
  heatMapPanel,
  lossPanel,
  RUN_COLORS,
  timePanel,
  timeReachPanel,
  updateRatioPanel,
} from './panels.js';

// ---------------------------------------------------------------------------------------------------------------
// Elements

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the lab page has no <${type.name}> with id "${id}".`);
  return found;
}

const ui = {
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
  progress: element('progress', HTMLElement),
  notices: element('notices', HTMLElement),
  compare: element('compare', HTMLElement),
  compareHeads: element('compare-heads', HTMLElement),
  viewTabs: element('view-tabs', HTMLElement),
  viewName: element('view-name', HTMLElement),
  timeFigure: element('panel-time', HTMLElement),
  compareTimeFigure: element('compare-time', HTMLElement),
  verdict: element('doctor-verdict', HTMLElement),
  findings: element('findings', HTMLElement),
  result: element('result', HTMLElement),
  tip: element('tip', HTMLElement),
};

function chart(id: string): HTMLElement {
  return element(id, HTMLElement);
}

// ---------------------------------------------------------------------------------------------------------------
// State

const { options, problems: queryProblems } = parseLabQuery(location.search);

const state = {
  runs: { A: null, B: null } as Record<RunLabel, LabRun | null>,
  /** The run the detail panels and the doctor show. */
  view: 'A' as RunLabel,
  playing: false,
  speed: options.speed,
  /** The config text run A was built from: editing it means Start builds a new run. */
  builtFrom: '',
  /** Steps owed at a limited speed (fractional credit between ticks). */
  credit: 0,
  lastTick: 0,
  lastRender: 0,
  timer: null as ReturnType<typeof setTimeout> | null,
  /** Findings signature per rendered view, so buttons are rebuilt only when the list changes. */
  findingsKey: '',
  /** Set by `fix=K` in the address: apply that fix when run A is over. */
  pendingFix: options.fix,
  /** A problem that ended an automatic run (`autorun`), for the result element. */
  failure: null as string | null,
};

function liveRuns(): LabRun[] {
  return [state.runs.A, state.runs.B].filter((run): run is LabRun => run !== null);
}

function viewedRun(): LabRun | null {
  return state.runs[state.view] ?? state.runs.A;
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
  const edited = state.runs.A !== null && ui.config.value !== state.builtFrom;
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
  }, 250);
}

// ---------------------------------------------------------------------------------------------------------------
// Running

function newRunA(): boolean {
  const built = buildRun({ label: 'A', text: ui.config.value, name: presetName() });
  if (!built.ok) {
    showProblem(ui.configStatus, built.problem);
    ui.config.classList.add('invalid');
    state.failure = built.problem.message;
    return false;
  }
  state.runs = { A: built.run, B: null };
  state.view = 'A';
  state.builtFrom = ui.config.value;
  state.failure = null;
  state.findingsKey = '';
  ui.result.textContent = '';
  validateConfig();
  return true;
}

function play(): void {
  state.playing = true;
  state.lastTick = performance.now();
  state.credit = 0;
  schedule();
  updateButtons();
}

function pause(): void {
  state.playing = false;
  if (state.timer !== null) clearTimeout(state.timer);
  state.timer = null;
  updateButtons();
}

function schedule(): void {
  if (state.timer !== null || !state.playing) return;
  state.timer = setTimeout(tick, STEPS_PER_SECOND[state.speed] === Infinity ? 0 : 16);
}

/** One slice of training: a few steps of every unfinished run, then a redraw when something was logged. */
function tick(): void {
  state.timer = null;
  if (!state.playing) return;
  const live = liveRuns().filter((run) => !run.done);
  if (live.length === 0) {
    state.playing = false;
    afterProgress(true);
    return;
  }
  const now = performance.now();
  const rate = STEPS_PER_SECOND[state.speed];
  let maxSteps = 64;
  if (Number.isFinite(rate)) {
    state.credit = Math.min(state.credit + (rate * (now - state.lastTick)) / 1000, Math.max(1, rate / 4));
    maxSteps = Math.floor(state.credit);
    state.credit -= maxSteps;
  }
  state.lastTick = now;
  let logged = false;
  if (maxSteps > 0) logged = advanceRuns(live, { budgetMs: 24, maxSteps }).logged;
  const finished = live.some((run) => run.done);
  afterProgress(finished || (logged && performance.now() - state.lastRender > 120));
  schedule();
}

/** Step: advance every unfinished run to its next logged step, then stop. */
function stepOnce(): void {
  pause();
  if (state.runs.A === null || ui.config.value !== state.builtFrom || liveRuns().every((r) => r.done)) {
    if (!newRunA()) return;
  }
  for (const run of liveRuns()) {
    for (let i = 0; i < run.config.monitor.every && !run.done; i++) if (run.advance() !== null) break;
  }
  afterProgress(true);
}

function start(): void {
  const a = state.runs.A;
  const resumable = a !== null && ui.config.value === state.builtFrom && liveRuns().some((r) => !r.done);
  if (!resumable && !newRunA()) {
    afterProgress(true);
    return;
  }
  play();
  afterProgress(true);
}

function reset(): void {
  pause();
  state.runs = { A: null, B: null };
  state.view = 'A';
  state.pendingFix = null;
  state.failure = null;
  state.findingsKey = '';
  ui.result.textContent = '';
  validateConfig();
  afterProgress(true);
}

function applyFix(source: LabRun, fix: Fix): void {
  const a = state.runs.A;
  if (a === null) return;
  const built = withFix(source, fix, a.config.name);
  if (!built.ok) {
    ui.notices.hidden = false;
    showProblem(ui.notices, built.problem);
    state.failure = built.problem.message;
    return;
  }
  ui.notices.hidden = true;
  state.runs.B = built.run;
  state.view = 'B';
  state.findingsKey = '';
  ui.result.textContent = '';
  play();
  afterProgress(true);
  ui.compare.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

/** What happens after training moved: the automatic fix of `fix=K`, the result element, a redraw. */
function afterProgress(redraw: boolean): void {
  const a = state.runs.A;
  if (state.pendingFix !== null && a !== null && a.done && state.runs.B === null) {
    const k = state.pendingFix;
    state.pendingFix = null;
    const top = a.findings().find((s) => s.active && s.finding.fixes.length > 0);
    const fix = top?.finding.fixes[k - 1];
    if (fix) applyFix(a, fix);
    else
      state.failure = `fix=${k}: run A's diagnosis has ${top ? `only ${top.finding.fixes.length} fixes` : 'no fix to apply'}.`;
  }
  if (redraw) render();
  writeResult();
}

// ---------------------------------------------------------------------------------------------------------------
// Drawing

function render(): void {
  state.lastRender = performance.now();
  renderProgress();
  renderCompare();
  renderPanels();
  renderFindings();
  updateButtons();
}

function updateButtons(): void {
  const runs = liveRuns();
  const anyLive = runs.some((r) => !r.done);
  const fresh = state.runs.A === null || ui.config.value !== state.builtFrom;
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

function verdictBadge(verdict: string, provisional: boolean): string {
  return `<span class="badge verdict-${escapeHtml(verdict)}${provisional ? ' provisional' : ''}" title="${escapeHtml(
    VERDICT_TEXT[verdict] ?? '',
  )}">${escapeHtml(verdict)}${provisional ? ' so far' : ''}</span>`;
}

function runChip(label: RunLabel): string {
  return `<span class="chip" style="background:${RUN_COLORS[label]}">${label}</span>`;
}

function runLine(run: LabRun): string {
  const records = run.records;
  const last = records[records.length - 1];
  const seconds = run.session.trainingSeconds;
  // The engine's own pace; at a limited speed the page waits between steps, so it would mislead there.
  const speed =
    state.speed === 'fast' && seconds > 0 && run.stepsTaken > 0
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
    `<div class="run-line">${runChip(run.label)}<span class="run-name">${escapeHtml(run.config.name)}</span>` +
    `${verdictBadge(run.verdict, !run.done)}<span class="run-numbers">${escapeHtml(parts.join(' · '))}</span>` +
    `<span class="bar"><span style="width:${(100 * fraction).toFixed(1)}%;background:${RUN_COLORS[run.label]}"></span></span>` +
    (run.error ? `<div class="status bad">${escapeHtml(run.error)}</div>` : '') +
    '</div>'
  );
}

function renderProgress(): void {
  const runs = liveRuns();
  ui.progress.innerHTML = runs.length
    ? runs.map(runLine).join('')
    : '<p class="muted">Nothing is running. Pick an experiment and press <strong>Start</strong>.</p>';
}

function renderCompare(): void {
  const a = state.runs.A;
  const b = state.runs.B;
  ui.compare.hidden = a === null || b === null;
  if (a === null || b === null) return;
  const head = (run: LabRun, text: string): string =>
    `<div class="compare-head" style="border-top-color:${RUN_COLORS[run.label]}">` +
    `<div>${runChip(run.label)} ${verdictBadge(run.verdict, !run.done)}</div>` +
    `<p>${text}</p><p class="muted">step ${run.stepsTaken} / ${run.totalSteps}` +
    (run.summary ? ` · eval loss ${escapeHtml(formatNumber(run.summary.eval.loss))}` : '') +
    '</p></div>';
  ui.compareHeads.innerHTML =
    head(a, `<strong>${escapeHtml(a.config.name)}</strong>: the experiment as configured.`) +
    head(
      b,
      `<strong>A + ${b.applied.map((f) => escapeHtml(f.change)).join(' + ')}</strong>` +
        `<br><span class="muted">patch: <code>${escapeHtml(JSON.stringify(b.applied.reduce<JsonObject>((patch, f) => applyMergePatch(patch, f.patch), {})))}</code></span>`,
    );
  const plotted = [a, b].map((run) => ({ label: run.label, records: run.records }));
  chart('compare-loss-chart').innerHTML = lossPanel(plotted, { id: 'compare-loss' });
  chart('compare-first-chart').innerHTML = firstLayerPanel(plotted, { id: 'compare-first' });
  const recurrent = [a, b].filter((run) => isRecurrent(run.config));
  ui.compareTimeFigure.hidden = recurrent.length === 0;
  if (recurrent.length)
    chart('compare-time-chart').innerHTML = timeReachPanel(
      recurrent.map((run) => ({ label: run.label, records: run.records })),
      { id: 'compare-time-reach' },
    );
}

function renderTabs(): void {
  const b = state.runs.B;
  ui.viewTabs.hidden = b === null;
  ui.viewTabs.querySelectorAll('button').forEach((button) => {
    const selected = button.dataset['view'] === state.view;
    button.setAttribute('aria-selected', String(selected));
    button.classList.toggle('selected', selected);
  });
}

function renderPanels(): void {
  renderTabs();
  const run = viewedRun();
  const records = run?.records ?? [];
  ui.viewName.innerHTML = run
    ? `${runChip(run.label)} ${escapeHtml(run.config.name)}`
    : '<span class="muted">no run yet</span>';
  const baseline = run?.summary?.baseline.loss ?? run?.session.task.baseline.loss;
  chart('chart-loss').innerHTML = lossPanel(
    run ? [{ label: run.label, records }] : [],
    baseline !== undefined ? { baseline } : {},
  );
  chart('chart-heatmap').innerHTML = heatMapPanel(records);
  chart('chart-depth').innerHTML = depthPanel(records);
  chart('chart-update').innerHTML = updateRatioPanel(records);
  chart('chart-saturated').innerHTML = activationPanel(records, 'saturated');
  chart('chart-dead').innerHTML = activationPanel(records, 'dead');
  const recurrent = run !== null && isRecurrent(run.config);
  ui.timeFigure.hidden = !recurrent;
  if (recurrent) chart('chart-time').innerHTML = timePanel(records);
  // The heat map's own per-row titles would cover the per-cell tip below.
  document.querySelectorAll('.hm-row > title').forEach((title) => title.remove());
}

function whereText(seen: SeenFinding): string {
  const where = seen.finding.where;
  const parts: string[] = [];
  if (where.layers?.length)
    parts.push(`${where.layers.length === 1 ? 'layer' : 'layers'} ${formatRanges(where.layers)}`);
  if (where.timeSteps?.length) parts.push(`time steps ${formatRanges(where.timeSteps)}`);
  return parts.join(' · ');
}

function findingHtml(run: LabRun, seen: SeenFinding): string {
  const f = seen.finding;
  const when = seen.active
    ? run.done
      ? `in the final diagnosis · first reported at step ${seen.firstStep}`
      : `reported since step ${seen.firstStep}`
    : `reported at steps ${seen.firstStep}–${seen.lastStep}, gone since`;
  const where = whereText(seen);
  const action = run.label === 'A' ? 'Try it as run B' : 'Add it to run B';
  const fixes = f.fixes.length
    ? `<ol class="fixes">${f.fixes
        .map(
          (fix, i) =>
            `<li><div class="fix-change">${escapeHtml(fix.change)}</div>` +
            `<div class="why">${escapeHtml(fix.why)}</div>` +
            `<button type="button" class="apply" data-run="${run.label}" data-code="${escapeHtml(f.code)}" data-index="${i}">${action} ▸</button></li>`,
        )
        .join('')}</ol>`
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

function renderFindings(): void {
  const run = viewedRun();
  if (run === null) {
    ui.verdict.innerHTML = '<p class="muted">The doctor reads every logged step of the run you start.</p>';
    ui.findings.innerHTML = '';
    state.findingsKey = '';
    return;
  }
  const verdict = run.verdict;
  ui.verdict.innerHTML =
    `<p>${runChip(run.label)} ${verdictBadge(verdict, !run.done)}</p>` +
    `<p class="meaning">${escapeHtml(VERDICT_TEXT[verdict] ?? '')}.</p>`;
  const list = run.findings();
  // Rebuild only when the findings or their fixes change, so a button is never replaced under the pointer;
  // otherwise refresh the changing text in place.
  const key = [
    run.label,
    run.done,
    ...list.map((s) => `${s.finding.code}:${s.active}:${s.finding.fixes.map((f) => f.change).join('|')}`),
  ].join(';');
  if (key !== state.findingsKey) {
    state.findingsKey = key;
    ui.findings.innerHTML = list.length
      ? list.map((seen) => findingHtml(run, seen)).join('')
      : `<p class="empty">${
          run.records.length === 0
            ? 'No steps logged yet.'
            : run.done
              ? 'Nothing wrong: the gradient reaches every layer at a usable size.'
              : `No findings at step ${run.records[run.records.length - 1]?.step ?? 0}.`
        }</p>`;
    return;
  }
  for (const seen of list) {
    const article = ui.findings.querySelector(`article[data-code="${seen.finding.code}"]`);
    if (!article) continue;
    const title = article.querySelector('.title');
    if (title) title.textContent = seen.finding.title;
    const evidence = article.querySelector('.evidence');
    if (evidence) evidence.innerHTML = seen.finding.evidence.map((e) => `<li>${escapeHtml(e)}</li>`).join('');
    const cause = article.querySelector('.cause');
    if (cause) cause.textContent = seen.finding.cause;
  }
}

/** The machine-readable outcome, once every run is over (empty while anything is still to come). */
function writeResult(): void {
  const runs = liveRuns();
  const waiting = state.pendingFix !== null && state.runs.A !== null;
  let result: unknown = null;
  if (state.failure !== null && !liveRuns().some((r) => !r.done)) {
    result = { status: 'error', message: state.failure };
  } else if (runs.length > 0 && runs.every((r) => r.done) && !waiting) {
    result = {
      status: 'done',
      runs: runs.map((run) => ({
        label: run.label,
        name: run.config.name,
        steps: run.stepsTaken,
        verdict: run.verdict,
        findings: run
          .findings()
          .filter((s) => s.active)
          .map((s) => s.finding.code),
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
// Heat-map tip: the cell under the pointer, read from the row's data attributes (log10 values; 'x' non-finite).

function showTip(event: MouseEvent): void {
  const target = event.target;
  if (!(target instanceof Element) || !target.classList.contains('hm-row')) {
    ui.tip.hidden = true;
    return;
  }
  const svg = target.closest('svg');
  const values = (target.getAttribute('data-v') ?? '').split(',');
  const box = target.getBoundingClientRect();
  const i = Math.max(
    0,
    Math.min(values.length - 1, Math.floor(((event.clientX - box.left) / box.width) * values.length)),
  );
  const steps = (svg?.getAttribute('data-steps') ?? '').split(',');
  const raw = values[i] ?? '';
  const value = raw === 'x' ? 'NaN or ∞' : raw === 'z' ? '0' : (10 ** Number(raw)).toPrecision(3);
  ui.tip.textContent = `${target.getAttribute('data-label') ?? ''} · step ${steps[i] ?? '?'} · ${svg?.getAttribute('data-value-label') ?? ''} = ${value}`;
  ui.tip.hidden = false;
  ui.tip.style.left = `${event.clientX + 14}px`;
  ui.tip.style.top = `${event.clientY + 14}px`;
}

// ---------------------------------------------------------------------------------------------------------------
// Wiring

function fillPresets(): void {
  const presets = browserPresets();
  ui.preset.innerHTML =
    presets.map((p) => `<option value="${escapeHtml(p.name)}">${escapeHtml(p.name)}</option>`).join('') +
    '<option value="">custom config</option>';
  ui.speed.value = state.speed;
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
  history.replaceState(null, '', `?preset=${encodeURIComponent(presetName())}`);
}

async function copyLink(): Promise<void> {
  const query = linkQuery(ui.config.value);
  history.replaceState(null, '', query);
  try {
    await navigator.clipboard.writeText(location.href);
    ui.copyLink.textContent = 'Link copied';
  } catch {
    ui.copyLink.textContent = 'Link is in the address bar';
  }
  setTimeout(() => (ui.copyLink.textContent = 'Copy link'), 2500);
}

function wire(): void {
  ui.preset.addEventListener('change', onPresetChange);
  ui.config.addEventListener('input', scheduleValidation);
  ui.start.addEventListener('click', start);
  ui.pause.addEventListener('click', pause);
  ui.step.addEventListener('click', stepOnce);
  ui.reset.addEventListener('click', reset);
  ui.speed.addEventListener('change', () => {
    state.speed = ui.speed.value as Speed;
    state.credit = 0;
  });
  ui.copyLink.addEventListener('click', () => void copyLink());
  ui.viewTabs.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button') : null;
    const view = button?.dataset['view'];
    if (view !== 'A' && view !== 'B') return;
    state.view = view;
    state.findingsKey = '';
    render();
  });
  ui.findings.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button.apply') : null;
    if (!(button instanceof HTMLButtonElement)) return;
    const label = button.dataset['run'];
    const run = label === 'A' || label === 'B' ? state.runs[label] : null;
    const seen = run
      ? [...run.seen.values()].find((s) => s.finding.code === button.dataset['code'])
      : undefined;
    const fix = seen?.finding.fixes[Number(button.dataset['index'])];
    if (run && fix) applyFix(run, fix);
  });
  document.addEventListener('mousemove', showTip);
}

function boot(): void {
  fillPresets();
  wire();
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
  if (queryProblems.length) {
    ui.notices.hidden = false;
    ui.notices.textContent = queryProblems.join(' ');
  }
  validateConfig();
  document.documentElement.dataset['lab'] = 'ready';
  if (options.autorun) start();
  else afterProgress(true);
}

boot();
