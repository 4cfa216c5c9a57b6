/**
 * The `csv` task: the user's own table. A header row names the columns; `target` is the column to predict, every
 * other column is a numeric feature. Classification labels may be any strings (mapped to class ids in sorted
 * order); regression targets are numbers. Rows are split once, from the seed, into training rows and `split` of
 * them held out for evaluation; with `standardize` each feature is shifted and scaled by the training rows' mean
 * and standard deviation (LeCun et al. 1998, "Efficient BackProp" §4.3: inputs with zero mean and equal variance
 * keep the first layer's pre-activations, and so its gradients, on one scale).
 *
 * The parser follows RFC 4180: comma-separated fields, double-quoted fields may hold commas, newlines and `""`
 * for a quote; CRLF or LF line ends; blank lines are skipped. Anything else is rejected with the line, the column
 * and the fix; nothing is imputed.
 *
 * @example
 * const task = createCsvTask({ path: 'houses.csv', target: 'price', kind: 'regression', standardize: true }, 0);
 * task.trainBatch(64, new Rng(0).fork('data')).x.shape; // [64, features]
 * task.featureScale.scaleRatio;                           // 1 after standardising
 */
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { checkBatchSize, majorityAccuracy, oneHot } from './batch.js';
import { nearest } from '../util/nearest.js';
import { TaskConfigError } from './errors.js';
import { nodeFiles, readUserFile } from './user-file.js';
import { resolveTask } from '../config/resolve.js';
import type { TaskConfig, TaskFields, TaskInput } from '../config/types.js';
import type { Baseline, Batch, LossKind, Task } from './task.js';

/** The csv task's config fields as resolved (the schema's `TASKS.csv`: kinds, the split's range, the defaults). */
export type CsvTaskFields = TaskFields<'csv'>;
export type CsvKind = CsvTaskFields['kind'];

/** The csv task's config fields, as `task: { "name": "csv", ... }` holds them (`standardize`, `split` optional). */
export type CsvTaskOptions = Omit<Extract<TaskInput, { name: 'csv' }>, 'name'>;

/** Settings of the factory that are not config fields. */
export interface CsvReadOptions {
  /** Where a relative `path` is read from (default: the working directory). */
  baseDir?: string;
  /** The largest file read, in bytes (default `CSV_MAX_BYTES`). */
  maxBytes?: number;
}

/** 64 MiB: a table that fits comfortably in memory as float32 beside its text. */
export const CSV_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The scale of the features as the model sees them (after standardising, when asked), over the training rows:
 * the fact the doctor reads to tell a data cause (features on very different scales, or far from zero mean) from
 * a model cause.
 */
export interface FeatureScale {
  names: readonly string[];
  mean: readonly number[];
  std: readonly number[];
  /** Largest over smallest non-zero standard deviation (1 when all are equal). */
  scaleRatio: number;
  /** Largest |mean| / std over the features (0 for centred features): how far from zero the inputs sit. */
  maxOffset: number;
  /** Largest standard deviation and the feature that has it. */
  maxStd: number;
  widest: string;
  standardized: boolean;
}

/** A CSV file (or a csv field) that cannot be used: `path` is the field or the place in the file. */
function fail(details: Omit<ConstructorParameters<typeof TaskConfigError>[0], 'code'>): TaskConfigError {
  return new TaskConfigError({ code: 'invalid_value', ...details });
}

// ---------------------------------------------------------------------------------------------------------
// Reading

export interface CsvTable {
  header: string[];
  /** Data rows, each with one field per header column. */
  rows: string[][];
  /** The 1-based line each row starts on. */
  lines: number[];
}

/**
 * Parses RFC 4180 text: the first record is the header. `file` names the source in errors.
 *
 * @example
 * parseCsv('a,b\n1,"x, y"\n', 'f.csv'); // { header: ['a', 'b'], rows: [['1', 'x, y']], lines: [2] }
 */
