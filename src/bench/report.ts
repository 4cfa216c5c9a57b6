/**
 * Turns the repetitions of every runner into medians, ratios, the targets of issue 5, and the printed tables.
 * Ratios compare medians measured in the same run (the same rounds, interleaved), never numbers from elsewhere.
 */
import {
  PRODUCTS,
  gradscopeRunnerId,
  pytorchRunnerId,
  type LstmShape,
  type MonitorTiming,
  type PeakTiming,
  type ProductKind,
  type RunResult,
  type RunSuccess,
  type Shapes,
  type WorkloadId,
} from './protocol.js';
import type { RunnerGroup } from './runners.js';
import { median } from './stats.js';
import { lstmKeptValues } from './training.js';

export interface RunnerInfo {
  id: string;
  label: string;
  group: RunnerGroup;
  available: boolean;
  /** Why it did not run (not installed, failed). */
  reason?: string;
}

export interface StepSummary {
  stepsPerSecond: number;
  /** Smallest and largest of the repetitions. */
  range: [number, number];
  repetitions: number;
  iterations: number;
  firstLoss: number;
  lastLoss: number;
}

export interface ProductSummary {
  shape: string;
  product: ProductKind;
  gflops: number;
  repetitions: number;
}

export interface MonitorSummary {
  every: number;
  overheadPercent: number;
  abOverheadPercent: number;
  plainStepMs: number;
  monitoredExtraMs: number;
  trainerStepsPerSecondOff: number;
  windowSteps: number;
  repetitions: number;
  includes: string[];
}

export interface MemorySummary {
  baselineRssBytes: number;
  sampledPeakRssBytes: number;
  maxRssBytes: number;
  graphBytes?: number;
}

export interface WorkloadSummary {
  runner: string;
  workload: WorkloadId;
  version: string;
  notes: string[];
  steps?: StepSummary;
  products?: ProductSummary[];
  /** W3 on a WebAssembly backend: the SIMD peak, median over the repetitions. */
  peaks?: PeakTiming[];
  monitor?: MonitorSummary;
  memory: MemorySummary;
}

export type TargetStatus = 'met' | 'not met' | 'not measured';

export interface TargetCheck {
  target: string;
  runner: string;
  value: string;
  status: TargetStatus;
}

/**
 * A speed ratio between two runners on one workload (or one W3 product): the median over the rounds of the
 * per-round ratios, so drift in the machine's load between rounds cancels; the ratio of the medians when the
 * results carry no rounds.
 */
export interface RatioEntry {
  runner: string;
  workload: WorkloadId;
  /** W3: `<shape>/<product>`. */
  product?: string;
  against: string;
  value: number;
  /** Rounds paired (0: ratio of medians). */
  rounds: number;
}

export interface Report {
  runners: RunnerInfo[];
  summaries: WorkloadSummary[];
  ratios: RatioEntry[];
  targets: TargetCheck[];
  memoryModel: { workload: 'W2'; keptBytes: number; activationsBytes: number; parameterBytes: number };
  /** The machine's WebAssembly SIMD peak by loop, median over every W3 child that measured it. */
  peaks: PeakTiming[];
}

const medianOf = (results: readonly RunSuccess[], pick: (r: RunSuccess) => number | undefined): number =>
  median(results.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v)));

