/**
 * The clinic: sick runs with known root causes and healthy controls, each small enough to train in about a second.
 * It measures the doctor the way a user judges it: is the verdict right, is the cause right, and does following the
 * first fix (unverified) or the best verified fix make the run better than leaving it alone? The test suite runs
 * every case (src/doctor/clinic.test.ts); `node dist/doctor/clinic.js` prints the table in docs/DOCTOR.md. Never
 * tune a rule to one case here: a rule change must hold over the whole table.
 */
import { resolveConfig } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/types.js';
import { TrainingSession } from '../train/session.js';
import type { Summary } from '../io/runlog.js';
import type { CauseKind, Finding, JsonObject } from './findings.js';
import { beats, outcomeOf, patchedConfig, verifyFixes, type Outcome } from './verify.js';

export interface ClinicCase {
  name: string;
  /** What is wrong, in words. */
  story: string;
  config: JsonObject;
  /** The verdicts a right diagnosis may give (several symptoms can be equally right). */
  verdicts: readonly string[];
  /** The root cause; null for a healthy control. */
  causeKind: CauseKind | null;
}

const spirals = { name: 'spirals' };
const small = { steps: 300, batchSize: 32 };

/** Sick runs, then healthy controls. */
export const CLINIC: readonly ClinicCase[] = [
  {
    name: 'sgd-lr-too-high-tanh',
    story: '6-layer tanh MLP, SGD at learning rate 2: healthy at step 1, then the weights blow up and units saturate',
    config: {
      task: spirals,
      model: { kind: 'mlp', depth: 6, width: 32, activation: 'tanh', init: 'xavier-normal' },
      optimizer: { name: 'sgd', learningRate: 2 },
      train: small,
    },
    verdicts: ['exploding', 'saturated', 'vanishing', 'not-learning'],
    causeKind: 'learning-rate',
  },
  {
    name: 'adam-lr-too-high-relu',
    story: '4-layer ReLU MLP, Adam at learning rate 0.3: huge first steps kill units',
    config: {
      task: spirals,
      model: { kind: 'mlp', depth: 4, width: 32, activation: 'relu', init: 'he-normal' },
      optimizer: { name: 'adam', learningRate: 0.3 },
      train: small,
    },
    verdicts: ['exploding', 'dead-units', 'not-learning'],
    causeKind: 'learning-rate',
  },
  {
    name: 'sgd-lr-too-small',
    story: 'a well-built ReLU MLP whose SGD learning rate (1e-5) moves nothing',
    config: {
      task: spirals,
      model: { kind: 'mlp', depth: 4, width: 32, activation: 'relu', init: 'he-normal' },
      optimizer: { name: 'sgd', learningRate: 1e-5 },
      train: small,
    },
    verdicts: ['not-learning', 'vanishing'],
    causeKind: 'learning-rate',
  },
  {
    name: 'adam-lr-too-small',
    story: 'Adam at learning rate 1e-6: gradients fine, loss at its start',
    config: {
      task: spirals,
      model: { kind: 'mlp', depth: 3, width: 32, activation: 'tanh', init: 'xavier-normal' },
      optimizer: { name: 'adam', learningRate: 1e-6 },
      train: small,
    },
    verdicts: ['not-learning', 'vanishing'],
    causeKind: 'learning-rate',
  },
]

export interface ClinicResult {
  name: string;
  expected: { verdicts: readonly string[]; causeKind: CauseKind | null };
  verdict: string;
  causeKind: CauseKind | null;
  firstFix: string | null;
  control: Outcome;
  /** The first fix's outcome trained alone, unverified. */
  firstFixOutcome: Outcome | null;
  firstFixCures: boolean;
  verifiedFix: string | null;
  verifiedCures: boolean;
  verdictRight: boolean;
  causeRight: boolean;
  findings: Finding[];
}

function trainInMemory(config: ResolvedConfig): Summary {
  const session = new TrainingSession(config, {});
  while (!session.done) session.step();
  return session.finish();
}