export function parseCsv(text: string, file: string): CsvTable {
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let start = 1;
  let quoted = false;
  let quoteLine = 0;
  let touched = false; // the current record has content (a blank line has none)
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a UTF-8 byte order mark is not part of the first name
  const endRecord = (): void => {
    fields.push(field);
    if (touched) records.push({ fields, line: start });
    fields = [];
    field = '';
    touched = false;
  };
  for (; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      if (field.trim() !== '')
        throw fail({
          path: `${file} line ${line}`,
          problem: 'a quote inside an unquoted field',
          hint: 'quote the whole field and write "" for a quote inside it (RFC 4180)',
        });
      field = '';
      quoted = true;
      quoteLine = line;
      touched = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      touched = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      field += c;
      if (c !== ' ' && c !== '\t') touched = true;
    }
  }
  if (quoted)
    throw fail({
      path: `${file} line ${quoteLine}`,
      problem: 'a quoted field is never closed',
      hint: 'end it with " (write "" for a quote inside a field)',
    });
  endRecord();
  if (records.length === 0)
    throw fail({
      path: file,
      problem: 'is empty',
      hint: 'the csv task needs a header row naming the columns and at least 2 data rows',
    });
  const header = (records[0] as { fields: string[] }).fields.map((name) => name.trim());
  header.forEach((name, column) => {
    if (name === '')
      throw fail({
        path: `${file} line 1`,
        problem: `column ${column + 1} of the header has no name`,
        hint: 'the first row must name every column',
      });
    const first = header.indexOf(name);
    if (first !== column)
      throw fail({
        path: `${file} line 1`,
        problem: `the header names column ${first + 1} and column ${column + 1} both "${name}"`,
        hint: 'rename one',
      });
  });
  const rows: string[][] = [];
  const lines: number[] = [];
  for (const record of records.slice(1)) {
    if (record.fields.length !== header.length)
      throw fail({
        path: `${file} line ${record.line}`,
        problem: `${record.fields.length} field${record.fields.length === 1 ? '' : 's'} where the header has ${header.length} (${
          record.fields.length < header.length
            ? `column ${record.fields.length + 1} "${header[record.fields.length] ?? ''}" is missing`
            : `column ${header.length + 1} has no header`
        })`,
        hint: 'every row needs one value per column (quote a field that contains a comma)',
      });
    rows.push(record.fields);
    lines.push(record.line);
  }
  return { header, rows, lines };
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A field as a finite number, or a `TaskConfigError` naming the line, the column and the fix. */
function numberAt(text: string, file: string, line: number, column: string, role: string): number {
  const value = text.trim();
  if (value === '')
    throw fail({
      path: `${file} line ${line}, column "${column}"`,
      problem: 'missing value',
      hint: 'fill it in or drop the row (the csv task does not impute missing values)',
    });
  const parsed = NUMBER.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(parsed))
    throw fail({
      path: `${file} line ${line}, column "${column}"`,
      value,
      problem: `${JSON.stringify(value)} is not a number`,
      hint: `${role} (or drop the column from the file)`,
    });
  return parsed;
}

/**
 * Node's file system and paths, fetched at run time (as the mnist digits do) so that this module, and the task
 * registry that lists it, also load in a browser, where only the csv task is unavailable.
 */
/** Node's files, or the csv task's refusal in a browser. */
function csvFiles(): ReturnType<typeof nodeFiles> {
  return nodeFiles({
    path: 'task.name',
    value: 'csv',
    problem: 'the csv task reads a file from disk, so it needs Node (20.16 or newer)',
    hint: 'in a browser use spirals, xor, teacher, adding or copy',
  });
}

function readTable(path: string, options: CsvReadOptions): { table: CsvTable; file: string } {
  const { fs, path: paths } = csvFiles();
  const file = paths.resolve(options.baseDir ?? process.cwd(), path);
  const text = readUserFile(fs, {
    path,
    file,
    maxBytes: options.maxBytes ?? CSV_MAX_BYTES,
    unreadable: {
      hint: `give the path of a CSV file (relative paths are read from ${options.baseDir ?? 'the working directory'})`,
    },
    tooLarge: {
      accepted: `a file of at most ${megabytes(options.maxBytes ?? CSV_MAX_BYTES)}, what the csv task reads`,
      hint: 'sample its rows into a smaller file',
    },
  });
  return { table: parseCsv(text, path), file };
}

function megabytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

// ---------------------------------------------------------------------------------------------------------
// The task

/** Mean and (population) standard deviation of each of `features` columns over `rows` of `x`. */
function columnStats(x: Float64Array, rows: Int32Array, features: number): { mean: number[]; std: number[] } {
  const mean = new Array<number>(features).fill(0);
  const std = new Array<number>(features).fill(0);
  for (const r of rows)
    for (let j = 0; j < features; j++) mean[j] = (mean[j] as number) + (x[r * features + j] as number);
  for (let j = 0; j < features; j++) mean[j] = (mean[j] as number) / rows.length;
  for (const r of rows)
    for (let j = 0; j < features; j++)
      std[j] = (std[j] as number) + ((x[r * features + j] as number) - (mean[j] as number)) ** 2;
  for (let j = 0; j < features; j++) std[j] = Math.sqrt((std[j] as number) / rows.length);
  return { mean, std };
}

