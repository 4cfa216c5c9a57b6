/**
 * One of the lab's runs (A, the experiment, or B, the experiment with the doctor's fixes applied): a
 * `TrainingSession` plus what the page shows about it, the doctor's findings as they appear and disappear, the
 * final summary, or the error that ended it. Browser-safe: no DOM and no Node modules, so it is tested in Node.
 *
 * @example
 * const built = buildRun({ label: 'A', text: JSON.stringify(findPreset('deep-sigmoid')!.config), name: 'deep-sigmoid' });
 * if (built.ok) while (!built.run.done) built.run.advance();
 * // built.run.verdict === 'vanishing'
 */
import {
  ConfigError,
  PRESETS,
  TASK_NAMES,
  parseConfigText,
  resolveConfig,
  toRunName,
  type Preset,
} from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { diagnoseOnline } from '../doctor/diagnosis.js';
import {
  applyMergePatch,
  verdictOf,
  type Finding,
  type FindingCode,
  type Fix,
  type JsonObject,
  type Verdict,
} from '../doctor/findings.js';
import type { MetricsRecord, Summary } from '../io/runlog.js';
import { TrainingSession } from '../train/session.js';

export type RunLabel = 'A' | 'B';

/** Tasks that read files from disk (the MNIST digits, a csv table): they need Node, so the lab does not offer them. */
export const NODE_ONLY_TASKS: readonly string[] = ['mnist', 'seq-mnist', 'csv'];

function taskOf(config: unknown): string | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const task = (config as { task?: unknown }).task;
  if (typeof task === 'string') return task;
  if (typeof task === 'object' && task !== null) {
    const name = (task as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  }
  return undefined;
}

/** What a Node-only task reads from disk, for the page's refusal. */
const READS_FROM_DISK: Readonly<Record<string, string>> = {
  mnist: 'the MNIST digits',
  'seq-mnist': 'the MNIST digits',
  csv: 'your own table (task.path)',
};

/** A corpus file of the user's own (`task.path` of char-lm) is read through Node's file system too. */
function readsUserFile(config: unknown): boolean {
  const task = (config as { task?: unknown } | null)?.task;
  return typeof task === 'object' && task !== null && (task as { path?: unknown }).path !== undefined;
}

/**
 * True when the config's task runs in a browser: everything but the tasks that read files from disk (MNIST, a csv
 * table, a corpus file of the user's own); the generated tasks and the bundled char-lm corpus do.
 */
export function runsInBrowser(config: unknown): boolean {
  return !NODE_ONLY_TASKS.includes(taskOf(config) ?? 'spirals') && !readsUserFile(config);
}

/** The page's refusal of a config whose task reads files from disk, naming what it reads and what runs here. */
function browserRefusal(config: unknown): string {
  const name = taskOf(config) ?? 'spirals';
  const here = TASK_NAMES.filter((task) => !NODE_ONLY_TASKS.includes(task)).join(', ');
  const terminal = 'or run it from a terminal: npx gradscope run <config.json>.';
  if (!NODE_ONLY_TASKS.includes(name)) {
    const path = String((config as { task: { path: unknown } }).task.path);
    return `task.path: "${path}" is a file on your disk, which a browser cannot read; leave task.path out for the bundled corpus, ${terminal}`;
  }
  return `task: "${name}" reads ${READS_FROM_DISK[name] ?? 'files'} from disk, which a browser cannot; use ${here} here, ${terminal}`;
}

/** The presets the lab offers: those whose task runs in a browser. */
export function browserPresets(): Preset[] {
  return PRESETS.filter((preset) => runsInBrowser(preset.config));
}

/** A finding as the lab tracks it over the run. */
export interface SeenFinding {
  /** The latest version (its numbers change as training goes on). */
  finding: Finding;
  /** The first and last logged step at which the doctor reported it. */
  firstStep: number;
  lastStep: number;
  /** Reported at the latest logged step (or, once the run is over, part of the final diagnosis). */
  active: boolean;
}

/** Why a config could not become a run, with where in the text when the JSON itself is broken. */
export interface RunProblem {
  message: string;
  /** `config` for the JSON and its fields, `setup` for what failed while building the task or model. */
  kind: 'config' | 'setup';
  /** 0-based offset into the text of a JSON syntax error. */
  offset?: number;
}

/** A run that steps its session and keeps the doctor's findings current. */
export class LabRun {
  readonly label: RunLabel;
  /** The config as the user wrote it (or as a fix patched it): what the lab shows and patches. */
  readonly raw: JsonObject;
  readonly config: ResolvedConfig;
  readonly session: TrainingSession;
  /** The fixes applied on the way from run A to this run, in order (empty for A). */
  readonly applied: readonly Fix[];
  /** Every finding seen so far, by code, in the order they first appeared. */
  readonly seen = new Map<FindingCode, SeenFinding>();
  /** Set once the session finished: the final diagnosis. */
  summary: Summary | null = null;
  /** Set when a step threw: the run is over. */
  error: string | null = null;

  constructor(label: RunLabel, raw: JsonObject, config: ResolvedConfig, applied: readonly Fix[] = []) {
    this.label = label;
    this.raw = raw;
    this.config = config;
    this.applied = applied;
    this.session = new TrainingSession(config);
  }

  get records(): readonly MetricsRecord[] {
    return this.session.history;
  }

  get stepsTaken(): number {
    return this.session.stepsTaken;
  }

  get totalSteps(): number {
    return this.config.train.steps;
  }

  get done(): boolean {
    return this.summary !== null || this.error !== null;
  }

  /** The final verdict once finished, else that of the findings reported at the latest logged step. */
  get verdict(): Verdict {
    if (this.summary?.verdict !== undefined) return this.summary.verdict as Verdict;
    return verdictOf([...this.seen.values()].filter((s) => s.active).map((s) => s.finding));
  }

