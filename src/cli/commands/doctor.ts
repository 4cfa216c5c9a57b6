/**
 * `gradscope doctor <run dir, metrics.jsonl, or TensorBoard event file/dir> [--json]`: diagnoses an existing log
 * without training. Exit 0 whenever a diagnosis was made (whatever the verdict), 2 for unreadable input.
 */
import { diagnoseFolder, diagnosePath, runsInFolder, type DoctorReport } from '../../doctor/diagnose.js';
import { formatDiagnosis } from '../../doctor/format.js';
import { stringifyFinite } from '../../io/jsonl.js';
import { parseArgs, UsageError } from '../args.js';
import type { Command } from '../common.js';

const USAGE =
  'doctor <run dir, folder of runs, metrics.jsonl, or TensorBoard event file/dir> [--tags ROLE=PATTERN]... [--json]';

const HELP = [
  `usage: gradscope ${USAGE}`,
  '  <log>              a run directory, its metrics.jsonl, or a TensorBoard event file or directory',
  '                     or a folder of run directories: one line per run (its verdict and top finding)',
  '  --tags ROLE=PATTERN  which TensorBoard tags are which (repeatable): ROLE is loss, lr, grad-norm, grad,',
  '                     weight, update-ratio, activation, saturated or dead; * in PATTERN is the parameter name',
  '  --json             print the verdict and findings as JSON',
  'examples:',
  '  gradscope doctor runs/deep-sigmoid',
  '  gradscope doctor logs/tensorboard/train --json',
  '  gradscope doctor runs',
  "  gradscope doctor logs/mine --tags 'loss=objective' --tags 'grad=net/*/gradient_l2'",
].join('\n');

function runDoctor(argv: string[]): number {
  const args = parseArgs(argv, { values: [], switches: ['json'], lists: ['tags'], usage: HELP }, 'doctor');
  if (args.positionals.length !== 1) {
    throw new UsageError(
      `doctor needs exactly one log to diagnose, got ${args.positionals.length}: gradscope ${USAGE}.`,
    );
  }
  const path = args.positionals[0] as string;
  if (runsInFolder(path).length > 0)
    return doctorFolder(path, args.switches.has('json'), args.lists['tags'] ?? []);
  const report: DoctorReport = diagnosePath(path, { tags: args.lists['tags'] ?? [] });
  if (args.switches.has('json')) {
    for (const problem of report.problems) process.stderr.write(`gradscope doctor: note: ${problem}\n`);
    process.stdout.write(stringifyFinite({ verdict: report.verdict, findings: report.findings }, 2) + '\n');
  } else {
    process.stdout.write(
      formatDiagnosis(report, { color: process.stdout.isTTY === true && !process.env['NO_COLOR'] }),
    );
  }
  return 0;
}

/** A folder of runs: one line per run (name, verdict, steps, top finding), or JSON; exit 2 only when none reads. */
function doctorFolder(path: string, json: boolean, tags: readonly string[]): number {
  const rows = diagnoseFolder(path, { tags });
  if (json) {
    const runs = rows.map((r) =>
      r.report
        ? { run: r.name, verdict: r.report.verdict, findings: r.report.findings }
        : { run: r.name, error: r.error },
    );
    process.stdout.write(stringifyFinite({ runs }, 2) + '\n');
  } else {
    const width = Math.min(40, Math.max(3, ...rows.map((r) => r.name.length)));
    const lines = rows.map((r) => {
      const name = r.name.length > width ? `${r.name.slice(0, width - 1)}~` : r.name.padEnd(width);
      if (!r.report) return `${name}  ${'unreadable'.padEnd(12)}  ${r.error ?? ''}`;
      const lead = r.report.findings.find((f) => f.severity !== 'info');
      const [first, last] = r.report.input.steps;
      return `${name}  ${r.report.verdict.padEnd(12)}  steps ${first}-${last}  ${lead ? `${lead.code}: ${lead.title}` : 'no finding'}`;
    });
    process.stdout.write(
      `gradscope doctor: ${rows.length} runs in ${path}\n${'run'.padEnd(width)}  ${'verdict'.padEnd(12)}  what\n${lines.join('\n')}\n`,
    );
  }
  return rows.some((r) => r.report !== null) ? 0 : 2;
}

export const doctorCommand: Command = {
  summary: `${USAGE}  diagnose an existing run without training`,
  run: runDoctor,
};
