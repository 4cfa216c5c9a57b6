/**
 * Diagnosis entry points: from records (`diagnose`), during training (`diagnoseOnline`), and from files on disk:
 * a run directory, a metrics.jsonl, or TensorBoard event files. Corrupt input is read as far as it is valid and
 * the bad lines or byte offsets are reported; only input with nothing readable throws a `DoctorInputError`.
 *
 * @example
 * const report = diagnosePath('runs/deep-sigmoid');
 * report.verdict;              // 'vanishing'
 * report.findings[0].fixes[0]; // { change: 'model.activation "relu" + model.init "he-normal"', patch: {...}, why }
 */
import {
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  statSync,
  type Stats,
} from 'node:fs';
import { GradscopeError } from '../util/errors.js';
import { basename, join } from 'node:path';
import { readTorchRunConfig, type TorchModelInfo } from '../adapters/torch-run.js';
import { ConfigError, resolveConfig } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { maskedCrc32c } from '../io/crc32c.js';
import { parseFinite, parseJsonlLine } from '../io/jsonl.js';
import type { MetricsRecord } from '../io/runlog.js';
import { readEventDir, readEvents, type ReadError } from '../io/tfevents.js';
import { readHistogramRecords } from '../monitor/histogram.js';
import type { DoctorInput } from './rules.js';
import { eventsToRecords, parseTagRules, trainingEventFiles, unmappedReport } from './tensorboard.js';

export { diagnose, diagnoseOnline, type Diagnosis } from './diagnosis.js';
import { diagnose, type Diagnosis } from './diagnosis.js';

// ---------------------------------------------------------------------------------------------------------
// Reading logs

/** Unreadable input: the CLI prints `message` (path, what was wrong, what is accepted) and exits 2. */
export class DoctorInputError extends GradscopeError {
  override name = 'DoctorInputError';
  declare readonly problem: string;
  constructor(path: string, problem: string) {
    super({ code: 'unreadable', path, problem, hint: ACCEPTED });
  }
}

const ACCEPTED =
  'gradscope doctor accepts a run directory (metrics.jsonl, with config.json and summary.json when present), ' +
  'a metrics.jsonl file, or a TensorBoard event file (events.out.tfevents.*) or a directory of them';

export type InputKind = 'run-directory' | 'metrics' | 'tensorboard';

export interface DoctorReport extends Diagnosis {
  input: {
    path: string;
    kind: InputKind;
    records: number;
    steps: [number, number];
    /** Whether the run's config.json was found and read: causes and fixes are specific to the model. */
    config: string | null;
    /** Set for a run written by the PyTorch watcher: fixes are then phrased as PyTorch changes. */
    torch?: TorchModelInfo;
    /** Whether any record carries per-parameter gradients; without them a "healthy" verdict rests on the loss. */
    gradients: boolean;
  };
  /** Problems met while reading (bad lines, truncated records), each naming where. Reading went on past them. */
  problems: string[];
}

const REQUIRED_FIELDS = ['step', 'loss', 'gradNorm', 'params'] as const;

/** config.json and summary.json beside a log are read whole: larger than this, they are not what gradscope wrote. */
export const MAX_JSON_BYTES = 16 * 1024 ** 2;
/** TensorBoard event files are read whole, so a larger one is refused (gradscope's own stay far below). */
export const MAX_EVENT_FILE_BYTES = 512 * 1024 ** 2;
/** A metrics line longer than this is skipped unread (a record of a very large model is about 100 KB). */
export const MAX_LINE_BYTES = 16 * 1024 ** 2;
/**
 * Bytes of line text the reader keeps as records, thinned evenly when a log is larger (a parsed record takes a
 * few times its text): the last records in full, every non-finite or skipped step, an even sample of the rest.
 */
