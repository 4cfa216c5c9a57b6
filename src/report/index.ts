/**
 * Reports: `report.html` for a run directory and the side-by-side page of `gradscope compare`.
 *
 * @example
 *   writeRunReport('runs/deep-sigmoid');                 // writes runs/deep-sigmoid/report.html
 *   const { html, comparison } = renderComparison([loadRun('runs/a'), loadRun('runs/b')]);
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { GradscopeError, type ErrorCode } from '../util/errors.js';
import { join, relative } from 'node:path';
import type { ResolvedConfig } from '../config/types.js';
import { parseFinite, parseJsonl, writeJson } from '../io/jsonl.js';
import type { MetricsRecord, Summary } from '../io/runlog.js';
import { renderComparison, type Comparison } from './comparison.js';
import type { PreflightData, RunData } from './data.js';
import { renderRunReport } from './run-report.js';

export { renderRunReport, versusBaseline } from './run-report.js';
export { timeGradRatio } from './figures.js';
export { compareRuns, renderComparison, type ComparedRun, type Comparison } from './comparison.js';
export { type PreflightData } from './data.js';
export { readFindings, type ReportFinding, type ReportFix, type RunData, type Severity } from './data.js';
export {
  barChart,
  heatMap,
  lineChart,
  type BarChartOptions,
  type HeatMapOptions,
  type LineChartOptions,
  type Series,
} from './svg.js';

/** Why a run directory could not be read; `code` tells the cases apart, the message names the file. */
export class RunLoadError extends GradscopeError {
  override name = 'RunLoadError';
  constructor(
    code: Extract<ErrorCode, 'not_found' | 'unreadable' | 'invalid_json' | 'invalid_value'>,
    path: string,
    problem: string,
    hint?: string,
  ) {
    super({ code, path, problem, ...(hint === undefined ? {} : { hint }) });
  }
}

const RUN_FILES =
  'a run directory holds config.json, metrics.jsonl and summary.json (written by gradscope run)';

function readText(dir: string, file: string): string {
  const path = join(dir, file);
  if (!existsSync(path)) {
    throw new RunLoadError('not_found', path, 'is missing', RUN_FILES);
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new RunLoadError(
      'unreadable',
      path,
      `cannot be read (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

function readObject(dir: string, file: string): Record<string, unknown> {
  const path = join(dir, file);
  let value: unknown;
  try {
    value = parseFinite(readText(dir, file));
  } catch (error) {
    if (error instanceof RunLoadError) throw error;
    throw new RunLoadError(
      'invalid_json',
      path,
      `is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new RunLoadError(
      'invalid_value',
      path,
      `holds ${Array.isArray(value) ? 'an array' : String(value)}, not a JSON object`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * Reads a run directory: the resolved config, every readable line of metrics.jsonl (unreadable lines are listed
 * in `badLines`, not fatal, since a killed run may leave a torn last line) and the summary.
 * Throws `RunLoadError` naming the file that is missing or broken.
 *
 * @example const run = loadRun('runs/deep-sigmoid'); run.records.length
 */
export function loadRun(dir: string): RunData {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new RunLoadError('not_found', dir, 'does not exist', RUN_FILES);
  }
  const config = readObject(dir, 'config.json') as unknown as ResolvedConfig;
  const { records, errors } = parseJsonl<MetricsRecord>(readText(dir, 'metrics.jsonl'));
  const summary = readObject(dir, 'summary.json') as unknown as Summary;
  // preflight.json is optional: runs written by `gradscope run` have one, older ones and other tools' may not.
  const preflight = existsSync(join(dir, 'preflight.json'))
    ? (readObject(dir, 'preflight.json') as unknown as PreflightData)
    : undefined;
  return {
    config,
    records,
    summary,
    dir,
    ...(errors.length ? { badLines: errors } : {}),
    ...(preflight ? { preflight } : {}),
  };
}

/**
 * Renders `dir/report.html` from the run directory's files; returns the path written.
 *
 * @example writeRunReport('runs/deep-sigmoid') // 'runs/deep-sigmoid/report.html'
 */
export function writeRunReport(dir: string): string {
  const path = join(dir, 'report.html');
  writeFileSync(path, renderRunReport(loadRun(dir)));
  return path;
}

/**
 * Writes `outDir/comparison.json` and `outDir/report.html` for `gradscope compare`; returns the comparison.
 * Run directories are written relative to `outDir`, so the page's links to each run's report.html and the JSON's
 * `dir` keep working when the whole folder is moved.
 *
 * @example writeComparison('runs/compare', ['runs/compare/a', 'runs/compare/b'].map(loadRun)).best
 */
export function writeComparison(outDir: string, runs: readonly RunData[]): Comparison {
  const relativeRuns = runs.map((run) =>
    run.dir === undefined ? run : { ...run, dir: relative(outDir, run.dir) || '.' },
  );
  const { html, comparison } = renderComparison(relativeRuns);
  writeJson(join(outDir, 'comparison.json'), comparison);
  writeFileSync(join(outDir, 'report.html'), html);
  return comparison;
}
