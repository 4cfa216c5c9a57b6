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
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readTorchRunConfig, type TorchModelInfo } from '../adapters/torch-run.js';
import { ConfigError, resolveConfig } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { maskedCrc32c } from '../io/crc32c.js';
import { parseFinite, parseJsonl } from '../io/jsonl.js';
import type { MetricsRecord } from '../io/runlog.js';
import { readEventDir, readEvents, type ReadError } from '../io/tfevents.js';
import type { DoctorInput } from './rules.js';
import { eventsToRecords, parseTagRules, trainingEventFiles, unmappedReport } from './tensorboard.js';

export { diagnose, diagnoseOnline, type Diagnosis } from './diagnosis.js';
import { diagnose, type Diagnosis } from './diagnosis.js';

// ---------------------------------------------------------------------------------------------------------
// Reading logs

/** Unreadable input: the CLI prints `message` (path, what was wrong, what is accepted) and exits 2. */
export class DoctorInputError extends Error {
  override readonly name = 'DoctorInputError';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}. ${ACCEPTED}`);
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
  };
  /** Problems met while reading (bad lines, truncated records), each naming where. Reading went on past them. */
  problems: string[];
}

const REQUIRED_FIELDS = ['step', 'loss', 'gradNorm', 'params'] as const;

/** Metrics records from JSONL text: bad lines (invalid JSON, or not a metrics record) are reported, not fatal. */
export function readMetricsText(
  text: string,
  path: string,
): { records: MetricsRecord[]; problems: string[] } {
  const { records: raw, errors } = parseJsonl<Record<string, unknown>>(text);
  const problems = errors.map((e) => `${path} line ${e.line}: ${e.message}; line skipped`);
  const lines = text.split('\n');
  // parseJsonl does not say which line each record came from; recover it to name records that lack fields.
  const lineOf: number[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    if (errors.some((e) => e.line === i + 1)) return;
    lineOf.push(i + 1);
  });
  const records: MetricsRecord[] = [];
  raw.forEach((r, i) => {
    const missing = REQUIRED_FIELDS.filter((k) => !(k in r));
    if (missing.length > 0 || typeof r['step'] !== 'number' || !Array.isArray(r['params'])) {
      problems.push(
        `${path} line ${lineOf[i] ?? '?'}: not a metrics record (missing ${missing.join(', ') || 'a numeric step and a params array'}); line skipped`,
      );
      return;
    }
    records.push(normalise(r));
  });
  records.sort((a, b) => a.step - b.step);
  return { records, problems };
}

function num(value: unknown, fallback = NaN): number {
  return typeof value === 'number' ? value : fallback;
}

/** Fill optional fields so that records written by older or partial writers still read. */
function normalise(r: Record<string, unknown>): MetricsRecord {
  const record = r as unknown as MetricsRecord;
  return {
    ...record,
    loss: num(r['loss']),
    lr: num(r['lr']),
    gradNorm: num(r['gradNorm']),
    gradNormClipped: num(r['gradNormClipped'], num(r['gradNorm'])),
    clipped: r['clipped'] === true,
    skipped: r['skipped'] === true,
    params: (record.params ?? []).map((p) => ({
      ...p,
      gradNorm: num(p.gradNorm),
      weightNorm: num(p.weightNorm),
      updateRatio: num(p.updateRatio),
      maxAbsGrad: num(p.maxAbsGrad, num(p.gradNorm)),
      nonFinite: num(p.nonFinite, 0),
      layer: num(p.layer, 0),
    })),
    activations: Array.isArray(r['activations']) ? (record.activations ?? []) : [],
    findings: Array.isArray(r['findings']) ? record.findings : [],
  };
}

function readText(path: string): string {
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
    },
    problems,
  };
}

/**
 * Diagnose a metrics.jsonl. The run's config.json and summary.json are read from the same directory when they
 * exist (a bad config only makes the causes generic, and is reported).
 */
export function diagnoseMetricsFile(path: string): DoctorReport {
  const { records, problems } = readMetricsText(readText(path), path);
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
    const raw = parseFinite(readFileSync(path, 'utf8'));
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
    const raw = parseFinite(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const pick = (key: string): { [k: string]: number } =>
      typeof raw[key] === 'number' ? { [key]: raw[key] as number } : {};
    const baseline = raw['baseline'] as { loss?: unknown } | undefined;
    const baselineLoss =
      typeof baseline?.loss === 'number' && Number.isFinite(baseline.loss)
        ? { baselineLoss: baseline.loss }
        : {};
    return { ...pick('steps'), ...pick('skippedSteps'), ...pick('clippedSteps'), ...baselineLoss };
  } catch (error) {
    problems.push(`${path}: unreadable (${error instanceof Error ? error.message : String(error)}); ignored`);
    return null;
  }
}

/** Diagnose TensorBoard event files: one file, or every `*tfevents*` file of a directory (recursively). */
export function diagnoseEvents(path: string, options: DiagnoseOptions = {}): DoctorReport {
  const rules = parseTagRules(options.tags ?? []);
  const isDir = statSync(path).isDirectory();
  const all = isDir ? readEventDir(path, { recursive: true }) : [{ path, ...readEventsOrThrow(path) }];
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
    const bytes = new Uint8Array(readFileSync(path).subarray(0, 12));
    if (bytes.length < 12) return false;
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
  if (!stat.isFile()) throw new DoctorInputError(path, 'is neither a file nor a directory');
  if (stat.size === 0) throw new DoctorInputError(path, 'is empty');
  return looksLikeEvents(path) ? diagnoseEvents(path, options) : diagnoseMetricsFile(path);
}
