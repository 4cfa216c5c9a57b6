/**
 * The diagnosis as a doctor would say it in a terminal: the verdict first, then each finding with its evidence,
 * its cause in this model's terms and the ranked fixes with the exact config change. Plain text; colour only when
 * asked (the CLI asks when stdout is a TTY).
 */
import type { Finding, Fix, JsonObject, JsonValue, Severity, Verdict } from './findings.js';
import type { DoctorReport } from './diagnose.js';
import { ranges } from './stats.js';
import { torchFixText } from '../adapters/torch-run.js';

export interface FormatOptions {
  color?: boolean;
  /** Fixes shown per finding (default 3). */
  maxFixes?: number;
}

const CODES = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  green: '\x1b[32m',
  cyan: '\x1b[36m',
} as const;

const HEADLINE: { [V in Verdict]: string } = {
  healthy: 'HEALTHY: gradients reach every layer at a workable scale',
  vanishing: 'VANISHING gradients: the early layers (or time steps) get almost no gradient',
  exploding: 'EXPLODING gradients: steps are far too large for the weights',
  'non-finite': 'NON-FINITE values: NaN or Infinity in the loss or the gradients',
  saturated: 'SATURATED activations: units stuck on the flat part of their non-linearity',
  'dead-units': 'DEAD units: rectifiers that output 0 for every input',
  'not-learning': 'NOT LEARNING: the loss stays where a model that learned nothing would be',
};

const SEVERITY_COLOR: { [S in Severity]: keyof typeof CODES } = {
  critical: 'red',
  warning: 'yellow',
  info: 'cyan',
};

function where(finding: Finding): string {
  const parts: string[] = [];
  if (finding.where.layers && finding.where.layers.length > 0)
    parts.push(`layers ${ranges(finding.where.layers)}`);
  if (finding.where.timeSteps && finding.where.timeSteps.length > 0)
    parts.push(`time steps ${ranges(finding.where.timeSteps)}`);
  if (finding.where.steps) {
    const [a, b] = finding.where.steps;
    parts.push(a === b ? `step ${a}` : `steps ${a}-${b}`);
  }
  return parts.join('; ');
}

/** Wrap `text` at `width` columns, every line after the first indented by `indent`. */
function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines.join(`\n${indent}`);
}

/**
 * The terminal text of a diagnosis.
 *
 * @example
 * process.stdout.write(formatDiagnosis(diagnosePath('runs/x'), { color: process.stdout.isTTY }));
 */
