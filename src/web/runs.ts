/**
 * The run folder the lab shows (`gradscope lab --runs DIR`): every run directory directly under DIR, as written by
 * `gradscope run` (config.json, metrics.jsonl, summary.json), by the PyTorch watcher (the same files, with
 * `"source": "pytorch"` in config.json) or by TensorBoard (`events.out.tfevents.*`). Node-only; the server
 * (server.ts) turns these into `/api/runs`, `/api/run` and `/api/stream`.
 *
 * Containment: a run is named by its directory name (`isRunName`, never a path), and every file is read only when
 * its real path (links resolved) lies inside the real DIR, so neither `..` nor a symbolic link leads out.
 *
 * @example
 * const { runs } = listRuns('runs');
 * runs[0]; // { name: 'deep-sigmoid', kind: 'gradscope', verdict: 'vanishing', steps: 2000, ... }
 * const tail = new MetricsTail('runs/deep-sigmoid/metrics.jsonl', 0);
 * tail.read().records.length; // every complete line written so far
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { join, sep } from 'node:path';
import { isTorchRunConfig } from '../adapters/torch-run.js';
import { isRunName, RUN_NAME_ACCEPTED, resolveConfig } from '../config/index.js';
import { readMetricsText } from '../doctor/diagnose.js';
import { eventsToRecords, TAG_RULES } from '../doctor/tensorboard.js';
import { parseFinite } from '../io/json.js';
import type { MetricsRecord } from '../io/runlog.js';
import { readEventDir, type ParsedEvent } from '../io/tfevents.js';
import { rebinHistogram, type HistogramRecord } from '../monitor/histogram.js';
import { describeModel } from '../report/data.js';
import { GradscopeError, type ErrorCode, type ErrorDetails } from '../util/errors.js';

/** Who wrote the run. */
export type RunKind = 'gradscope' | 'pytorch' | 'tensorboard';

/**
 * `finished`: summary.json is there. `live`: no summary yet and a file changed within `LIVE_SECONDS`.
 * `stopped`: no summary and nothing written for longer (killed, or still starting a long step).
 */
export type RunStatus = 'finished' | 'live' | 'stopped';

/** One line of the run list. */
export interface RunEntry {
  name: string;
  kind: RunKind;
  status: RunStatus;
  task: string | null;
  model: string | null;
  /** The summary's verdict; null while the run has none (live, stopped, or a TensorBoard log). */
  verdict: string | null;
  /** The last logged step (the summary's step count once finished). */
  steps: number | null;
  /** `train.steps` of the config, when known. */
  totalSteps: number | null;
  /** Last modification of any of the run's files, in ms since the epoch. */
  mtime: number;
}

/** A run with its records, for `/api/run`. */
export interface RunData {
  entry: RunEntry;
  config: unknown;
  summary: unknown;
  records: MetricsRecord[];
  /** Bytes of metrics.jsonl read (up to the last complete line): where `/api/stream` goes on from. */
  offset: number;
  /** Lines that could not be read, each naming the file and line. */
  problems: string[];
}

const UTF8 = new TextDecoder();

/** A run is live while one of its files changed within this many seconds. */
export const LIVE_SECONDS = 30;

/** Bounds on what one request reads: the list's length and one metrics file. */
export const RUN_LIMITS = {
  maxRuns: 500,
  maxMetricsBytes: 256 * 1024 * 1024,
  tailChunkBytes: 4 * 1024 * 1024,
};

/** The HTTP answer the server gives for each way a run cannot be read, with the error code it is. */
const RUN_FOLDER_CODES = {
  400: 'invalid_value',
  403: 'invalid_value',
  404: 'not_found',
  413: 'unreadable',
} as const satisfies Readonly<Record<number, ErrorCode>>;
type RunFolderStatus = keyof typeof RUN_FOLDER_CODES;

/** Why a run could not be read: a `GradscopeError` (the CLI exits 2); `status` is the HTTP answer the server gives. */
export class RunFolderError extends GradscopeError {
  override readonly name = 'RunFolderError';
  constructor(
    readonly status: RunFolderStatus,
    details: Omit<ErrorDetails, 'code' | 'message'>,
  ) {
    super({ code: RUN_FOLDER_CODES[status], ...details });
  }
}

function isInside(real: string, realRoot: string): boolean {
  return real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
}

/** The real path of DIR, or null when it does not exist (yet). */
export function realRunsRoot(dir: string): string | null {
  try {
    const real = realpathSync(dir);
    return statSync(real).isDirectory() ? real : null;
  } catch {
    return null;
  }
}

/**
 * The real path of run `name` under `root` (already a real path): a bad name is 400, a link out of the folder 403,
 * no such directory 404.
 */