/** Train a case, diagnose it, train its first fix and verify its top fixes. */
export function runClinicCase(c: ClinicCase, options: { top?: number } = {}): ClinicResult {
  const config = resolveConfig(c.config, { defaultName: c.name });
  const summary = trainInMemory(config);
  const findings = summary.findings as Finding[];
  const verdict = summary.verdict ?? 'healthy';
  const lead = findings.find((f) => f.severity !== 'info' && f.fixes.length > 0) ?? null;
  const healthy = c.causeKind === null;
  const control = outcomeOf(summary);
  let firstFixOutcome: Outcome | null = null;
  let firstFixCures = false;
  let verifiedFix: string | null = null;
  let verifiedCures = false;
  if (!healthy && lead) {
    const first = lead.fixes[0];
    if (first) {
      firstFixOutcome = outcomeOf(trainInMemory(patchedConfig(config, first.patch, `${c.name}-fix1`)));
      firstFixCures = beats(firstFixOutcome, control);
    }
    const verification = verifyFixes(
      config,
      findings.filter((f) => f.severity !== 'info'),
      { top: options.top ?? 4, runTrial: (trial) => trainInMemory(trial) },
    );
    verifiedFix = verification.best?.fix?.change ?? null;
    verifiedCures = verification.best !== null;
  }
  return {
    name: c.name,
    expected: { verdicts: c.verdicts, causeKind: c.causeKind },
    verdict,
    causeKind: healthy ? (lead?.causeKind ?? null) : (lead?.causeKind ?? null),
    firstFix: lead?.fixes[0]?.change ?? null,
    control,
    firstFixOutcome,
    firstFixCures,
    verifiedFix,
    verifiedCures,
    verdictRight: healthy ? verdict === 'healthy' : c.verdicts.includes(verdict),
    causeRight: healthy ? lead === null : lead?.causeKind === c.causeKind,
    findings,
  };
}

function pct(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(0)}% (${part}/${whole})`;
}

/** The clinic's table as Markdown (docs/DOCTOR.md). */
export function clinicTable(results: readonly ClinicResult[]): string {
  const score = (o: Outcome | null): string =>
    o === null ? '-' : o.metric === 'accuracy' ? `${(100 * o.score).toFixed(1)}%` : `loss ${o.evalLoss.toPrecision(3)}`;
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${r.expected.causeKind ?? 'healthy'} | ${r.verdict}${r.verdictRight ? '' : ' ✗'} | ${r.causeKind ?? '-'}${r.causeRight ? '' : ' ✗'} | ${r.firstFix ?? '-'} | ${score(r.control)} | ${score(r.firstFixOutcome)}${r.expected.causeKind && !r.firstFixCures ? ' ✗' : ''} | ${r.verifiedFix ?? '-'}${r.expected.causeKind && !r.verifiedCures ? ' ✗' : ''} |`,
  );
  const sick = results.filter((r) => r.expected.causeKind !== null);
  const controls = results.filter((r) => r.expected.causeKind === null);
  return [
    '| case | true cause | verdict | cause found | fix #1 | control | after fix #1 | best verified fix |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Verdict accuracy ${pct(results.filter((r) => r.verdictRight).length, results.length)}; ` +
      `cause accuracy ${pct(sick.filter((r) => r.causeRight).length, sick.length)}; ` +
      `controls healthy ${pct(controls.filter((r) => r.verdictRight).length, controls.length)}; ` +
      `cure rate of fix #1 ${pct(sick.filter((r) => r.firstFixCures).length, sick.length)}; ` +
      `of the best verified fix ${pct(sick.filter((r) => r.verifiedCures).length, sick.length)}.`,
  ].join('\n');
}

// `node dist/doctor/clinic.js [case ...]`: run the clinic and print the table.
if (import.meta.url === `file://${process.argv[1]}`) {
  const names = process.argv.slice(2);
  const cases = names.length > 0 ? CLINIC.filter((c) => names.includes(c.name)) : CLINIC;
  const results: ClinicResult[] = [];
  for (const c of cases) {
    const t0 = Date.now();
    const r = runClinicCase(c);
    results.push(r);
    process.stderr.write(
      `${c.name}: ${r.verdict} / ${r.causeKind} / fix1 ${r.firstFix} -> ${r.firstFixCures} / verified ${r.verifiedFix} (${((Date.now() - t0) / 1000).toFixed(1)}s)\n` +
        r.findings.map((f) => `    ${f.code} ${f.severity} ${f.causeKind}: ${f.fixes.map((x) => x.change).join(' ; ')}\n`).join(''),
    );
  }
  process.stdout.write(clinicTable(results) + '\n');
}