const KEPT_SAMPLE_BYTES = 2 * 1024 ** 2;
const KEPT_TAIL_BYTES = 1024 ** 2;
const KEPT_SPECIAL_BYTES = 1024 ** 2;
/** Problems named one by one; beyond this they are counted. */
const MAX_PROBLEMS = 20;
const READ_CHUNK_BYTES = 1024 ** 2;

/** A kept line: its text, parsed again when the reading ends (a parsed record takes several times its text). */
interface Kept {
  index: number;
  bytes: number;
  text: string;
}

/**
 * Metrics records from JSONL lines fed one at a time, in bounded memory: every line is parsed and checked, and
 * what is kept is the run's last records in full, every non-finite or skipped step (the guard's), and an even
 * sample of the rest whose stride doubles whenever it outgrows its share.
 */
class MetricsCollector {
  private readonly problems: string[] = [];
  private extraProblems = 0;
  private readonly sample: Kept[] = [];
  private sampleBytes = 0;
  private stride = 1;
  private readonly tail: Kept[] = [];
  private tailBytes = 0;
  private readonly special: Kept[] = [];
  private specialBytes = 0;
  private valid = 0;
  private lines = 0;

  constructor(private readonly path: string) {}

  problem(line: number, text: string): void {
    if (this.problems.length < MAX_PROBLEMS)
      this.problems.push(`${this.path} line ${line}: ${text}; line skipped`);
    else this.extraProblems++;
  }

  /**
   * One line. `beforeTail` says the line lies before the file's last KEPT_TAIL_BYTES, so it cannot be one of the
   * last records: it goes straight to the sample instead of passing through the tail. Without it every line lives in
   * the tail a while, long enough for V8 to promote it, and a 1.2 GB log filled the old space with dead lines
   * between collections (peak RSS 199 MB, against 68 MB for the CLI alone).
   */
  line(text: string, line: number, beforeTail = false): void {
    this.lines = line;
    if (text.trim() === '') return;
    const parsed = parseJsonlLine<Record<string, unknown>>(text);
    if ('error' in parsed) return this.problem(line, parsed.error);
    const r = parsed.record;
    const missing = REQUIRED_FIELDS.filter((k) => !(k in r));
    if (
      missing.length > 0 ||
      typeof r['step'] !== 'number' ||
      !Number.isFinite(r['step']) ||
      !Array.isArray(r['params'])
    )
      return this.problem(
        line,
        `not a metrics record (missing ${missing.join(', ') || 'a finite numeric step and a params array'})`,
      );
    const kept: Kept = { index: this.valid++, bytes: text.length, text };
    // the same reading of these three fields as normalise's, without building the record
    const special =
      r['skipped'] === true || !Number.isFinite(num(r['loss'])) || !Number.isFinite(num(r['gradNorm']));
    if (special && this.specialBytes + kept.bytes <= KEPT_SPECIAL_BYTES) {
      this.special.push(kept);
      this.specialBytes += kept.bytes;
      return;
    }
    if (beforeTail) return this.toSample(kept);
    this.tail.push(kept);
    this.tailBytes += kept.bytes;
    while (this.tailBytes > KEPT_TAIL_BYTES && this.tail.length > 1) {
      const old = this.tail.shift() as Kept;
      this.tailBytes -= old.bytes;
      this.toSample(old);
    }
  }

  private toSample(kept: Kept): void {
    if (kept.index % this.stride !== 0) return;
    this.sample.push(kept);
    this.sampleBytes += kept.bytes;
    while (this.sampleBytes > KEPT_SAMPLE_BYTES && this.sample.length > 1) {
      this.stride *= 2;
      let bytes = 0;
      const thinned = this.sample.filter((k) => k.index === 0 || k.index % this.stride === 0);
      this.sample.length = 0;
      for (const k of thinned) {
        this.sample.push(k);
        bytes += k.bytes;
      }
      this.sampleBytes = bytes;
    }
  }