function featureScale(names: string[], mean: number[], std: number[], standardized: boolean): FeatureScale {
  const positive = std.filter((s) => s > 0);
  const maxStd = Math.max(0, ...std);
  const minStd = positive.length > 0 ? Math.min(...positive) : 0;
  let maxOffset = 0;
  mean.forEach((m, j) => {
    const s = std[j] as number;
    if (s > 0) maxOffset = Math.max(maxOffset, Math.abs(m) / s);
  });
  return {
    names,
    mean,
    std,
    scaleRatio: minStd > 0 ? maxStd / minStd : 1,
    maxOffset,
    maxStd,
    widest: names[std.indexOf(maxStd)] ?? '',
    standardized,
  };
}

/** A table of the user's as a task: numeric features, a class or a number to predict, a fixed evaluation split. */
export class CsvTask implements Task {
  readonly name = 'csv';
  readonly loss: LossKind;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly sequence = null;
  readonly baseline: Baseline;
  /** Feature names, in column order. */
  readonly features: readonly string[];
  /** Classification: the class names, index = class id (sorted); null for regression. */
  readonly classes: readonly string[] | null;
  /** The features as the model sees them, over the training rows. */
  readonly featureScale: FeatureScale;
  /** The features as the file holds them, over the training rows. */
  readonly rawFeatureScale: FeatureScale;
  readonly trainRows: number;
  readonly evalRows: number;
  private readonly x: Float32Array;
  private readonly targets: Float32Array;
  private readonly labels: Int32Array | null;
  private readonly train: Int32Array;
  private readonly held: Int32Array;
  private cachedEval: Batch | null = null;

  constructor(options: CsvTaskFields, seed: number, readOptions: CsvReadOptions = {}) {
    const { table } = readTable(options.path, readOptions);
    const file = options.path;
    const targetColumn = table.header.indexOf(options.target);
    if (targetColumn < 0) {
      const guess = nearest(options.target, table.header);
      throw fail({
        path: 'task.target',
        value: options.target,
        problem: `${JSON.stringify(options.target)} is not a column of ${file}`,
        accepted: `a column of the file: ${table.header.join(', ')}`,
        ...(guess ? { suggestion: guess } : {}),
      });
    }
    const featureColumns = table.header.map((_, j) => j).filter((j) => j !== targetColumn);
    if (featureColumns.length === 0)
      throw fail({
        path: file,
        problem: `has only the target column ${JSON.stringify(options.target)}`,
        hint: 'add at least one feature column',
      });
    const count = table.rows.length;
    if (count < 2)
      throw fail({
        path: file,
        problem: `has ${count} data row${count === 1 ? '' : 's'}`,
        hint: 'the csv task needs at least 2 (one to train on, one to evaluate)',
      });
    this.features = featureColumns.map((j) => table.header[j] as string);
    const features = featureColumns.length;
    const raw = new Float64Array(count * features);
    table.rows.forEach((row, r) => {
      featureColumns.forEach((j, k) => {
        raw[r * features + k] = numberAt(
          row[j] as string,
          file,
          table.lines[r] as number,
          table.header[j] as string,
          'feature columns must be numeric (encode a category as numbers)',
        );
      });
    });

    this.loss = options.kind === 'classification' ? 'cross-entropy' : 'mse';
    this.targets = new Float32Array(count);
    if (options.kind === 'classification') {
      const names = table.rows.map((row) => (row[targetColumn] as string).trim());
      names.forEach((name, r) => {
        if (name === '')
          throw fail({
            path: `${file} line ${table.lines[r]}, column "${options.target}"`,
            problem: 'missing class',
            hint: 'fill it in or drop the row',
          });
      });
      const distinct = [...new Set(names)];
      const numeric = distinct.every((n) => NUMBER.test(n));
      distinct.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
      if (distinct.length < 2)
        throw fail({
          path: 'task.target',
          value: options.target,
          problem: `${JSON.stringify(options.target)} holds a single class (${JSON.stringify(distinct[0])}) in ${file}`,
          hint: 'classification needs at least 2, or use "kind": "regression"',
        });
      const index = new Map(distinct.map((name, i) => [name, i]));
      this.labels = Int32Array.from(names, (name) => index.get(name) as number);
      this.classes = distinct;
      this.outputSize = distinct.length;
    } else {
      table.rows.forEach((row, r) => {
        this.targets[r] = numberAt(
          row[targetColumn] as string,
          file,
          table.lines[r] as number,
          options.target,
          'a regression target must be numeric (use "kind": "classification" for labels)',
        );
      });
      this.labels = null;
      this.classes = null;
      this.outputSize = 1;
    }
    this.inputSize = features;

    // The split: a permutation from the seed; the first `split` of it is held out (at least one row each side).
    const order = new Rng(seed).fork('csv/split').permutation(count);
    const heldCount = Math.min(count - 1, Math.max(1, Math.round(options.split * count)));
    this.held = order.slice(0, heldCount);
    this.train = order.slice(heldCount);
    this.trainRows = this.train.length;
    this.evalRows = this.held.length;

    const rawStats = columnStats(raw, this.train, features);
    this.rawFeatureScale = featureScale(this.features.slice(), rawStats.mean, rawStats.std, false);
    this.x = new Float32Array(count * features);
    for (let r = 0; r < count; r++)
      for (let j = 0; j < features; j++) {
        const v = raw[r * features + j] as number;
        const s = rawStats.std[j] as number;
        // A constant feature stays centred at 0 rather than divided by a zero deviation.
        this.x[r * features + j] = options.standardize
          ? (v - (rawStats.mean[j] as number)) / (s > 0 ? s : 1)
          : v;
      }
    if (options.standardize) {
      const seen = columnStats(Float64Array.from(this.x), this.train, features);
      this.featureScale = featureScale(this.features.slice(), seen.mean, seen.std, true);
    } else this.featureScale = this.rawFeatureScale;

    this.baseline = this.guess(file);
  }