export function runDirectory(root: string, name: string): string {
  if (!isRunName(name))
    throw new RunFolderError(400, { path: 'run name', value: name, accepted: RUN_NAME_ACCEPTED });
  let real: string;
  try {
    real = realpathSync(join(root, name));
  } catch {
    throw new RunFolderError(404, { path: root, problem: `there is no run ${JSON.stringify(name)}` });
  }
  if (!isInside(real, root) || real === root)
    throw new RunFolderError(403, {
      path: join(root, name),
      problem: `links outside ${root}`,
      hint: 'the lab only reads inside it',
    });
  if (!statSync(real).isDirectory())
    throw new RunFolderError(404, { path: join(root, name), problem: 'is not a directory' });
  return real;
}

/** The real path of `file` in run directory `dir`, or null when it is missing or (through a link) outside `root`. */
function runFile(root: string, dir: string, file: string): string | null {
  try {
    const real = realpathSync(join(dir, file));
    return isInside(real, root) && statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}

function eventFileNames(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name.includes('tfevents'));
  } catch {
    return [];
  }
}

function readJson(path: string | null): unknown {
  if (path === null) return null;
  try {
    return parseFinite(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The last complete line's `step` of a metrics.jsonl, read from its last 64 KiB only. */
function lastLoggedStep(path: string): number | null {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = new Uint8Array(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = UTF8.decode(buffer).split('\n');
    lines.pop(); // a partial last line, or '' after the final newline
    for (let i = lines.length - 1; i >= 0; i--) {
      const match = /"step"\s*:\s*(\d+)/.exec(lines[i] as string);
      if (match) return Number(match[1]);
    }
    return null;
  } finally {
    closeSync(fd);
  }
}

function modelText(config: Record<string, unknown>, name: string): string | null {
  if (isTorchRunConfig(config)) {
    const torch = config['torch'];
    return isObject(torch) && typeof torch['module'] === 'string' ? `PyTorch ${torch['module']}` : 'PyTorch';
  }
  try {
    return describeModel(resolveConfig(config, { defaultName: name }));
  } catch {
    return null;
  }
}

function taskText(config: Record<string, unknown>): string | null {
  const task = config['task'];
  if (typeof task === 'string') return task;
  return isObject(task) && typeof task['name'] === 'string' ? task['name'] : null;
}

/** The list entry of run directory `dir` (a real path inside `root`), or null when it holds no run. */
/** A run's list entry as last read, by real directory: reused while none of its files changed (size and mtime). */
const entryCache = new Map<string, { key: string; entry: RunEntry }>();

/** The list entry of run directory `dir` (a real path inside `root`), or null when it holds no run. */
function readEntry(root: string, dir: string, name: string, now: number): RunEntry | null {
  const metrics = runFile(root, dir, 'metrics.jsonl');
  const events = metrics === null ? eventFileNames(dir) : [];
  if (metrics === null && events.length === 0) return null;
  const configPath = runFile(root, dir, 'config.json');
  const summaryPath = runFile(root, dir, 'summary.json');
  const files = [metrics, configPath, summaryPath, ...events.map((e) => runFile(root, dir, e))];
  const stats = files.map((f) => (f === null ? null : statSync(f)));
  const mtime = Math.max(0, ...stats.map((s) => s?.mtimeMs ?? 0));
  const key = `${name}|${files.join('|')}|${stats.map((s) => (s ? `${s.size}:${s.mtimeMs}` : '-')).join('|')}`;
  const cached = entryCache.get(dir);
  const status = (entry: RunEntry): RunEntry => ({
    ...entry,
    status: entry.status === 'finished' ? 'finished' : now - mtime < LIVE_SECONDS * 1000 ? 'live' : 'stopped',
  });
  if (cached && cached.key === key) return status(cached.entry);
  const config = readJson(configPath);
  const summary = readJson(summaryPath);
  const kind: RunKind = metrics === null ? 'tensorboard' : isTorchRunConfig(config) ? 'pytorch' : 'gradscope';
  const hasSummary = isObject(summary);
  let steps: number | null = null;
  if (hasSummary && typeof summary['steps'] === 'number') steps = summary['steps'];
  else if (metrics !== null) steps = lastLoggedStep(metrics);
  else steps = tensorboardRecords(root, dir).records.at(-1)?.step ?? null;
  const train = isObject(config) && isObject(config['train']) ? config['train'] : null;
  const entry: RunEntry = {
    name,
    kind,
    status: hasSummary ? 'finished' : 'live',
    task: isObject(config) ? taskText(config) : null,
    model: isObject(config) ? modelText(config, name) : null,
    verdict: hasSummary && typeof summary['verdict'] === 'string' ? summary['verdict'] : null,
    steps,
    totalSteps: train && typeof train['steps'] === 'number' ? train['steps'] : null,
    mtime,
  };
  if (entryCache.size >= RUN_LIMITS.maxRuns * 2) entryCache.clear();
  entryCache.set(dir, { key, entry });
  return status(entry);
}

/**
 * Every run directly under `dir`, newest first. Directories whose names are not run names, links out of `dir` and
 * directories holding no run are left out; `skipped` says which and why.
 */
export function listRuns(dir: string, now = Date.now()): { runs: RunEntry[]; skipped: string[] } {
  const root = realRunsRoot(dir);
  if (root === null) return { runs: [], skipped: [`${dir} does not exist (yet)`] };
  const runs: RunEntry[] = [];
  const skipped: string[] = [];
  for (const name of readdirSync(root).sort()) {
    if (!isRunName(name)) {
      skipped.push(`${name}: not a run name (${RUN_NAME_ACCEPTED})`);
      continue;
    }
    if (runs.length >= RUN_LIMITS.maxRuns) {
      skipped.push(`${name}: more than ${RUN_LIMITS.maxRuns} runs; the rest are not listed`);
      break;
    }
    let real: string;
    try {
      real = runDirectory(root, name);
    } catch (error) {
      if (error instanceof RunFolderError && error.status === 403) skipped.push(`${name}: ${error.message}`);
      continue;
    }
    try {
      const entry = readEntry(root, real, name, now);
      if (entry) runs.push(entry);
    } catch (error) {
      skipped.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  runs.sort((a, b) => b.mtime - a.mtime || a.name.localeCompare(b.name));
  return { runs, skipped };
}

function tensorboardRecords(root: string, dir: string): { records: MetricsRecord[]; problems: string[] } {
  const files = readEventDir(dir, { recursive: false }).filter((file) =>
    runFile(root, dir, relative(dir, file.path)),
  );
  const problems = files.flatMap((file) =>
    file.errors.map((e) => `${file.path} byte ${e.offset}: ${e.message}`),
  );
  const events = files.flatMap((file) => file.events);
  const records = eventsToRecords(events).records;
  attachHistograms(records, events);
  return { records, problems };
}

/**
 * The weight and gradient histograms of a TensorBoard log, re-binned into the monitor's equal-width buckets (as
 * TensorBoard's dashboard draws them) and put on the record of their step, so the lab's distributions panel shows
 * them as it shows a gradscope run's. Tags are read by the doctor's tag table (`layers.0.weight`, `grad/<param>`,
 * `<param>.grad`, `<layer>/kernel_0`, ...); a parameter's layer is its record's, else its order of appearance.
 */
export function attachHistograms(records: MetricsRecord[], events: readonly ParsedEvent[]): void {
  const byStep = new Map(records.map((r) => [r.step, r]));
  // One layer per parameter for the whole log: its record's where it has one, else its order of appearance.
  const layerOf = new Map<string, number>();
  for (const event of events) {
    const record = byStep.get(event.step);
    if (!record) continue;
    for (const value of event.values) {
      if (value.kind !== 'histogram') continue;
      const rule = TAG_RULES.find((r) => r.pattern.test(value.tag));
      if (rule?.role !== 'weight' && rule?.role !== 'grad') continue;
      const name = rule.pattern.exec(value.tag)?.[1] ?? value.tag;
      let layer = layerOf.get(name);
      if (layer === undefined) {
        layer = record.params.find((p) => p.name === name)?.layer ?? layerOf.size;
        layerOf.set(name, layer);
      }
      const entry: HistogramRecord = {
        name,
        layer,
        of: rule.role === 'weight' ? 'weight' : 'grad',
        ...rebinHistogram(value.histogram),
      };
      (record.histograms ??= []).push(entry);
    }
  }
}

function relative(dir: string, path: string): string {
  return path.startsWith(dir + sep) ? path.slice(dir.length + 1) : path;
}

/** Run `name` under `dir` with its config, summary and every record logged so far. */
export function readRun(dir: string, name: string, now = Date.now()): RunData {
  const root = realRunsRoot(dir);
  if (root === null) throw new RunFolderError(404, { path: dir, problem: 'the run folder does not exist' });
  const real = runDirectory(root, name);
  const entry = readEntry(root, real, name, now);
  if (entry === null)
    throw new RunFolderError(404, {
      path: join(dir, name),
      problem: 'holds no run (no metrics.jsonl and no TensorBoard event file)',
    });
  const config = readJson(runFile(root, real, 'config.json'));
  const summary = readJson(runFile(root, real, 'summary.json'));
  const metrics = runFile(root, real, 'metrics.jsonl');
  if (metrics === null) {
    const { records, problems } = tensorboardRecords(root, real);
    return { entry, config, summary, records, offset: 0, problems };
  }
  const size = statSync(metrics).size;
  if (size > RUN_LIMITS.maxMetricsBytes)
    throw new RunFolderError(413, {
      path: metrics,
      value: size,
      problem: `is ${size} bytes, more than the lab reads (${RUN_LIMITS.maxMetricsBytes})`,
      hint: `diagnose it with: gradscope doctor ${join(dir, name)}`,
    });
  const tail = new MetricsTail(metrics, 0);
  const { records, problems } = tail.readAll();
  return { entry, config, summary, records, offset: tail.offset, problems };
}

/** The path of run `name`'s metrics.jsonl and summary.json under `dir` (contained), for the live stream. */
export function runFiles(dir: string, name: string): { dir: string; metrics: string; summary: string } {
  const root = realRunsRoot(dir);
  if (root === null) throw new RunFolderError(404, { path: dir, problem: 'the run folder does not exist' });
  const real = runDirectory(root, name);
  return {
    dir: real,
    metrics: join(real, 'metrics.jsonl'),
    summary: join(real, 'summary.json'),
  };
}

/** Whether `path` is a file whose real path lies inside `dir` (the stream checks this before each read). */
export function containedFile(dir: string, path: string): boolean {
  try {
    const real = realpathSync(path);
    return isInside(real, realpathSync(dir)) && statSync(real).isFile();
  } catch {
    return false;
  }
}

/**
 * Follows a growing metrics.jsonl from a byte offset: each `read()` returns the records of the lines completed
 * since the last one. A partial last line (the writer is mid-line) is held back until its newline arrives; a file
 * that got shorter (rewritten) starts over from 0 and says so with `reset`.
 */
export class MetricsTail {
  /** Lines consumed (0-based number of the next line), for problems that name a line. Unknown past a `from=`. */
  private line = 0;

  constructor(
    readonly path: string,
    /** Bytes consumed: always just after a newline (or 0). */
    public offset: number,
  ) {
    if (!Number.isInteger(offset) || offset < 0)
      throw new RangeError(`MetricsTail offset must be a whole number >= 0, got ${offset}.`);
  }

  /** The records completed since the last read (at most `RUN_LIMITS.tailChunkBytes` of them per call). */
  read(maxBytes = RUN_LIMITS.tailChunkBytes): {
    records: MetricsRecord[];
    problems: string[];
    reset: boolean;
  } {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return { records: [], problems: [], reset: false };
    }
    try {
      const size = fstatSync(fd).size;
      let reset = false;
      if (size < this.offset) {
        this.offset = 0;
        this.line = 0;
        reset = true;
      }
      const length = Math.min(size - this.offset, maxBytes);
      if (length <= 0) return { records: [], problems: [], reset };
      const buffer = new Uint8Array(length);
      const got = readSync(fd, buffer, 0, length, this.offset);
      const end = buffer.subarray(0, got).lastIndexOf(0x0a);
      if (end < 0) {
        if (got < maxBytes) return { records: [], problems: [], reset };
        const problem = `${this.path} line ${this.line + 1}: longer than ${maxBytes} bytes; line skipped`;
        this.skipLine(fd, size);
        return { records: [], problems: [problem], reset };
      }
      const chunk = buffer.subarray(0, end);
      const first = this.line;
      const { records, problems } = readMetricsText(UTF8.decode(chunk), this.path);
      this.offset += end + 1;
      for (const byte of chunk) if (byte === 0x0a) this.line++;
      this.line++;
      // readMetricsText counts lines from the start of the chunk; name them as lines of the file.
      const prefix = `${this.path} line `;
      const renumbered = problems.map((p) =>
        p.startsWith(prefix)
          ? p.replace(/^(.* line )(\d+)/, (_m, head: string, n: string) => `${head}${Number(n) + first}`)
          : p,
      );
      return { records, problems: renumbered, reset };
    } finally {
      closeSync(fd);
    }
  }

  /** Everything up to the last complete line, however long the file (readRun checks its size first). */
  readAll(): { records: MetricsRecord[]; problems: string[] } {
    const records: MetricsRecord[] = [];
    const problems: string[] = [];
    for (;;) {
      const before = this.offset;
      const chunk = this.read();
      records.push(...chunk.records);
      problems.push(...chunk.problems);
      if (this.offset === before) return { records, problems };
    }
  }

  /** Moves past the line at `offset` (when its newline has arrived; otherwise the next read tries again). */
  private skipLine(fd: number, size: number): void {
    const buffer = new Uint8Array(64 * 1024);
    for (let at = this.offset; at < size; at += buffer.length) {
      const got = readSync(fd, buffer, 0, buffer.length, at);
      const end = buffer.subarray(0, got).indexOf(0x0a);
      if (end >= 0) {
        this.offset = at + end + 1;
        this.line++;
        return;
      }
    }
  }
}

/** True when the run's summary.json exists (contained): the run is over. */
export function runFinished(dir: string, summaryPath: string): boolean {
  return existsSync(summaryPath) && containedFile(dir, summaryPath);
}