  result(): { records: MetricsRecord[]; problems: string[] } {
    const all = [...this.sample, ...this.special, ...this.tail].sort((a, b) => a.index - b.index);
    const records = all
      .map((k) =>
        normalise(
          (parseJsonlLine<Record<string, unknown>>(k.text) as { record: Record<string, unknown> }).record,
        ),
      )
      .sort((a, b) => a.step - b.step);
    const problems = [...this.problems];
    if (this.extraProblems > 0) problems.push(`${this.path}: ${this.extraProblems} more bad lines skipped`);
    if (this.stride > 1)
      problems.push(
        `${this.path}: ${this.valid} records in ${this.lines} lines, more than the doctor keeps in memory: it read them all and kept ${records.length} (the last ones, every non-finite or skipped step, and one in ${this.stride} of the rest)`,
      );
    return { records, problems };
  }
}

/** Metrics records from JSONL text: bad lines (invalid JSON, or not a metrics record) are reported, not fatal. */
export function readMetricsText(
  text: string,
  path: string,
): { records: MetricsRecord[]; problems: string[] } {
  const collector = new MetricsCollector(path);
  // The same tail as the file reader's: offsets in UTF-16 units here, bytes there (equal for ASCII logs).
  const tailFrom = text.length - KEPT_TAIL_BYTES;
  let offset = 0;
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop(); // the newline ends the last line; it does not start another
  lines.forEach((line, i) => {
    collector.line(line, i + 1, offset < tailFrom);
    offset += line.length + 1;
  });
  return collector.result();
}

/**
 * Metrics records from a JSONL file, streamed in 1 MiB chunks: memory stays bounded whatever the file's size
 * (lines beyond MAX_LINE_BYTES are skipped without being held). The file must be a regular file.
 */
