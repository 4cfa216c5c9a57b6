/**
 * What the reports read from a run: per-layer aggregates of the per-parameter records, the logged steps worth
 * showing, and the doctor's findings read structurally (so the report renders whatever version wrote them).
 */
import type { ResolvedConfig } from '../config/types.js';
import type { Severity } from '../doctor/findings.js';
import type { MetricsRecord, Summary } from '../io/runlog.js';

/** One run as the reports take it: the three files of a run directory. */
export interface RunData {
  config: ResolvedConfig;
  records: readonly MetricsRecord[];
  summary: Summary;
  /** The run directory, when it came from disk. */
  dir?: string;
  /** Lines of metrics.jsonl that could not be read (1-based), shown as a warning. */
  badLines?: ReadonlyArray<{ line: number; message: string }>;
  /** preflight.json: gradient flow at initialisation beside mean-field theory, when the run has one. */
  preflight?: PreflightData;
}

/** The parts of `gradscope preflight --json` the report draws (structural, so the report needs no preflight code). */
export interface PreflightData {
  networks: number;
  layers: ReadonlyArray<{ layer: number; q: number; gradNorm2: number; gradNorm2Theory?: number | null }>;
  theory: { qStar: number | null; chi1: number; depthScale: number; phase: string } | null;
  timeGrad: readonly number[];
  verdict: string;
  advice: readonly string[];
  theoryNote?: string | null;
}

export type { Severity };

export interface ReportFix {
  change: string;
  patch: unknown;
  why: string;
}

/**
 * The doctor's `Finding` as the report reads it from any summary.json: the same fields, but `code`, `causeKind`
 * and the fixes' patches left open, because older gradscope versions and other writers (the PyTorch watcher, a
 * hand-edited file) put values there the current unions do not have; `readFinding` fills what is missing.
 */