  /** The findings to show: active ones first (most serious first), then those no longer reported. */
  findings(): SeenFinding[] {
    const all = [...this.seen.values()];
    return [...all.filter((s) => s.active), ...all.filter((s) => !s.active)];
  }

  /**
   * Takes one training step (and finishes the run after the last one). Returns the record when the step was
   * logged. Never throws: an error ends the run and is kept in `error`.
   */
  advance(): MetricsRecord | null {
    if (this.done) return null;
    try {
      const { record } = this.session.step();
      if (record) this.observe(record.step, diagnoseOnline(this.session.history, this.config));
      if (this.session.done) this.finish();
      return record;
    } catch (error) {
      this.error = `step ${this.session.stepsTaken + 1} failed: ${messageOf(error)}`;
      return null;
    }
  }

  private observe(step: number, findings: readonly Finding[]): void {
    const codes = new Set(findings.map((f) => f.code));
    for (const seen of this.seen.values()) if (!codes.has(seen.finding.code)) seen.active = false;
    for (const finding of findings) {
      const before = this.seen.get(finding.code);
      this.seen.set(finding.code, {
        finding,
        firstStep: before?.firstStep ?? step,
        lastStep: step,
        active: true,
      });
    }
  }

  private finish(): void {
    const summary = this.session.finish();
    // The final diagnosis looks at the whole run: it decides what is active now.
    const final = summary.findings as Finding[];
    this.observe(this.session.stepsTaken, final);
    this.summary = summary;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

type Outcome<T> = ({ ok: true } & T) | { ok: false; problem: RunProblem };

/** Config text parsed as strict JSON (one key once per object), or where it breaks. */
export function parseConfig(text: string): Outcome<{ raw: unknown }> {
  try {
    return { ok: true, raw: parseConfigText(text, 'config') };
  } catch (error) {
    const offset = error instanceof ConfigError ? error.position?.offset : undefined;
    return {
      ok: false,
      problem: { kind: 'config', message: messageOf(error), ...(offset !== undefined ? { offset } : {}) },
    };
  }
}

/** A parsed config resolved (every default filled in, every field checked) for a browser, or what is wrong. */
export function resolveForLab(raw: unknown, name: string): Outcome<{ config: ResolvedConfig }> {
  if (!runsInBrowser(raw)) {
    return {
      ok: false,
      problem: {
        kind: 'config',
        message: browserRefusal(raw),
      },
    };
  }
  try {
    return { ok: true, config: resolveConfig(raw, { defaultName: name }) };
  } catch (error) {
    return { ok: false, problem: { kind: 'config', message: messageOf(error) } };
  }
}

/** Checks config text without building anything: what the page says while the user types. */
export function checkConfig(text: string, name: string): Outcome<{ raw: unknown; config: ResolvedConfig }> {
  const parsed = parseConfig(text);
  if (!parsed.ok) return parsed;
  const resolved = resolveForLab(parsed.raw, name);
  return resolved.ok ? { ok: true, raw: parsed.raw, config: resolved.config } : resolved;
}

/**
 * A run from config text: parsed, resolved and built (task and model), or the problem that stopped it, phrased
 * for the page.
 */
export function buildRun(options: {
  label: RunLabel;
  text: string;
  name: string;
  applied?: readonly Fix[];
}): Outcome<{ run: LabRun }> {
  const parsed = parseConfig(options.text);
  return parsed.ok ? buildRunFromRaw({ ...options, raw: parsed.raw }) : parsed;
}

/** As `buildRun`, from a parsed config. */
export function buildRunFromRaw(options: {
  label: RunLabel;
  raw: unknown;
  name: string;
  applied?: readonly Fix[];
}): Outcome<{ run: LabRun }> {
  const resolved = resolveForLab(options.raw, options.name);
  if (!resolved.ok) return resolved;
  try {
    const run = new LabRun(options.label, options.raw as JsonObject, resolved.config, options.applied ?? []);
    return { ok: true, run };
  } catch (error) {
    return { ok: false, problem: { kind: 'setup', message: messageOf(error) } };
  }
}

/**
 * Run B: `from`'s config with one more fix applied (a JSON merge patch), named after run A and the changes.
 *
 * @example const b = withFix(runA, runA.findings()[0].finding.fixes[0]);
 */
export function withFix(from: LabRun, fix: Fix, baseName: string): Outcome<{ run: LabRun }> {
  const applied = [...from.applied, fix];
  const raw = applyMergePatch(from.raw, fix.patch);
  // A run name is a name (letters, digits, ".", "_", "-"); the changes are listed in `applied`.
  const named: JsonObject = { ...raw, name: toRunName(`${baseName}-b`) };
  return buildRunFromRaw({ label: 'B', raw: named, name: baseName, applied });
}

/**
 * Steps the runs in turn, one step each per round, until `budgetMs` of wall time is spent or `maxSteps` steps are
 * taken in all (whichever comes first; `maxSteps` also bounds the work when the clock stands still, as it does
 * under a headless browser's virtual time). Returns how many steps were taken and whether any step was logged.
 */
export function advanceRuns(
  runs: readonly LabRun[],
  limits: { budgetMs: number; maxSteps: number; now?: () => number },
): { steps: number; logged: boolean } {
  const now = limits.now ?? (() => performance.now());
  const started = now();
  let steps = 0;
  let logged = false;
  for (;;) {
    const live = runs.filter((run) => !run.done);
    if (live.length === 0) break;
    for (const run of live) {
      if (run.advance() !== null) logged = true;
      steps++;
    }
    if (steps >= limits.maxSteps || now() - started >= limits.budgetMs) break;
  }
  return { steps, logged };
}