function summarise(results: readonly RunSuccess[]): WorkloadSummary {
  const first = results[0] as RunSuccess;
  const summary: WorkloadSummary = {
    runner: first.runner,
    workload: first.workload,
    version: first.version,
    notes: first.notes,
    memory: {
      baselineRssBytes: medianOf(results, (r) => r.memory.baselineRssBytes),
      sampledPeakRssBytes: medianOf(results, (r) => r.memory.sampledPeakRssBytes),
      maxRssBytes: medianOf(results, (r) => r.memory.maxRssBytes),
    },
  };
  const graph = medianOf(results, (r) => r.memory.graphBytes);
  if (Number.isFinite(graph)) summary.memory.graphBytes = graph;
  if (first.steps) {
    const rates = results.map((r) => r.steps?.stepsPerSecond ?? NaN).filter(Number.isFinite);
    summary.steps = {
      stepsPerSecond: median(rates),
      range: [Math.min(...rates), Math.max(...rates)],
      repetitions: rates.length,
      iterations: first.steps.iterations,
      firstLoss: first.steps.firstLoss,
      lastLoss: first.steps.lastLoss,
    };
  }
  if (first.products) {
    summary.products = first.products.map((p) => ({
      shape: p.shape,
      product: p.product,
      gflops: medianOf(
        results,
        (r) => r.products?.find((q) => q.shape === p.shape && q.product === p.product)?.gflops,
      ),
      repetitions: results.length,
    }));
  }
  if (first.peaks) {
    summary.peaks = first.peaks.map((p) => ({
      kind: p.kind,
      gflops: medianOf(results, (r) => r.peaks?.find((q) => q.kind === p.kind)?.gflops),
    }));
  }
  if (first.monitor) {
    const m = (pick: (t: MonitorTiming) => number): number =>
      medianOf(results, (r) => (r.monitor ? pick(r.monitor) : undefined));
    summary.monitor = {
      every: first.monitor.every,
      overheadPercent: m((t) => t.overheadPercent),
      abOverheadPercent: m((t) => t.abOverheadPercent),
      plainStepMs: m((t) => t.plainStepMs),
      monitoredExtraMs: m((t) => t.monitoredExtraMs),
      trainerStepsPerSecondOff: m((t) => t.trainerStepsPerSecondOff),
      windowSteps: first.monitor.windowSteps,
      repetitions: results.length,
      includes: first.monitor.includes,
    };
  }
  return summary;
}