export function formatDiagnosis(report: DoctorReport, options: FormatOptions = {}): string {
  const paint = (style: keyof typeof CODES, text: string): string =>
    options.color ? `${CODES[style]}${text}${CODES.reset}` : text;
  const maxFixes = options.maxFixes ?? 3;
  const width = 100;
  const out: string[] = [];
  const { input } = report;
  const [first, last] = input.steps;
  out.push(
    `gradscope doctor: ${input.path} (${input.kind}, ${input.records} logged steps, ${first === last ? `step ${first}` : `steps ${first}-${last}`}` +
      `${input.torch ? `; a PyTorch run (torch ${input.torch.version}, ${input.torch.module})` : ''}` +
      `${input.config ? '' : '; no config.json, so causes and fixes are generic'})`,
  );
  for (const problem of report.problems) out.push(paint('yellow', `  note: ${problem}`));
  out.push('');
  const verdictColor =
    report.verdict === 'healthy'
      ? 'green'
      : report.findings.some((f) => f.severity === 'critical')
        ? 'red'
        : 'yellow';
  // Without gradient statistics (a TensorBoard log of the loss only) "gradients reach every layer" is unknown.
  const headline =
    report.verdict === 'healthy' && !input.gradients
      ? 'NO PROBLEM SEEN in the loss; this log has no gradient statistics, so gradient health is unknown'
      : HEADLINE[report.verdict];
  out.push(paint('bold', paint(verdictColor, `Diagnosis: ${headline}`)));
  const counts = (['critical', 'warning', 'info'] as const)
    .map((s) => [s, report.findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  out.push(
    report.findings.length === 0
      ? 'No findings.'
      : `${report.findings.length} finding${report.findings.length === 1 ? '' : 's'}: ${counts.join(', ')}`,
  );

  report.findings.forEach((finding, i) => {
    out.push('');
    out.push(
      `${i + 1}. ${paint(SEVERITY_COLOR[finding.severity], `[${finding.severity}]`)} ${paint('bold', finding.title)}  ${paint('dim', `(${finding.code})`)}`,
    );
    const place = where(finding);
    if (place) out.push(`   where: ${place}`);
    out.push('   evidence:');
    for (const line of finding.evidence) out.push(`     - ${wrap(line, width - 7, '       ')}`);
    out.push(`   cause (${finding.causeKind}): ${wrap(finding.cause, width - 10, '          ')}`);
    if (i === 0 && finding.timeline.length > 0) {
      out.push('   timeline:');
      for (const e of finding.timeline.slice(0, 8)) out.push(`     - step ${e.step}: ${e.text}`);
    }
    if (finding.fixes.length > 0) {
      out.push('   fixes, best first:');
      finding.fixes.slice(0, maxFixes).forEach((fix, k) => {
        if (input.torch) {
          // A PyTorch run is changed in its script: the change in PyTorch terms, the config terms beside it.
          out.push(
            `     ${k + 1}) ${paint('bold', wrap(torchFixText(fix, input.torch), width - 9, '        '))}`,
          );
          out.push(`        in gradscope config terms: ${fix.change}`);
          out.push(`        why: ${wrap(fix.why, width - 13, '             ')}`);
        } else {
          out.push(...fixLines(fix, k + 1, '     ', { width, bold: (text) => paint('bold', text) }));
        }
      });
      if (finding.fixes.length > maxFixes)
        out.push(paint('dim', `     (${finding.fixes.length - maxFixes} more with --json)`));
    }
  });
  if (report.findings.some((f) => f.severity !== 'info' && f.fixes.length > 0)) {
    out.push('');
    out.push(
      input.torch
        ? 'These fixes are changes to your PyTorch script: make one, re-run the script with the watcher, and run gradscope doctor on the new run directory.'
        : input.config
          ? `To verify these fixes by training them beside the run: gradscope fix ${dirnameOf(input.config)}`
          : 'These fixes are unverified and cannot be verified here: without a config.json gradscope cannot re-train this run.',
    );
  }
  return out.join('\n') + '\n';
}

/**
 * One fix as the doctor prints it, numbered and indented by `indent`: the change, its JSON merge patch, the
 * `--set`/`--patch` flags that apply it, and why it helps (preflight prints its fixes the same way).
 *
 * @example
 * fixLines(fix, 1, '  ').join('\n');
 * // '  1) model.init "he-normal"\n     patch: {"model":{"init":"he-normal"}}\n     flags: --set model.init=he-normal\n     why: ...'
 */
export function fixLines(
  fix: Fix,
  number: number,
  indent: string,
  options: { width?: number; bold?: (text: string) => string } = {},
): string[] {
  const width = options.width ?? 100;
  const inner = `${indent}   `;
  const bold = options.bold ?? ((text: string): string => text);
  return [
    `${indent}${number}) ${bold(fix.change)}`,
    `${inner}patch: ${JSON.stringify(fix.patch)}`,
    `${inner}flags: ${fixFlags(fix.patch)}`,
    `${inner}why: ${wrap(fix.why, width - inner.length - 5, `${inner}     `)}`,
  ];
}

function dirnameOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i > 0 ? path.slice(0, i) : '.';
}

function flatten(patch: JsonValue, prefix: string, out: [string, JsonValue][]): boolean {
  if (patch === null) return false;
  if (typeof patch === 'object' && !Array.isArray(patch)) {
    for (const [key, value] of Object.entries(patch))
      if (!flatten(value, prefix ? `${prefix}.${key}` : key, out)) return false;
    return true;
  }
  out.push([prefix, patch]);
  return true;
}

/** `--set` parses its value as JSON, else takes it as a string: a string that would parse stays quoted. */
function setValue(value: JsonValue): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  try {
    JSON.parse(value);
    return JSON.stringify(value);
  } catch {
    return value;
  }
}

function shellQuote(text: string): string {
  return /^[\w.,:=+\-/]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

/**
 * A fix's patch as command-line flags to paste after `gradscope run` (or compare, preflight, fix): `--set` lines
 * where every leaf is a value, else one `--patch` (a key set to null can only be deleted by a merge patch).
 *
 * @example
 * fixFlags({ optimizer: { learningRate: 0.05 } }); // '--set optimizer.learningRate=0.05'
 */
export function fixFlags(patch: JsonObject): string {
  const leaves: [string, JsonValue][] = [];
  if (flatten(patch, '', leaves) && leaves.length > 0)
    return leaves.map(([path, value]) => `--set ${shellQuote(`${path}=${setValue(value)}`)}`).join(' ');
  return `--patch ${shellQuote(JSON.stringify(patch))}`;
}