  /** What a model that learned nothing scores: uniform class scores (ln C), or the training mean (regression). */
  private guess(file: string): Baseline {
    if (this.labels !== null) {
      const train = Int32Array.from(this.train, (r) => this.labels?.[r] as number);
      const held = Int32Array.from(this.held, (r) => this.labels?.[r] as number);
      const c = this.outputSize;
      return {
        loss: Math.log(c),
        accuracy: majorityAccuracy(train, held, c),
        description: `uniform predictions over ${c} classes (loss ln ${c}); accuracy of always answering the training rows' most frequent class of ${file}`,
      };
    }
    let mean = 0;
    for (const r of this.train) mean += this.targets[r] as number;
    mean /= this.train.length;
    let mse = 0;
    for (const r of this.held) mse += ((this.targets[r] as number) - mean) ** 2;
    return {
      loss: mse / this.held.length,
      description: `always predicting the training rows' mean target (${Number(mean.toPrecision(4))}): the held-out rows' mean squared error around it`,
    };
  }

  trainBatch(batchSize: number, rng: Rng): Batch {
    checkBatchSize(this.name, batchSize);
    const rows = new Int32Array(batchSize);
    for (let b = 0; b < batchSize; b++) rows[b] = this.train[rng.int(this.train.length)] as number;
    return this.batch(rows);
  }

  evalSet(): Batch {
    return (this.cachedEval ??= this.batch(this.held));
  }

  private batch(rows: Int32Array): Batch {
    const n = rows.length;
    const f = this.inputSize;
    const x = new Float32Array(n * f);
    rows.forEach((r, b) => x.set(this.x.subarray(r * f, (r + 1) * f), b * f));
    if (this.labels !== null) {
      const labels = Int32Array.from(rows, (r) => this.labels?.[r] as number);
      return { x: new Tensor(x, [n, f]), y: oneHot(labels, this.outputSize, [n, this.outputSize]), labels };
    }
    const y = Float32Array.from(rows, (r) => this.targets[r] as number);
    return { x: new Tensor(x, [n, f]), y: new Tensor(y, [n, 1]), labels: null };
  }
}

/**
 * The csv task from its config fields and the run's seed (which fixes the split). The fields are checked by the
 * schema's parser (the config's own error: path, value, what is accepted) and their defaults filled; a file that
 * cannot be used is a `TaskConfigError` naming the file's line and column and the fix.
 *
 * @example
 * createCsvTask({ path: 'iris.csv', target: 'species', kind: 'classification' }, 0).classes;
 * // ['setosa', 'versicolor', 'virginica']
 */
export function createCsvTask(
  options: CsvTaskOptions,
  seed: number,
  readOptions: CsvReadOptions = {},
): CsvTask {
  const fields: Partial<TaskConfig> = { ...resolveTask({ ...options, name: 'csv' }) };
  delete fields.name;
  return new CsvTask(fields as CsvTaskFields, seed, readOptions);
}

/**
 * A cheap upper-side size of a CSV task without reading the whole file (for the memory budget): the header's
 * column count and the file's bytes (each value takes at least two bytes, a digit and a separator). Zeros when the
 * file cannot be read; building the task then says why.
 */
export function csvSizeEstimate(path: string | undefined): { columns: number; values: number } {
  if (typeof path !== 'string') return { columns: 1, values: 0 };
  try {
    const { fs, path: paths } = csvFiles();
    const file = paths.resolve(path);
    const bytes = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    try {
      const head = new Uint8Array(Math.min(bytes, 65536));
      fs.readSync(fd, head, 0, head.length, 0);
      const firstLine = new TextDecoder().decode(head).split(/\r?\n/)[0] ?? '';
      return { columns: Math.max(1, firstLine.split(',').length), values: Math.ceil(bytes / 2) };
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return { columns: 1, values: 0 };
  }
}