/** Summaries of every (runner, workload) that produced at least one result. */
export function summariseAll(results: readonly RunResult[]): WorkloadSummary[] {
  const groups = new Map<string, RunSuccess[]>();
  for (const r of results) {
    if (!r.ok) continue;
    const key = `${r.runner}\u0000${r.workload}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  return [...groups.values()].map(summarise);
}

function find(
  summaries: readonly WorkloadSummary[],
  runner: string,
  workload: WorkloadId,
): WorkloadSummary | undefined {
  return summaries.find((s) => s.runner === runner && s.workload === workload);
}

const stepsOf = (summaries: readonly WorkloadSummary[], runner: string, workload: WorkloadId): number =>
  find(summaries, runner, workload)?.steps?.stepsPerSecond ?? NaN;

const gflopsOf = (
  summaries: readonly WorkloadSummary[],
  runner: string,
  shape: string,
  product: ProductKind,
): number =>
  find(summaries, runner, 'W3')?.products?.find((p) => p.shape === shape && p.product === product)?.gflops ??
  NaN;

/** The peaks of every runner's W3 children, one median per loop kind. */
function machinePeaks(results: readonly RunResult[]): PeakTiming[] {
  const byKind = new Map<PeakTiming['kind'], number[]>();
  for (const r of results) {
    if (!r.ok || r.workload !== 'W3') continue;
    for (const p of r.peaks ?? []) byKind.set(p.kind, [...(byKind.get(p.kind) ?? []), p.gflops]);
  }
  return [...byKind.entries()].map(([kind, values]) => ({ kind, gflops: median(values) }));
}

/**
 * The peak a runner's products are read against: the fused multiply-add loop for the relaxed-SIMD build (the only
 * runner whose kernels issue `relaxed_madd`), the plain multiply and add loop for everyone else (plain 128-bit SIMD;
 * PyTorch's AVX-512 shows how far past it native code goes).
 */
export function peakFor(peaks: readonly PeakTiming[], runner: string): PeakTiming | undefined {
  const kind = runner === 'gradscope-wasm-relaxed' ? 'relaxed_madd' : 'mul+add';
  return peaks.find((p) => p.kind === kind);
}

/** The best JS peer (not gradscope, not PyTorch) on a workload: its id and steps/s. */
export function bestJsPeer(
  runners: readonly RunnerInfo[],
  summaries: readonly WorkloadSummary[],
  workload: WorkloadId,
): { id: string; value: number } | null {
  let best: { id: string; value: number } | null = null;
  for (const r of runners) {
    if (r.group !== 'js-peer') continue;
    const value = stepsOf(summaries, r.id, workload);
    if (Number.isFinite(value) && (!best || value > best.value)) best = { id: r.id, value };
  }
  return best;
}

function lstmMemoryModel(shape: LstmShape): Report['memoryModel'] {
  const kept = lstmKeptValues(shape);
  return {
    workload: 'W2',
    activationsBytes: kept.activations * 4,
    parameterBytes: kept.parameters * 4,
    keptBytes: (kept.activations + kept.parameters) * 4,
  };
}

const fmt = (v: number, digits = 3): string => {
  if (!Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return v.toPrecision(digits);
};
const ratio = (a: number, b: number): string =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—';
const mib = (bytes: number | undefined): string =>
  bytes === undefined || !Number.isFinite(bytes) ? '—' : (bytes / 2 ** 20).toFixed(1);
const pct = (v: number | undefined): string =>
  v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(1)}%`;

function pick(r: RunSuccess, product: string | undefined): number | undefined {
  if (product === undefined) return r.steps?.stepsPerSecond;
  return r.products?.find((p) => `${p.shape}/${p.product}` === product)?.gflops;
}

/** See `RatioEntry`. */
export function pairedRatio(
  results: readonly RunResult[],
  runner: string,
  against: string,
  workload: WorkloadId,
  product?: string,
): { value: number; rounds: number } {
  const values = (id: string): Array<[number | undefined, number]> =>
    results
      .filter((r): r is RunSuccess => r.ok && r.runner === id && r.workload === workload)
      .map((r): [number | undefined, number] => [r.round, pick(r, product) ?? NaN])
      .filter(([, v]) => Number.isFinite(v));
  const mine = values(runner);
  const theirs = values(against);
  if (mine.length > 0 && theirs.length > 0 && [...mine, ...theirs].every(([round]) => round !== undefined)) {
    const byRound = new Map(theirs);
    const ratios = mine
      .filter(([round]) => byRound.has(round))
      .map(([round, v]) => v / (byRound.get(round) as number));
    if (ratios.length > 0) return { value: median(ratios), rounds: ratios.length };
  }
  return { value: median(mine.map(([, v]) => v)) / median(theirs.map(([, v]) => v)), rounds: 0 };
}

function computeRatios(
  runners: readonly RunnerInfo[],
  summaries: readonly WorkloadSummary[],
  results: readonly RunResult[],
  shapes: Shapes,
): RatioEntry[] {
  const entries: RatioEntry[] = [];
  const add = (runner: string, workload: WorkloadId, against: string, product?: string): void => {
    const { value, rounds } = pairedRatio(results, runner, against, workload, product);
    if (Number.isFinite(value))
      entries.push({ runner, workload, against, value, rounds, ...(product ? { product } : {}) });
  };
  for (const r of runners.filter((x) => x.available)) {
    for (const w of STEP_WORKLOADS) {
      add(r.id, w, 'pytorch');
      const best = bestJsPeer(runners, summaries, w);
      if (best) add(r.id, w, best.id);
    }
    for (const shape of shapes.matmul)
      for (const kind of PRODUCTS) add(r.id, 'W3', 'pytorch', `${shape.name}/${kind}`);
  }
  // N threads: gradscope against PyTorch at N threads, and each against itself at one thread (the speed-up).
  for (const pair of threadPairs()) {
    const compared: Array<[string, string]> = [
      [pair.many, pair.one],
      [pair.many, pair.peerMany],
      [pair.peerMany, pair.peerOne],
    ];
    for (const [runner, other] of compared) {
      for (const w of ['W1', 'W2'] as const) add(runner, w, other);
      for (const shape of shapes.matmul)
        for (const kind of PRODUCTS) add(runner, 'W3', other, `${shape.name}/${kind}`);
    }
  }
  return entries;
}

/** Thread counts the bench compares at, with the gradscope and PyTorch runner ids at that count and at 1. */
const COMPARED_THREADS = [2];
interface ThreadPair {
  threads: number;
  many: string;
  one: string;
  peerMany: string;
  peerOne: string;
}
function threadPairs(): ThreadPair[] {
  return COMPARED_THREADS.map((threads) => ({
    threads,
    many: gradscopeRunnerId('wasm', threads),
    one: gradscopeRunnerId('wasm'),
    peerMany: pytorchRunnerId(threads),
    peerOne: pytorchRunnerId(),
  }));
}

/** The "N threads" table: gradscope and PyTorch at one and at N threads, W1, W2 and each W3 product. */
function threadRows(report: Report, shapes: Shapes): string[] {
  const out: string[] = [];
  const { summaries, ratios } = report;
  for (const { threads: n, many, one, peerMany, peerOne } of threadPairs()) {
    if (!summaries.some((x) => x.runner === many)) continue;
    const rows: string[][] = [];
    const row = (what: string, value: (id: string) => number, w: WorkloadId, product?: string): void => {
      rows.push([
        what,
        fmt(value(one)),
        fmt(value(many)),
        times(ratioFrom(ratios, many, w, one, product)),
        fmt(value(peerOne)),
        fmt(value(peerMany)),
        times(ratioFrom(ratios, peerMany, w, peerOne, product)),
        times(ratioFrom(ratios, many, w, peerMany, product)),
      ]);
    };
    row('W1 steps/s', (id) => stepsOf(summaries, id, 'W1'), 'W1');
    row('W2 steps/s', (id) => stepsOf(summaries, id, 'W2'), 'W2');
    for (const shape of shapes.matmul) {
      for (const kind of PRODUCTS) {
        row(
          `W3 GFLOPS ${shape.name} ${kind}`,
          (id) => gflopsOf(summaries, id, shape.name, kind),
          'W3',
          `${shape.name}/${kind}`,
        );
      }
    }
    out.push('', `${n} threads (gradscope's \`threads\` setting; PyTorch's torch.set_num_threads):`, '');
    out.push(
      table(
        [
          'workload',
          'gradscope 1 thread',
          `gradscope ${n} threads`,
          `gradscope ×(${n} / 1)`,
          'PyTorch 1 thread',
          `PyTorch ${n} threads`,
          `PyTorch ×(${n} / 1)`,
          `gradscope ×PyTorch at ${n} threads`,
        ],
        rows,
      ),
    );
  }
  return out;
}

function ratioFrom(
  ratios: readonly RatioEntry[],
  runner: string,
  workload: WorkloadId,
  against: string | undefined,
  product?: string,
): number {
  return (
    ratios.find(
      (e) => e.runner === runner && e.workload === workload && e.against === against && e.product === product,
    )?.value ?? NaN
  );
}

/** The workloads timed as training steps per second. */
const STEP_WORKLOADS = ['W1', 'W2', 'W5', 'W6'] as const;

const times = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '—');

function checkTargets(
  runners: readonly RunnerInfo[],
  summaries: readonly WorkloadSummary[],
  ratios: readonly RatioEntry[],
  model: Report['memoryModel'],
  peaks: readonly PeakTiming[],
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const status = (ok: boolean, measured: boolean): TargetStatus =>
    !measured ? 'not measured' : ok ? 'met' : 'not met';
  for (const runner of runners.filter((r) => r.group === 'gradscope' && r.available)) {
    const id = runner.id;
    for (const [w, min] of [
      ['W1', 0.5],
      ['W2', 0.8],
    ] as const) {
      const r = ratioFrom(ratios, id, w, 'pytorch');
      checks.push({
        target: `${w} >= ${min}x PyTorch (1 thread)`,
        runner: id,
        value: times(r),
        status: status(r >= min, Number.isFinite(r)),
      });
    }
    for (const w of STEP_WORKLOADS) {
      const best = bestJsPeer(runners, summaries, w);
      const r = ratioFrom(ratios, id, w, best?.id);
      checks.push({
        target: `${w} >= 1.5x the fastest JS peer`,
        runner: id,
        value: best ? `${times(r)} ${best.id}` : '—',
        status: status(r >= 1.5, best !== null && Number.isFinite(r)),
      });
    }
    const big = [...PRODUCTS].map((p) => gflopsOf(summaries, id, '512x512x512', p));
    const nn = big[0] as number;
    checks.push({
      target: 'W3 >= 35 GFLOPS on 512^3 (NN; NT and TN shown)',
      runner: id,
      value: `${fmt(nn)} (${big
        .slice(1)
        .map((v) => fmt(v))
        .join(', ')})`,
      status: status(nn >= 35, Number.isFinite(nn)),
    });
    const peak = peakFor(peaks, id);
    const share = peak ? (100 * nn) / peak.gflops : NaN;
    checks.push({
      target: 'W3 512^3 NN >= 80% of the measured WebAssembly SIMD peak',
      runner: id,
      value: peak ? `${pct(share)} of ${fmt(peak.gflops)} (${peak.kind})` : '—',
      status: status(share >= 80, Number.isFinite(share)),
    });
    for (const w of ['W4-W1', 'W4-W2'] as const) {
      const m = find(summaries, id, w)?.monitor;
      checks.push({
        target: `W4 monitor (every ${m?.every ?? 10}) <= 3% of step time on ${w.slice(3)}`,
        runner: id,
        value: m ? `${pct(m.overheadPercent)} (A/B ${pct(m.abOverheadPercent)})` : '—',
        status: status(
          m !== undefined && m.overheadPercent <= 3,
          m !== undefined && Number.isFinite(m.overheadPercent),
        ),
      });
    }
    const w2 = find(summaries, id, 'W2');
    const growth = w2 ? w2.memory.sampledPeakRssBytes - w2.memory.baselineRssBytes : NaN;
    checks.push({
      target: 'W2 memory: RSS growth <= 1.5x (kept activations + parameters)',
      runner: id,
      value: `${ratio(growth, model.keptBytes)} (${mib(growth)} MiB vs ${mib(model.keptBytes)} MiB; graph ${mib(w2?.memory.graphBytes)} MiB)`,
      status: status(growth <= 1.5 * model.keptBytes, Number.isFinite(growth)),
    });
    const parity = ratioFrom(ratios, id, 'W2', 'pytorch');
    checks.push({
      target: 'moonshot: W2 parity with PyTorch',
      runner: id,
      value: times(parity),
      status: status(parity >= 1, Number.isFinite(parity)),
    });
  }
  return checks;
}

export function buildReport(runners: RunnerInfo[], results: readonly RunResult[], shapes: Shapes): Report {
  const summaries = summariseAll(results);
  const memoryModel = lstmMemoryModel(shapes.lstm);
  const ratios = computeRatios(runners, summaries, results, shapes);
  const peaks = machinePeaks(results);
  return {
    runners,
    summaries,
    ratios,
    targets: checkTargets(runners, summaries, ratios, memoryModel, peaks),
    memoryModel,
    peaks,
  };
}

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** The report as Markdown tables (what `npm run bench` prints and docs/PERFORMANCE.md keeps). */
export function formatReport(report: Report, shapes: Shapes): string {
  const { runners, summaries } = report;
  const out: string[] = [];
  const bestW1 = bestJsPeer(runners, summaries, 'W1');
  const bestW2 = bestJsPeer(runners, summaries, 'W2');
  const bigName = shapes.matmul[shapes.matmul.length - 1]?.name ?? '';
  const smallName = shapes.matmul[0]?.name ?? '';
  const w3 = (id: string, shape: string): string => {
    const values = PRODUCTS.map((p) => gflopsOf(summaries, id, shape, p));
    return values.every((v) => !Number.isFinite(v)) ? '—' : values.map((v) => fmt(v)).join(' / ');
  };
  const rows: string[][] = [];
  for (const r of runners.filter((x) => x.available)) {
    const w1 = stepsOf(summaries, r.id, 'W1');
    const w2 = stepsOf(summaries, r.id, 'W2');
    const m1 = find(summaries, r.id, 'W4-W1')?.monitor;
    const m2 = find(summaries, r.id, 'W4-W2')?.monitor;
    const rss1 = find(summaries, r.id, 'W1')?.memory.maxRssBytes;
    const rss2 = find(summaries, r.id, 'W2')?.memory.maxRssBytes;
    rows.push([
      r.label,
      fmt(w1),
      times(ratioFrom(report.ratios, r.id, 'W1', 'pytorch')),
      times(ratioFrom(report.ratios, r.id, 'W1', bestW1?.id)),
      fmt(w2),
      times(ratioFrom(report.ratios, r.id, 'W2', 'pytorch')),
      times(ratioFrom(report.ratios, r.id, 'W2', bestW2?.id)),
      w3(r.id, bigName),
      w3(r.id, smallName),
      m1 || m2 ? `${pct(m1?.overheadPercent)} / ${pct(m2?.overheadPercent)}` : '—',
      `${mib(rss1)} / ${mib(rss2)}`,
    ]);
  }
  out.push(
    table(
      [
        'runner',
        'W1 steps/s',
        'W1 ×PyTorch',
        'W1 ×best JS',
        'W2 steps/s',
        'W2 ×PyTorch',
        'W2 ×best JS',
        `W3 GFLOPS ${bigName} NN/NT/TN`,
        `W3 GFLOPS ${smallName} NN/NT/TN`,
        'W4 monitor overhead W1 / W2',
        'peak RSS MiB W1 / W2',
      ],
      rows,
    ),
  );
  out.push('');
  out.push(
    `Best JS peer: W1 ${bestW1 ? `${bestW1.id} (${fmt(bestW1.value)} steps/s)` : '—'}, W2 ${bestW2 ? `${bestW2.id} (${fmt(bestW2.value)} steps/s)` : '—'}. ` +
      'Steps/s and GFLOPS are medians over the rounds; a ratio is the median of the per-round ratios (each round runs every runner back to back); peak RSS is the whole child process (runtime and libraries included).',
  );

  out.push(...threadRows(report, shapes));

  const convRows: string[][] = [];
  const bestW5 = bestJsPeer(runners, summaries, 'W5');
  const bestW6 = bestJsPeer(runners, summaries, 'W6');
  for (const r of runners.filter((x) => x.available)) {
    const w5 = stepsOf(summaries, r.id, 'W5');
    const w6 = stepsOf(summaries, r.id, 'W6');
    if (!Number.isFinite(w5) && !Number.isFinite(w6)) continue;
    convRows.push([
      r.label,
      fmt(w5),
      times(ratioFrom(report.ratios, r.id, 'W5', 'pytorch')),
      times(ratioFrom(report.ratios, r.id, 'W5', bestW5?.id)),
      fmt(w6),
      times(ratioFrom(report.ratios, r.id, 'W6', 'pytorch')),
      times(ratioFrom(report.ratios, r.id, 'W6', bestW6?.id)),
      `${mib(find(summaries, r.id, 'W5')?.memory.maxRssBytes)} / ${mib(find(summaries, r.id, 'W6')?.memory.maxRssBytes)}`,
    ]);
  }
  if (convRows.length > 0) {
    const c = shapes.conv;
    const t = shapes.transformer;
    out.push('');
    out.push(
      `W5 conv: ${c.channels.length} 3x3 conv layers (${c.channels.join(', ')} channels, ReLU) on ${c.inChannels}x${c.size}x${c.size}, batch ${c.batch}, linear head to ${c.classes}. ` +
        `W6 Transformer: Pre-LN, ${t.layers} layers, dModel ${t.dModel}, ${t.heads} heads, feed-forward ${t.ffWidth} (GELU), seq ${t.seq}, batch ${t.batch}, mean-pooled head to ${t.classes}. ` +
        `Both softmax cross-entropy and SGD (lr ${c.learningRate}). Best JS peer: W5 ${bestW5 ? bestW5.id : 'none ran it'}, W6 ${bestW6 ? bestW6.id : 'none ran it'}.`,
    );
    out.push(
      table(
        [
          'runner',
          'W5 steps/s',
          'W5 ×PyTorch',
          'W5 ×best JS',
          'W6 steps/s',
          'W6 ×PyTorch',
          'W6 ×best JS',
          'peak RSS MiB W5 / W6',
        ],
        convRows,
      ),
    );
  }

  const missing = runners.filter((r) => !r.available);
  if (missing.length > 0) {
    out.push('');
    out.push('Not run:');
    for (const r of missing) out.push(`- ${r.label}: ${r.reason ?? 'unavailable'}`);
  }

  const monitorRows: string[][] = [];
  for (const s of summaries) {
    if (!s.monitor) continue;
    const m = s.monitor;
    const bench = stepsOf(summaries, s.runner, s.workload === 'W4-W1' ? 'W1' : 'W2');
    monitorRows.push([
      `${s.runner} ${s.workload}`,
      pct(m.overheadPercent),
      pct(m.abOverheadPercent),
      `${fmt(m.plainStepMs)} ms`,
      `${fmt(m.monitoredExtraMs)} ms`,
      `${fmt(m.trainerStepsPerSecondOff)} (bench loop ${fmt(bench)})`,
      `${m.repetitions} × ${m.windowSteps} steps`,
    ]);
  }
  if (monitorRows.length > 0) {
    out.push('');
    out.push(
      `W4 through train(): the monitor at its default period (every ${summaries.find((s) => s.monitor)?.monitor?.every ?? 10} steps) vs off.`,
    );
    out.push(
      table(
        [
          'run',
          'overhead (within run)',
          'overhead (A/B runs)',
          'plain step',
          'extra per monitored step',
          'trainer steps/s, monitor off',
          'window',
        ],
        monitorRows,
      ),
    );
    const includes =
      summaries.find((s) => s.workload === 'W4-W2')?.monitor?.includes ??
      summaries.find((s) => s.monitor)?.monitor?.includes ??
      [];
    out.push(`Monitored steps run: ${includes.join('; ')}.`);
  }

  const w3Rows: string[][] = [];
  for (const r of runners.filter((x) => x.available)) {
    const s = find(summaries, r.id, 'W3');
    if (!s?.products) continue;
    const peak = peakFor(report.peaks, r.id);
    w3Rows.push([
      r.label,
      ...s.products.map(
        (p) =>
          `${fmt(p.gflops)} (${times(ratioFrom(report.ratios, r.id, 'W3', 'pytorch', `${p.shape}/${p.product}`))})`,
      ),
      peak ? `${s.products.map((p) => pct((100 * p.gflops) / peak.gflops)).join(' / ')} (${peak.kind})` : '—',
    ]);
  }
  if (w3Rows.length > 0) {
    const header =
      find(summaries, runners.find((r) => find(summaries, r.id, 'W3'))?.id ?? '', 'W3')?.products?.map(
        (p) => `${p.shape} ${p.product}`,
      ) ?? [];
    out.push('');
    out.push('W3 GFLOPS per product (×PyTorch). NN: C = A B; NT: dA = dC Bᵀ; TN: dB = Aᵀ dC.');
    if (report.peaks.length > 0) {
      out.push(
        `WebAssembly SIMD peak, one thread, this machine (asm/peak.ts): ${report.peaks
          .map((p) => `${fmt(p.gflops)} GFLOPS ${p.kind}`)
          .join(
            ', ',
          )}. % of peak: each product against the relaxed_madd peak for the relaxed-SIMD build, against mul+add for everyone else.`,
      );
    }
    out.push(table(['runner', ...header, '% of SIMD peak, in column order'], w3Rows));
  }

  const memRows: string[][] = [];
  for (const r of runners.filter((x) => x.available)) {
    const s = find(summaries, r.id, 'W2');
    if (!s) continue;
    const growth = s.memory.sampledPeakRssBytes - s.memory.baselineRssBytes;
    memRows.push([
      r.label,
      mib(s.memory.baselineRssBytes),
      mib(s.memory.sampledPeakRssBytes),
      mib(growth),
      ratio(growth, report.memoryModel.keptBytes),
      s.memory.graphBytes === undefined
        ? '—'
        : `${mib(s.memory.graphBytes)} (${ratio(s.memory.graphBytes, report.memoryModel.keptBytes)})`,
    ]);
  }
  if (memRows.length > 0) {
    const mm = report.memoryModel;
    out.push('');
    out.push(
      `W2 memory. What full BPTT must keep: ${mib(mm.activationsBytes)} MiB of activations (gates i, f, g, o and c, h per step; the input) + ` +
        `${mib(mm.parameterBytes)} MiB of parameters = ${mib(mm.keptBytes)} MiB. RSS growth = peak RSS sampled during steps − RSS before the first step.`,
    );
    out.push(
      table(
        ['runner', 'RSS before MiB', 'peak RSS MiB', 'growth MiB', 'growth ÷ kept', 'graph MiB (÷ kept)'],
        memRows,
      ),
    );
  }

  if (report.targets.length > 0) {
    out.push('');
    out.push('Targets (issue 5), ratios from this run:');
    out.push(
      table(
        ['target', 'runner', 'value', 'status'],
        report.targets.map((t) => [t.target, t.runner, t.value, t.status]),
      ),
    );
  }

  const notes = summaries.filter((s) => s.notes.length > 0 && s.workload !== 'W3' && s.workload !== 'W4-W1');
  if (notes.length > 0) {
    out.push('');
    out.push('Where runners differ from the workload definition:');
    for (const s of notes) out.push(`- ${s.runner} ${s.workload}: ${s.notes.join('; ')}`);
  }
  return out.join('\n');
}