export interface ReportFinding {
  code: string;
  severity: Severity;
  title: string;
  where: { layers?: number[]; steps?: [number, number]; timeSteps?: number[]; params?: string[] };
  evidence: string[];
  cause: string;
  /** The root cause in one word (v2 logs; empty for older ones). */
  causeKind: string;
  /** The run's timeline, earliest first (v2 logs). */
  timeline: { step: number; text: string }[];
  fixes: ReportFix[];
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { critical: 0, warning: 1, info: 2 };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numbers(value: unknown): number[] | undefined {
  return Array.isArray(value) ? value.filter((v): v is number => typeof v === 'number') : undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** 'vanishing_gradient' -> 'Vanishing gradient'. */
export function humanizeCode(code: string): string {
  const words = code.replace(/[_-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Reads one finding; fields it lacks get empty defaults, and anything without a `code` is dropped. */
export function readFinding(value: unknown): ReportFinding | null {
  if (!isObject(value) || typeof value['code'] !== 'string') return null;
  const code = value['code'];
  const severity = value['severity'];
  const where = isObject(value['where']) ? value['where'] : {};
  const layers = numbers(where['layers']);
  const steps = numbers(where['steps']);
  const timeSteps = numbers(where['timeSteps']);
  const params = strings(where['params']);
  const fixes: ReportFix[] = Array.isArray(value['fixes'])
    ? value['fixes'].flatMap((f): ReportFix[] => {
        if (typeof f === 'string') return [{ change: f, patch: undefined, why: '' }];
        if (!isObject(f)) return [];
        return [
          {
            change: typeof f['change'] === 'string' ? f['change'] : '',
            patch: f['patch'],
            why: typeof f['why'] === 'string' ? f['why'] : '',
          },
        ];
      })
    : [];
  return {
    code,
    severity: severity === 'critical' || severity === 'warning' || severity === 'info' ? severity : 'warning',
    title: typeof value['title'] === 'string' && value['title'] !== '' ? value['title'] : humanizeCode(code),
    where: {
      ...(layers && layers.length ? { layers } : {}),
      ...(steps && steps.length >= 2
        ? { steps: [steps[0] as number, steps[1] as number] as [number, number] }
        : {}),
      ...(timeSteps && timeSteps.length ? { timeSteps } : {}),
      ...(params.length ? { params } : {}),
    },
    evidence: strings(value['evidence']),
    cause: typeof value['cause'] === 'string' ? value['cause'] : '',
    causeKind: typeof value['causeKind'] === 'string' ? value['causeKind'] : '',
    timeline: Array.isArray(value['timeline'])
      ? value['timeline'].flatMap((e) =>
          isObject(e) && typeof e['step'] === 'number' && typeof e['text'] === 'string'
            ? [{ step: e['step'], text: e['text'] }]
            : [],
        )
      : [],
    fixes,
  };
}

/** The findings that can be read, most severe first (the doctor's own order kept within a severity). */
export function readFindings(list: unknown): ReportFinding[] {
  if (!Array.isArray(list)) return [];
  return list
    .map(readFinding)
    .filter((f): f is ReportFinding => f !== null)
    .map((f, i) => ({ f, i }))
    .sort((a, b) => SEVERITY_RANK[a.f.severity] - SEVERITY_RANK[b.f.severity] || a.i - b.i)
    .map(({ f }) => f);
}

/** Layer indices that own parameters, input side first. */
export function paramLayers(records: readonly MetricsRecord[]): number[] {
  const set = new Set<number>();
  for (const r of records) for (const p of r.params ?? []) if (Number.isInteger(p.layer)) set.add(p.layer);
  return [...set].sort((a, b) => a - b);
}

/** Layer indices with activation statistics, input side first. */
export function activationLayers(records: readonly MetricsRecord[]): number[] {
  const set = new Set<number>();
  for (const r of records)
    for (const a of r.activations ?? []) if (Number.isInteger(a.layer)) set.add(a.layer);
  return [...set].sort((a, b) => a - b);
}

/** The names of a layer's parameters, for labels. */
export function layerParamNames(records: readonly MetricsRecord[], layer: number): string[] {
  const names = new Set<string>();
  for (const r of records) for (const p of r.params ?? []) if (p.layer === layer) names.add(p.name);
  return [...names];
}

/**
 * A layer's gradient norm: the L2 norm over all its parameters, sqrt(sum of their squared norms). NaN when the
 * layer is absent from the record; a non-finite parameter norm makes the layer's norm non-finite.
 */
export function layerGradNorm(record: MetricsRecord, layer: number): number {
  let sum = 0;
  let found = false;
  for (const p of record.params ?? []) {
    if (p.layer !== layer) continue;
    found = true;
    sum += p.gradNorm * p.gradNorm;
  }
  return found ? Math.sqrt(sum) : NaN;
}

/**
 * A layer's update/weight ratio ||Δw|| / ||w|| over all its parameters: each parameter's update norm is its ratio
 * times its weight norm. A bias that starts at zero has a huge ratio of its own; weighting by norms keeps it from
 * dominating the layer.
 */
export function layerUpdateRatio(record: MetricsRecord, layer: number): number {
  let update = 0;
  let weight = 0;
  let found = false;
  for (const p of record.params ?? []) {
    if (p.layer !== layer) continue;
    found = true;
    const w = p.weightNorm;
    const u = p.updateRatio * w;
    update += u * u;
    weight += w * w;
  }
  if (!found || !(weight > 0)) return NaN;
  return Math.sqrt(update) / Math.sqrt(weight);
}

/** A layer's activation statistic ('saturated' or 'dead'); NaN when the record has none for that layer. */
export function activationFraction(
  record: MetricsRecord,
  layer: number,
  field: 'saturated' | 'dead',
): number {
  const a = (record.activations ?? []).find((x) => x.layer === layer);
  return a ? a[field] : NaN;
}

/** The first, middle and last items, without repeats (fewer when there are fewer items). */
export function firstMiddleLast<T>(items: readonly T[]): T[] {
  if (items.length <= 3) return [...items];
  const picks = [0, Math.floor((items.length - 1) / 2), items.length - 1];
  return picks.map((i) => items[i] as T);
}

/**
 * The records for "start" and "end" comparisons: the first logged record and the last later one the guard did not
 * skip (a skipped step's parameter gradients are not a picture of training). `end` is null when there is none.
 */
export function startAndEnd(records: readonly MetricsRecord[]): {
  start: MetricsRecord | null;
  end: MetricsRecord | null;
} {
  const start = records[0] ?? null;
  let end: MetricsRecord | null = null;
  for (let i = records.length - 1; i > 0; i--) {
    const r = records[i] as MetricsRecord;
    if (!r.skipped) {
      end = r;
      break;
    }
  }
  return { start, end };
}

/** Records that carry per-time-step gradients. */
export function timeGradRecords(records: readonly MetricsRecord[]): MetricsRecord[] {
  return records.filter((r) => Array.isArray(r.timeGrad) && r.timeGrad.length > 0);
}

/** A record's label in legends, noting when it is not the last record. */
export function stepLabel(record: MetricsRecord, records: readonly MetricsRecord[]): string {
  const last = records[records.length - 1];
  if (record === records[0]) return `step ${record.step} (initialisation)`;
  if (last && record !== last && record.step < last.step) return `step ${record.step} (last not skipped)`;
  return `step ${record.step}`;
}

function initText(init: unknown): string {
  if (typeof init === 'string') return init;
  if (isObject(init)) {
    if (typeof init['normal'] === 'number') return `N(0, ${init['normal']}²)`;
    if (typeof init['uniform'] === 'number') return `U(±${init['uniform']})`;
    if (typeof init['gain'] === 'number') return `${String(init['base'])} × gain ${init['gain']}`;
  }
  return JSON.stringify(init) ?? '?';
}

/** One line describing the model, e.g. 'MLP 20 × 64 sigmoid, xavier-uniform init'. */
export function describeModel(config: ResolvedConfig): string {
  const model = config.model as ResolvedConfig['model'] | undefined;
  if (!model) return 'model unknown';
  if (model.kind === 'mlp') {
    const hidden = model.hidden ?? [];
    const uniform = hidden.length > 0 && hidden.every((h) => h === hidden[0]);
    const shape = uniform ? `${hidden.length} × ${hidden[0]}` : hidden.join('-');
    const extras = [
      model.norm && model.norm !== 'none' ? `${model.norm} norm` : '',
      model.residual ? 'residual' : '',
      model.dropout ? `dropout ${model.dropout}` : '',
    ].filter(Boolean);
    return `MLP ${shape} ${model.activation}, ${initText(model.init)} init${extras.length ? ', ' + extras.join(', ') : ''}`;
  }
  if (model.kind === 'transformer') {
    const ff = model.ffWidth === 4 * model.dModel ? '' : `, ff ${model.ffWidth}`;
    return `Transformer ${model.norm}-LN × ${model.layers} layers, dModel ${model.dModel}, ${model.heads} heads${ff}, ${model.activation}`;
  }
  if (model.kind === 'cnn') {
    const extras = [
      model.pool !== 'none' ? `${model.pool} pool` : '',
      model.norm !== 'none' ? `${model.norm} norm` : '',
      model.head.length > 0 ? `head ${model.head.join('-')}` : '',
    ].filter(Boolean);
    return `CNN ${model.channels.join('-')} channels, ${model.kernel}x${model.kernel} kernels, ${model.activation}, ${initText(model.init)} init${extras.length ? ', ' + extras.join(', ') : ''}`;
  }
  if (model.kind === 'resnet') {
    const extras = [
      model.norm !== 'none' ? `${model.norm} norm` : 'no norm',
      model.shortcut ? '' : 'no shortcuts',
      model.fixup ? 'Fixup' : '',
      model.scale === 'none' ? '' : `scale ${model.scale}`,
    ].filter(Boolean);
    const name = model.shortcut ? 'ResNet' : 'Plain conv net';
    return `${name} ${model.stages} stages × ${model.blocks} blocks × ${model.layers} convs, width ${model.width}, ${model.block}-activation ${model.activation}, ${initText(model.init)} init, ${extras.join(', ')}`;
  }
  if (model.kind === 'seq2seq') {
    if (model.architecture === 'transformer')
      return `Transformer encoder-decoder ${model.norm}-LN × ${model.layers}+${model.layers} layers, dModel ${model.hidden}, ${model.heads} heads, ${model.activation}`;
    const layers = model.layers > 1 ? ` × ${model.layers} layers` : '';
    const reads = model.attention === 'none' ? 'no attention' : `${model.attention} attention`;
    return `${model.cell.toUpperCase()} encoder-decoder hidden ${model.hidden}${layers}, ${reads}, ${initText(model.init)} / recurrent ${initText(model.recurrentInit)} init`;
  }
  const kind = model.kind.toUpperCase();
  const cell = model.kind === 'rnn' ? ` ${model.activation}` : '';
  const layers = model.layers > 1 ? ` × ${model.layers} layers` : '';
  const forget = model.kind === 'lstm' ? `, forget bias ${model.forgetBias}` : '';
  return `${kind}${cell} hidden ${model.hidden}${layers}, ${initText(model.init)} / recurrent ${initText(model.recurrentInit)} init${forget}`;
}

/** 'adam lr 0.01' and the schedule when it is not constant. */
export function describeOptimizer(config: ResolvedConfig): string {
  const o = config.optimizer;
  if (!o) return 'optimizer unknown';
  const schedule =
    config.schedule && config.schedule.name !== 'constant' ? `, ${config.schedule.name} schedule` : '';
  return `${o.name} lr ${o.learningRate}${schedule}`;
}

/** 'no clipping', 'clip norm ≤ 1', ... */
export function describeClip(config: ResolvedConfig): string {
  const c = config.clip;
  if (!c || c.name === 'none') return 'no clipping';
  if (c.name === 'value') return `clip value ±${c.max ?? '?'}`;
  if (c.name === 'norm' || c.name === 'param-norm') return `clip ${c.name} ≤ ${c.max ?? '?'}`;
  if (c.name === 'agc') return `AGC factor ${c.factor ?? '?'}`;
  return `AutoClip p${c.percentile ?? '?'}`;
}

/** True for rnn / lstm / gru. */
export function isRecurrent(config: ResolvedConfig): boolean {
  const kind = config.model?.kind;
  return kind === 'rnn' || kind === 'lstm' || kind === 'gru';
}