export function readMetricsFile(path: string): { records: MetricsRecord[]; problems: string[] } {
  const tailFrom = requireRegularFile(path) - KEPT_TAIL_BYTES;
  const collector = new MetricsCollector(path);
  const decoder = new TextDecoder();
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new DoctorInputError(
      path,
      `cannot be read (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  try {
    const chunk = new Uint8Array(READ_CHUNK_BYTES);
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let skipping = false;
    let line = 1;
    let read = 0; // bytes read before this chunk
    let lineStart = 0; // file offset of the line being assembled
    const emit = (parts: Uint8Array[]): void => {
      const bytes = parts.length === 1 ? (parts[0] as Uint8Array) : concat(parts);
      collector.line(decoder.decode(bytes), line, lineStart < tailFrom);
    };
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (error) {
        throw new DoctorInputError(
          path,
          `cannot be read (${error instanceof Error ? error.message : String(error)})`,
        );
      }
      if (n === 0) break;
      let start = 0;
      for (let i = 0; i < n; i++) {
        if (chunk[i] !== 10) continue;
        if (!skipping)
          emit(pending.length === 0 ? [chunk.subarray(start, i)] : [...pending, chunk.slice(start, i)]);
        pending = [];
        pendingBytes = 0;
        skipping = false;
        start = i + 1;
        lineStart = read + start;
        line++;
      }
      read += n;
      if (start < n && !skipping) {
        pending.push(chunk.slice(start, n));
        pendingBytes += n - start;
        if (pendingBytes > MAX_LINE_BYTES) {
          collector.problem(line, `longer than ${MAX_LINE_BYTES / 1024 ** 2} MiB, not a metrics record`);
          pending = [];
          pendingBytes = 0;
          skipping = true;
        }
      }
    }
    if (!skipping && pendingBytes > 0) emit(pending);
  } finally {
    closeSync(fd);
  }
  return collector.result();
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** What a path is, in words, when it is not a regular file or a directory. */
function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  if (stat.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/**
 * Refuse, before opening it (opening a FIFO blocks; a device never ends), anything but a regular file, also
 * behind a symlink; returns the size.
 */
function requireRegularFile(path: string, maxBytes = Infinity): number {
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch (error) {
    throw new DoctorInputError(
      path,
      `cannot be read (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (!stat.isFile()) {
    let link = '';
    try {
      if (lstatSync(path).isSymbolicLink()) link = `a symlink to ${realpathSync(path)}, which is `;
    } catch {
      // The kind alone says enough.
    }
    throw new DoctorInputError(path, `is ${link}${kindOf(stat)}; the doctor reads regular files only`);
  }
  if (stat.size > maxBytes)
    throw new DoctorInputError(
      path,
      `is ${(stat.size / 1024 ** 2).toFixed(0)} MiB, more than the ${(maxBytes / 1024 ** 2).toFixed(0)} MiB the doctor reads for this kind of file`,
    );
  return stat.size;
}

function isObject<T>(value: T): value is T & object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function num(value: unknown, fallback = NaN): number {
  return typeof value === 'number' ? value : fallback;
}

/** Fill optional fields so that records written by older or partial writers still read. */
function normalise(r: Record<string, unknown>): MetricsRecord {
  const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);
  const index = (value: unknown): number =>
    typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
  const numbers = (value: unknown): number[] | null =>
    Array.isArray(value) && value.every((v) => typeof v === 'number') ? (value as number[]) : null;
  const timeGrad = numbers(r['timeGrad']);
  const byLayer = Array.isArray(r['timeGradByLayer']) ? r['timeGradByLayer'].map(numbers) : null;
  const record: MetricsRecord = {
    step: r['step'] as number,
    loss: num(r['loss']),
    lr: num(r['lr']),
    gradNorm: num(r['gradNorm']),
    gradNormClipped: num(r['gradNormClipped'], num(r['gradNorm'])),
    clipped: r['clipped'] === true,
    skipped: r['skipped'] === true,
    params: (r['params'] as unknown[]).filter(isObject).map((raw, i) => {
      const p = raw as Record<string, unknown>;
      const role = p['role'];
      return {
        name: text(p['name'], `params.${i}`),
        layer: index(p['layer']),
        ...(role === 'weight' || role === 'bias' || role === 'norm' || role === 'other' ? { role } : {}),
        gradNorm: num(p['gradNorm']),
        weightNorm: num(p['weightNorm']),
        updateRatio: num(p['updateRatio']),
        maxAbsGrad: num(p['maxAbsGrad'], num(p['gradNorm'])),
        nonFinite: num(p['nonFinite'], 0),
      };
    }),
    activations: (Array.isArray(r['activations']) ? r['activations'] : []).filter(isObject).map((raw, i) => {
      const a = raw as Record<string, unknown>;
      const layer = a['layer'] === undefined ? i : index(a['layer']);
      return {
        name: text(a['name'], `layers.${layer}`),
        layer,
        mean: num(a['mean']),
        std: num(a['std']),
        saturated: num(a['saturated'], 0),
        dead: num(a['dead'], 0),
      };
    }),
    findings: (Array.isArray(r['findings']) ? r['findings'] : []).filter(
      (f): f is MetricsRecord['findings'][number] =>
        isObject(f) &&
        typeof (f as Record<string, unknown>)['code'] === 'string' &&
        typeof (f as Record<string, unknown>)['title'] === 'string' &&
        isObject((f as Record<string, unknown>)['where']),
    ),
  };
  if (timeGrad) record.timeGrad = timeGrad;
  if (typeof r['timeGradFactor'] === 'number') record.timeGradFactor = r['timeGradFactor'];
  if (byLayer && byLayer.every((l) => l !== null)) record.timeGradByLayer = byLayer as number[][];
  if (typeof r['nonFiniteSource'] === 'string') record.nonFiniteSource = r['nonFiniteSource'];
  if (r['rolledBack'] === true) record.rolledBack = true;
  const histograms = readHistogramRecords(r['histograms']);
  if (histograms) record.histograms = histograms;
  // Residual blocks' shortcut and branch mean squares, kept only where every field is what the monitor writes.
  if (Array.isArray(r['residual'])) {
    const blocks = r['residual'].filter(isObject).map((raw) => raw as Record<string, unknown>);
    const valid = blocks.filter(
      (b) =>
        typeof b['name'] === 'string' &&
        ['layer', 'shortcut', 'branch', 'ratio'].every((k) => typeof b[k] === 'number'),
    );
    if (valid.length > 0)
      record.residual = valid.map((b) => ({
        name: b['name'] as string,
        layer: b['layer'] as number,
        shortcut: b['shortcut'] as number,
        branch: b['branch'] as number,
        ratio: b['ratio'] as number,
      }));
  }
  return record;
}

/** A JSON document beside a log, read whole after checking it is a regular file of a sensible size. */
function readSmallText(path: string): string {
  requireRegularFile(path, MAX_JSON_BYTES);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new DoctorInputError(
      path,
      `cannot be read (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

function noRecords(path: string, problems: readonly string[]): DoctorInputError {
  const shown = problems.slice(0, 3).join('; ');
  return new DoctorInputError(
    path,
    `holds no readable metrics record${shown ? ` (${shown}${problems.length > 3 ? `; ${problems.length - 3} more` : ''})` : ' (it is empty)'}`,
  );
}

function report(
  path: string,
  kind: InputKind,
  records: MetricsRecord[],
  config: ResolvedConfig | null,
  configPath: string | null,
  problems: string[],
  summary: DoctorInput['summary'] = null,
): DoctorReport {
  const diagnosis = diagnose({ records, config, summary });
  return {
    ...diagnosis,
    input: {
      path,
      kind,
      records: records.length,
      steps: [(records[0] as MetricsRecord).step, (records[records.length - 1] as MetricsRecord).step],
      config: config ? configPath : null,
      gradients: records.some((r) => r.params.length > 0),
    },
    problems,
  };
}

/**
 * Diagnose a metrics.jsonl. The run's config.json and summary.json are read from the same directory when they
 * exist (a bad config only makes the causes generic, and is reported).
 */
export function diagnoseMetricsFile(path: string): DoctorReport {
  const { records, problems } = readMetricsFile(path);
  if (records.length === 0) throw noRecords(path, problems);
  const dir = join(path, '..');
  const { config, configPath, torch } = readConfigBeside(dir, problems);
  const summary = readSummaryBeside(dir, problems);
  const result = report(path, 'metrics', records, config, configPath, problems, summary);
  return torch ? { ...result, input: { ...result.input, torch } } : result;
}

/** How to read a log: `tags` are `--tags` entries (`role=pattern`, see `parseTagRules`) for TensorBoard logs. */
export interface DiagnoseOptions {
  readonly tags?: readonly string[];
}

/** Diagnose a run directory (metrics.jsonl, config.json, summary.json). */
export function diagnoseRunDir(dir: string, options: DiagnoseOptions = {}): DoctorReport {
  const metrics = join(dir, 'metrics.jsonl');
  if (!existsSync(metrics)) {
    const events = eventFiles(dir);
    if (events.length > 0) return diagnoseEvents(dir, options);
    throw new DoctorInputError(dir, 'is a directory without metrics.jsonl or TensorBoard event files');
  }
  const result = diagnoseMetricsFile(metrics);
  return { ...result, input: { ...result.input, path: dir, kind: 'run-directory' } };
}

function eventFiles(dir: string): string[] {
  try {
    // Recursive: Keras and tfjs-node write train/ and validation/ (or val/) below the log directory.
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) =>
      name.includes('tfevents'),
    );
  } catch {
    return [];
  }
}

function readConfigBeside(
  dir: string,
  problems: string[],
): { config: ResolvedConfig | null; configPath: string | null; torch?: TorchModelInfo } {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) return { config: null, configPath: null };
  try {
    const raw = parseFinite(readSmallText(path));
    const torch = readTorchRunConfig(raw);
    if (torch) {
      problems.push(...torch.problems.map((problem) => `${path}: ${problem}`));
      return { config: torch.config, configPath: torch.config ? path : null, torch: torch.torch };
    }
    const name =
      typeof raw === 'object' && raw !== null && 'name' in raw && typeof raw.name === 'string'
        ? raw.name
        : basename(dir);
    return { config: resolveConfig(raw, { defaultName: name }), configPath: path };
  } catch (error) {
    const why = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
    problems.push(`${path}: not a valid config (${why}); causes and fixes below are generic`);
    return { config: null, configPath: null };
  }
}

function readSummaryBeside(dir: string, problems: string[]): DoctorInput['summary'] {
  const path = join(dir, 'summary.json');
  if (!existsSync(path)) return null;
  try {
    const raw = parseFinite(readSmallText(path)) as Record<string, unknown>;
    const pick = (key: string): { [k: string]: number } =>
      typeof raw[key] === 'number' ? { [key]: raw[key] as number } : {};
    // a finite `loss` inside one of the summary's objects (`baseline`, `eval`), as a field of RunCounts
    const lossOf = (key: string, as: 'baselineLoss' | 'evalLoss'): { [k: string]: number } => {
      const loss = (raw[key] as { loss?: unknown } | undefined)?.loss;
      return typeof loss === 'number' && Number.isFinite(loss) ? { [as]: loss } : {};
    };
    return {
      ...pick('steps'),
      ...pick('skippedSteps'),
      ...pick('clippedSteps'),
      ...lossOf('baseline', 'baselineLoss'),
      ...lossOf('eval', 'evalLoss'),
    };
  } catch (error) {
    problems.push(`${path}: unreadable (${error instanceof Error ? error.message : String(error)}); ignored`);
    return null;
  }
}

/** Diagnose TensorBoard event files: one file, or every `*tfevents*` file of a directory (recursively). */
export function diagnoseEvents(path: string, options: DiagnoseOptions = {}): DoctorReport {
  const rules = parseTagRules(options.tags ?? []);
  const isDir = statSync(path).isDirectory();
  const all = isDir
    ? readEventDir(path, { recursive: true, maxBytes: MAX_EVENT_FILE_BYTES })
    : [{ path, ...readEventsOrThrow(path) }];
  if (all.length === 0)
    throw new DoctorInputError(
      path,
      'is a directory without TensorBoard event files (names containing "tfevents")',
    );
  const { training: files, evaluation } = isDir
    ? trainingEventFiles(path, all)
    : { training: all, evaluation: [] };
  const problems: string[] = [];
  const events = files.flatMap((file) => {
    for (const error of file.errors) problems.push(describeReadError(file.path, error));
    return file.events;
  });
  const mapping = eventsToRecords(events, { rules });
  const { records, used, ignored } = mapping;
  if (records.length === 0) {
    const why = problems.length > 0 ? `; ${problems.slice(0, 2).join('; ')}` : '';
    throw new DoctorInputError(
      path,
      `has no loss or gradient statistics the doctor can read (${unmappedReport(events)}${why})`,
    );
  }
  const roles = Object.entries(mapping.roles)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([role, n]) => `${role} ${n}`)
    .join(', ');
  problems.push(
    `read as: loss from ${mapping.lossTag ?? '(none)'}; ${mapping.parameters} parameters with gradients in ${mapping.layers} layers; tags by role: ${roles}`,
  );
  if (evaluation.length > 0)
    problems.push(
      `evaluation logs set aside (their loss is not the training loss): ${evaluation.map((f) => f.path).join(', ')}`,
    );
  if (mapping.parameters === 0)
    problems.push(
      'no gradient statistics in this log (the loss and weights only): judged on the loss alone. Log gradients (PyTorch: add_histogram(name + ".grad", p.grad); tfjs: watchFit; Keras TF1: write_grads=True), or map their tags with --tags grad=PATTERN',
    );
  if (used.length > 0 && ignored.length > 0)
    problems.push(
      `${ignored.length} TensorBoard tags not used by the doctor (e.g. ${ignored.slice(0, 3).join(', ')}); --tags ROLE=PATTERN maps them`,
    );
  const dir = isDir ? path : join(path, '..');
  const configProblems: string[] = [];
  const { config, configPath } = readConfigBeside(dir, configProblems);
  problems.push(...configProblems);
  return report(path, 'tensorboard', records, config, configPath, problems);
}

function readEventsOrThrow(path: string): ReturnType<typeof readEvents> {
  requireRegularFile(path, MAX_EVENT_FILE_BYTES);
  try {
    return readEvents(path);
  } catch (error) {
    throw new DoctorInputError(
      path,
      `cannot be read (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

function describeReadError(path: string, error: ReadError): string {
  return `${path} byte ${error.offset}: ${error.message}`;
}

function looksLikeEvents(path: string): boolean {
  const name = basename(path);
  if (name.includes('tfevents')) return true;
  if (/\.(jsonl|json|ndjson|txt|log)$/i.test(name)) return false;
  // Otherwise sniff: a TFRecord starts with an 8-byte length followed by its masked CRC-32C.
  try {
    const bytes = new Uint8Array(12);
    const fd = openSync(path, 'r');
    let n: number;
    try {
      n = readSync(fd, bytes, 0, 12, 0);
    } finally {
      closeSync(fd);
    }
    if (n < 12) return false;
    const stored = new DataView(bytes.buffer, bytes.byteOffset, 12).getUint32(8, true);
    return maskedCrc32c(bytes, 0, 8) === stored;
  } catch {
    return false;
  }
}

/**
 * Diagnose whatever `path` is: a run directory, a metrics.jsonl (any name), a TensorBoard event file or a
 * directory of event files.
 */
export function diagnosePath(path: string, options: DiagnoseOptions = {}): DoctorReport {
  if (!existsSync(path)) throw new DoctorInputError(path, 'does not exist');
  const stat = statSync(path);
  if (stat.isDirectory()) return diagnoseRunDir(path, options);
  if (requireRegularFile(path) === 0) throw new DoctorInputError(path, 'is empty');
  return looksLikeEvents(path) ? diagnoseEvents(path, options) : diagnoseMetricsFile(path);
}

/** One run of a folder of runs: its diagnosis, or why it could not be read. */
export interface FolderRun {
  name: string;
  path: string;
  report: DoctorReport | null;
  error: string | null;
}

function holdsRun(dir: string): boolean {
  return existsSync(join(dir, 'metrics.jsonl')) || eventFiles(dir).length > 0;
}

/**
 * The sub-directories of `dir` that hold a run (metrics.jsonl or event files), in name order; empty when `dir`
 * is itself a run, so that `gradscope doctor runs/` diagnoses every run in it.
 */
export function runsInFolder(dir: string): string[] {
  if (holdsRun(dir)) return [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory() && holdsRun(join(dir, e.name)))
    .map((e) => e.name)
    .sort();
}

/**
 * Diagnose every run of a folder (`runsInFolder`); a run that cannot be read is a row with its error, never the
 * end of the others.
 * @example diagnoseFolder('runs').map((r) => `${r.name} ${r.report?.verdict ?? r.error}`)
 */
export function diagnoseFolder(dir: string, options: DiagnoseOptions = {}): FolderRun[] {
  return runsInFolder(dir).map((name) => {
    const path = join(dir, name);
    try {
      return { name, path, report: diagnoseRunDir(path, options), error: null };
    } catch (error) {
      if (!(error instanceof DoctorInputError)) throw error;
      return { name, path, report: null, error: error.problem };
    }
  });
}
