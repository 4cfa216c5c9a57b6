/**
 * Config resolution: a user's JSON (`Config`, most fields optional) in, a `ResolvedConfig` with every default
 * filled in out, or a `ConfigError` naming the path, the bad value and what is accepted. Pure: no file I/O (the
 * CLI reads files and hands the text to `parseConfigText`).
 *
 * Every field, range, default and variant is in `schema.ts`; this file only walks it. Decisions in one place:
 * - `task` defaults to `{"name": "spirals"}`; a `task` object must name its task. Task fields apply only to their
 *   task and are filled with defaults there.
 * - Without `model.kind` the kind is the first one that takes the task's input (`lstm` for sequence tasks, else
 *   `mlp`); a kind that does not take them is an error at `model.kind`.
 * - MLP `depth` is the number of hidden layers; `depth` x `width` resolves to `hidden`. The default `init` follows
 *   the activation's family, the variance-preserving choice: he-normal for rectifiers (He et al. 2015),
 *   lecun-normal for selu (Klambauer et al. 2017), xavier-uniform otherwise (Glorot & Bengio 2010).
 * - Keys a kind fixes (`activation` on lstm/gru, `forgetBias` on rnn/gru) are accepted only at their fixed value,
 *   so that a run's `config.json` resolves to itself.
 * - `optimizer`, `schedule`, `clip` (and `task`) may be written as a bare name: `"optimizer": "adam"`.
 * - `null` is never a value: leave a key out to get its default.
 */
import { z } from 'zod';
import { ConfigError, nearest, oneOf, showValue, type TextPosition } from './errors.js';
import {
  ALIASES,
  CLIPS,
  CROSS_RULES,
  DEFAULT_MODEL_KIND,
  MODEL_KEY_NOTES,
  MODEL_KINDS,
  MODEL_KINDS_TABLE,
  OPTIMIZERS,
  DEFAULT_OPTIMIZER,
  MONITOR_FIELDS,
  ROOT_FIELDS,
  SCHEDULES,
  SEED_RULE,
  STEPS_RULE,
  TASKS,
  TASK_NAMES,
  TRAIN_FIELDS,
  acceptedOf,
  biasSpec,
  initSpec,
  num,
  type Fields,
  type ModelKind,
  type TaskName,
} from './schema.js';
import type {
  BiasSpec,
  ClipConfig,
  GuardMode,
  InitSpec,
  ModelConfig,
  MonitorConfig,
  OptimizerConfig,
  ResolvedConfig,
  ScheduleConfig,
  TaskConfig,
  TrainConfig,
} from './types.js';

export {
  CLIP_NAMES,
  DEFAULT_GUARD,
  DEFAULT_OPTIMIZER,
  GUARD_MODES,
  INIT_NAMES,
  MLP_DEFAULTS,
  MODEL_KINDS,
  MONITOR_DEFAULTS,
  NORM_NAMES,
  OPTIMIZER_DEFAULTS,
  OPTIMIZER_NAMES,
  RECURRENT_DEFAULTS,
  RECURRENT_KINDS,
  RNN_ACTIVATIONS,
  RUN_NAME_ACCEPTED,
  SCHEDULE_NAMES,
  SEQ_MNIST_MODES,
  TASK_NAMES,
  TRAIN_DEFAULTS,
  defaultInitFor,
  isSequenceTask,
  type SeqMnistMode,
  type TaskName,
} from './schema.js';

export type {
  Config,
  MlpModelInput,
  RecurrentModelInput,
  TaskInput,
  TransformerModelInput,
  CnnModelInput,
  ResNetModelInput,
  Seq2SeqModelInput,
} from './types.js';

export interface ResolveOptions {
  /** The name when the config has none: the file's base name or the preset's name. */
  defaultName: string;
  /** Command-line values that replace the config's (`--steps`, `--seed`); validated like the config's. */
  overrides?: { steps?: number; seed?: number };
}

// ---------------------------------------------------------------------------------------------------------------
// Resolution

const ROOT_KEYS = [
  '$schema',
  'name',
  'seed',
  'task',
  'model',
  'optimizer',
  'schedule',
  'clip',
  'guard',
  'threads',
  'train',
  'monitor',
];

/**
 * Validate a parsed config against the schema and fill every default.
 *
 * @example
 * resolveConfig({ model: { depth: 2, width: 8 } }, { defaultName: 'tiny' }).model;
 * // { kind: 'mlp', hidden: [8, 8], activation: 'relu', init: 'he-normal', bias: 0, norm: 'none', ... }
 */
export function resolveConfig(raw: unknown, options: ResolveOptions): ResolvedConfig {
  const root = expectObject(raw, '', 'a JSON object with the keys name|seed|task|model|...');
  checkKeys(root, '', ROOT_KEYS);
  readField(root, '', '$schema', ROOT_FIELDS.$schema);
  const name =
    (readField(root, '', 'name', ROOT_FIELDS.name, undefined, () => RUN_NAME_HINT) as string | undefined) ??
    toRunName(options.defaultName);
  let seed = readField(root, '', 'seed', ROOT_FIELDS.seed) as number;
  const task = resolveTask(field(root, 'task'));
  const model = resolveModel(field(root, 'model'), task);
  const optimizer = readVariant(
    field(root, 'optimizer'),
    'optimizer',
    OPTIMIZERS,
    DEFAULT_OPTIMIZER,
  ) as unknown as OptimizerConfig;
  const train = readSection(
    field(root, 'train'),
    'train',
    TRAIN_FIELDS,
    'an object like {"steps": 1000}',
  ) as unknown as TrainConfig;

  const overrides = options.overrides ?? {};
  if (overrides.steps !== undefined) train.steps = parseValue(num(STEPS_RULE), overrides.steps, '--steps');
  if (overrides.seed !== undefined) seed = parseValue(num(SEED_RULE), overrides.seed, '--seed');

  const schedule = readVariant(field(root, 'schedule'), 'schedule', SCHEDULES, 'constant', (entry) =>
    'defaults' in entry ? entry.defaults(train.steps) : {},
  ) as unknown as ScheduleConfig;
  const clip = readVariant(field(root, 'clip'), 'clip', CLIPS, 'none') as unknown as ClipConfig;
  const guard = readField(root, '', 'guard', ROOT_FIELDS.guard) as GuardMode;
  const threads = readField(root, '', 'threads', ROOT_FIELDS.threads) as 'auto' | number;
  const monitor = readSection(
    field(root, 'monitor'),
    'monitor',
    MONITOR_FIELDS,
    'an object like {"every": 10}',
  ) as unknown as MonitorConfig;
  const config: ResolvedConfig = {
    name,
    seed,
    task,
    model,
    optimizer,
    schedule,
    clip,
    guard,
    threads,
    train,
    monitor,
  };
  for (const rule of CROSS_RULES) {
    const problem = rule.check(config);
    if (problem !== undefined) throw new ConfigError(problem);
  }
  return config;
}

const RUN_NAME_HINT = 'a run name becomes a directory name; choose the output folder with --out';

/** A run's name names its directory, so it is a name and never a path (letters, digits, `.`, `_`, `-`). */
export const RUN_NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

/** Whether `value` is a valid run name (the one rule; the lab and `fix` name their runs with it too). */
export function isRunName(value: string): boolean {
  return ROOT_FIELDS.name.safeParse(value).success && value !== '';
}

/** A default name (a file's base name, say) made a valid run name: other characters become "-". */
export function toRunName(text: string): string {
  const name = text.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 100);
  return isRunName(name) ? name : 'run';
}

/**
 * The `task` section alone, checked and filled as `resolveConfig` does it (the data factories use it to refuse a
 * direct call with the config's own error).
 *
 * @example
 * resolveTask({ name: 'teacher', classes: 4 }); // { name: 'teacher', inputs: 32, classes: 4, size: 10000 }
 */
export function resolveTask(raw: unknown): TaskConfig {
  const task =
    raw === undefined ? { name: 'spirals' } : asNamed(raw, 'task', 'a task name or {"name": <task>, ...}');
  if (!Object.hasOwn(task, 'name')) {
    throw new ConfigError({
      code: 'missing',
      path: 'task.name',
      value: undefined,
      accepted: oneOf(TASK_NAMES),
    });
  }
  return readVariant(task, 'task', TASKS, undefined) as unknown as TaskConfig;
}

function resolveModel(raw: unknown, task: TaskConfig): ModelConfig {
  const model = raw === undefined ? {} : expectObject(raw, 'model', 'an object like {"kind": "mlp", ...}');
  const input = TASKS[task.name as TaskName].input;
  const fallback = DEFAULT_MODEL_KIND[input];
  const kind = readField(model, 'model', 'kind', names(MODEL_KINDS, fallback)) as ModelKind;
  const entry = MODEL_KINDS_TABLE[kind];
  const fields: Fields = entry.fields;
  const fixed: Readonly<Record<string, unknown>> = 'fixed' in entry ? entry.fixed : {};
  const own = Object.keys(fields);
  checkKeys(
    model,
    'model',
    [...own, ...Object.keys(fixed)],
    modelKeyOwners(),
    `model kind ${JSON.stringify(kind)}`,
  );
  for (const [key, value] of Object.entries(fixed)) {
    if (!Object.hasOwn(model, key) || model[key] === value) continue;
    throw new ConfigError({
      code: 'not_applicable',
      path: `model.${key}`,
      value: model[key],
      accepted: `${showValue(value)} (its fixed value for kind ${kind}) or no ${JSON.stringify(key)} at all`,
      problem: `key ${JSON.stringify(key)} applies only to ${modelKeyOwners()[key] ?? 'other kinds'}, not to model kind ${JSON.stringify(kind)}`,
    });
  }
  const hints: Readonly<Record<string, (value: unknown) => string | undefined>> =
    'hints' in entry ? entry.hints : {};
  const parsed = readFields(model, 'model', fields, {}, `model kind ${JSON.stringify(kind)}`, hints);
  return entry.build(parsed as never);
}

/** Where each model key belongs, derived from the kinds' tables: `{ forgetBias: 'model kind lstm', ... }`. */
function modelKeyOwners(): Record<string, string> {
  const owners: Record<string, string[]> = {};
  for (const kind of MODEL_KINDS) {
    for (const key of Object.keys(MODEL_KINDS_TABLE[kind].fields)) (owners[key] ??= []).push(kind);
  }
  const text: Record<string, string> = {};
  for (const [key, kinds] of Object.entries(owners)) {
    const note = MODEL_KEY_NOTES[key];
    text[key] = `model kind ${kinds.join('|')}${note === undefined ? '' : ` (${note})`}`;
  }
  return text;
}

function names<T extends string>(values: readonly T[], fallback: T): z.ZodDefault<z.ZodEnum> {
  const accepted = oneOf(values);
  return z.enum(values as unknown as [T, ...T[]], { error: () => accepted }).default(fallback as never);
}

const VARIANT_LABELS: Readonly<Record<string, string>> = {
  task: 'a task',
  optimizer: 'an optimiser',
  schedule: 'a schedule',
  clip: 'a clipping',
};

/** A table of variants keyed by `name` (`OPTIMIZERS`, `SCHEDULES`, ...). */
type Variants = Readonly<Record<string, { readonly fields: Fields }>>;

/**
 * One section chosen by its `name` (a bare string is `{"name": ...}`): the name checked against the table, the
 * keys against that entry (a key of another entry is `not_applicable`), every field parsed or defaulted.
 */
function readVariant<V extends Variants>(
  raw: unknown,
  section: string,
  table: V,
  fallback: (keyof V & string) | undefined,
  dynamicDefaults: (entry: V[keyof V]) => Readonly<Record<string, unknown>> = () => ({}),
): Record<string, unknown> {
  const label = VARIANT_LABELS[section] ?? section;
  const object =
    raw === undefined
      ? {}
      : asNamed(raw, section, `${label} name or {"name": <${label.replace(/^an? /, '')}>, ...}`);
  const all = Object.keys(table);
  const nameSchema =
    fallback === undefined
      ? z.enum(all as [string, ...string[]], { error: () => oneOf(all) })
      : names(all, fallback);
  const name = readField(object, section, 'name', nameSchema) as keyof V & string;
  const entry = table[name] as V[keyof V];
  const fields = entry.fields;
  const owners: Record<string, string[]> = {};
  for (const [other, { fields: otherFields }] of Object.entries(table)) {
    for (const key of Object.keys(otherFields)) (owners[key] ??= []).push(other);
  }
  const elsewhere = Object.fromEntries(
    Object.entries(owners).map(([key, list]) => [key, `${section} ${list.join('|')}`]),
  );
  const context = `${section} ${JSON.stringify(name)}`;
  checkKeys(object, section, ['name', ...Object.keys(fields)], elsewhere, context);
  return { name, ...readFields(object, section, fields, dynamicDefaults(entry), context) };
}

/** A section with one form (`train`, `monitor`). */
function readSection(
  raw: unknown,
  section: string,
  fields: Fields,
  accepted: string,
): Record<string, unknown> {
  const object = raw === undefined ? {} : expectObject(raw, section, accepted);
  checkKeys(object, section, Object.keys(fields));
  return readFields(object, section, fields, {}, section);
}

/** Every field of `fields`: parsed when given, else its default (`defaults` first), else missing. */
function readFields(
  object: Record<string, unknown>,
  parent: string,
  fields: Fields,
  defaults: Readonly<Record<string, unknown>>,
  context: string,
  hints: Readonly<Record<string, (value: unknown) => string | undefined>> = {},
): Record<string, unknown> {
  const resolved: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(fields)) {
    const given = field(object, key);
    let value: unknown;
    if (given === undefined && Object.hasOwn(defaults, key)) value = defaults[key];
    else if (given === undefined && !schema.safeParse(undefined).success) {
      throw new ConfigError({
        code: 'missing',
        path: join(parent, key),
        value: undefined,
        accepted: acceptedOf(schema),
        hint: `${context} needs it, e.g. {${object['name'] === undefined ? '' : `"name": ${JSON.stringify(object['name'])}, `}"${key}": 1}`,
      });
    } else value = readField(object, parent, key, schema, defaults[key], hints[key]);
    if (value !== undefined) resolved[key] = value;
  }
  return resolved;
}

/**
 * Read one field with its schema: its default when absent, the parsed value otherwise. `null` is not "absent":
 * it is an error that says to leave the key out.
 */
function readField(
  object: Record<string, unknown>,
  parent: string,
  key: string,
  schema: z.ZodType,
  fallback?: unknown,
  hint?: (value: unknown) => string | undefined,
): unknown {
  const path = join(parent, key);
  const value = field(object, key);
  if (value === null) {
    const standard = fallback ?? schema.safeParse(undefined).data;
    throw new ConfigError({
      code: 'invalid_value',
      path,
      value,
      accepted: acceptedOf(schema),
      hint:
        standard === undefined
          ? `leave "${key}" out`
          : `leave "${key}" out to use the default ${showValue(standard)}`,
    });
  }
  if (value !== undefined && schema instanceof z.ZodDefault)
    return readValue(schema.unwrap() as z.ZodType, value, path, hint);
  if (value !== undefined && schema instanceof z.ZodOptional)
    return readValue(schema.unwrap() as z.ZodType, value, path, hint);
  return value === undefined ? schema.parse(undefined) : readValue(schema, value, path, hint);
}

/**
 * An `init` spec checked by the schema's one rule (what `src/init` builds from): a name, `{"normal": std}`,
 * `{"uniform": limit}` or `{"gain": g, "base": <name>}`. Throws a ConfigError naming `path`.
 *
 * @example
 * readInitSpec({ gain: 2, base: 'he_normal' }, 'model.init'); // throws: model.init.base ... did you mean "he-normal"?
 */
export function readInitSpec(value: unknown, path = 'init'): InitSpec {
  if (value === null || value === undefined) throw invalid(path, value, acceptedOf(initSpec));
  return readValue(initSpec, value, path) as InitSpec;
}

/** A `bias` spec checked by the schema's one rule: a finite number, or `{"normal": std}` with std > 0. */
export function readBiasSpec(value: unknown, path = 'bias'): BiasSpec {
  if (value === null || value === undefined) throw invalid(path, value, acceptedOf(biasSpec));
  return readValue(biasSpec, value, path) as BiasSpec;
}

/** A union of forms (`init`, `bias`): the form is chosen by the value's type and keys, then parsed. */
function readValue(
  schema: z.ZodType,
  value: unknown,
  path: string,
  hint?: (value: unknown) => string | undefined,
): unknown {
  if (!(schema instanceof z.ZodUnion)) return parseValue(schema, value, path, hint?.(value));
  const accepted = acceptedOf(schema);
  const forms = schema.options as readonly z.ZodType[];
  const objects = forms.filter((form): form is z.ZodObject => form instanceof z.ZodObject);
  if (isRecord(value)) {
    checkKeys(value, path, [...new Set(objects.flatMap((form) => Object.keys(form.shape)))]);
    const keys = Object.keys(value).sort().join(',');
    // The form whose keys these are; keys with a default may be left out.
    const exact =
      objects.find((form) => Object.keys(form.shape).sort().join(',') === keys) ??
      objects.find(
        (form) =>
          Object.keys(value).every((key) => Object.hasOwn(form.shape, key)) &&
          Object.entries(form.shape).every(
            ([key, field]) => Object.hasOwn(value, key) || (field as z.ZodType).safeParse(undefined).success,
          ),
      );
    if (exact !== undefined) return parseValue(exact, value, path);
    const given = Object.keys(value);
    const partial = objects.find(
      (form) => given.length > 0 && given.every((key) => Object.hasOwn(form.shape, key)),
    );
    if (partial !== undefined) {
      const absent = Object.keys(partial.shape).find((key) => !given.includes(key)) ?? '';
      throw new ConfigError({
        code: 'missing',
        path: join(path, absent),
        value: undefined,
        accepted: acceptedOf(partial.shape[absent] as z.ZodType),
        hint: `give {${Object.keys(partial.shape)
          .map((key) => `"${key}": <${key}>`)
          .join(', ')}}`,
      });
    }
    throw invalid(path, value, accepted, given.length > 1 ? 'give exactly one of these forms' : undefined);
  }
  const primitive = forms.find(
    (form) =>
      (typeof value === 'string' && form instanceof z.ZodEnum) ||
      (typeof value === 'number' && form instanceof z.ZodNumber) ||
      (typeof value === 'boolean' && form instanceof z.ZodBoolean),
  );
  if (primitive === undefined) throw invalid(path, value, accepted, numericStringHint(value));
  try {
    return parseValue(primitive, value, path);
  } catch (error) {
    if (!(error instanceof ConfigError) || primitive instanceof z.ZodNumber) throw error;
    throw new ConfigError({
      code: 'invalid_value',
      path,
      value,
      accepted,
      ...(error.suggestion !== undefined ? { suggestion: error.suggestion } : {}),
    });
  }
}

/** Parse with a schema; its first issue becomes a ConfigError at `path` plus the issue's own path. */
function parseValue<T>(schema: z.ZodType<T>, value: unknown, path: string, hint?: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw invalid(path, value, acceptedOf(schema), hint);
  let at: unknown = value;
  let where = path;
  for (const segment of issue.path) {
    at =
      isRecord(at) || Array.isArray(at)
        ? (at as Record<PropertyKey, unknown>)[segment as PropertyKey]
        : undefined;
    where = join(where, String(segment));
  }
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    checkKeys(
      { [key]: true },
      where,
      isRecord(at) ? Object.keys(at).filter((k) => !issue.keys.includes(k)) : [],
    );
  }
  const suggestion =
    issue.code === 'invalid_value' && typeof at === 'string'
      ? nearest(
          at,
          issue.values.filter((v): v is string => typeof v === 'string'),
          ALIASES,
        )
      : undefined;
  const why =
    hint ??
    numericStringHint(at) ??
    (typeof at === 'number' && !Number.isFinite(at) ? 'NaN and infinities are not accepted' : undefined) ??
    (at === 'true' || at === 'false' ? `write ${at} without quotes` : undefined);
  throw invalid(where, at, issue.message, why, suggestion);
}

function numericStringHint(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
    return `write the number without quotes: ${Number(value)}`;
  }
  return undefined;
}

function invalid(
  path: string,
  value: unknown,
  accepted: string,
  hint?: string,
  suggestion?: string,
): ConfigError {
  return new ConfigError({
    code: 'invalid_value',
    path,
    value,
    accepted,
    ...(hint !== undefined ? { hint } : {}),
    ...(suggestion !== undefined ? { suggestion } : {}),
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function field(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function expectObject(value: unknown, path: string, accepted: string): Record<string, unknown> {
  if (!isRecord(value)) throw invalid(path, value, accepted);
  return value;
}

/** `"adam"` is short for `{"name": "adam"}`. */
function asNamed(value: unknown, path: string, accepted: string): Record<string, unknown> {
  if (typeof value === 'string') return { name: value };
  return expectObject(value, path, accepted);
}

/**
 * Every key of `object` must be in `allowed`. A key that belongs to another kind (listed in `elsewhere` with where
 * it applies) is `not_applicable`; any other is `unknown_key` with the nearest allowed spelling.
 */
function checkKeys(
  object: Record<string, unknown>,
  path: string,
  allowed: readonly string[],
  elsewhere: Readonly<Record<string, string>> = {},
  context = '',
): void {
  for (const key of Object.keys(object)) {
    if (allowed.includes(key)) continue;
    const owner = Object.hasOwn(elsewhere, key) ? elsewhere[key] : undefined;
    if (owner !== undefined) {
      throw new ConfigError({
        code: 'not_applicable',
        path: join(path, key),
        value: key,
        accepted: `a key of ${context}: ${allowed.join('|')}`,
        problem: `key ${JSON.stringify(key)} applies only to ${owner}, not to ${context}`,
      });
    }
    const suggestion = nearest(
      key,
      allowed.filter((k) => k !== '$schema'),
      ALIASES,
    );
    throw new ConfigError({
      code: 'unknown_key',
      path: join(path, key),
      value: key,
      accepted: oneOf(allowed),
      ...(suggestion !== undefined ? { suggestion } : {}),
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON text

/**
 * Parse a config file's text. Strict JSON (RFC 8259) plus one more rule: a key may appear only once in an object
 * (JSON.parse would silently keep the last). A failure is a ConfigError whose path is `file:line:column`.
 *
 * @example
 * parseConfigText('{"seed": 1,}', 'run.json');
 * // throws ConfigError: run.json:1:12: unexpected "}"; expected a property name in double quotes; JSON does not allow a trailing comma
 */
export function parseConfigText(text: string, path: string): unknown {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const failure = scanJson(source);
  if (failure !== undefined) {
    const position = positionOf(source, failure.offset);
    throw new ConfigError({
      code: 'invalid_json',
      path: `${path}:${position.line}:${position.column}`,
      value: failure.found,
      accepted: failure.expected,
      problem: failure.problem,
      ...(failure.hint !== undefined ? { hint: failure.hint } : {}),
      position,
    });
  }
  try {
    return JSON.parse(source) as unknown;
  } catch (error) {
    // The scanner accepts exactly JSON; this is only reached if it and the engine ever disagree.
    throw new ConfigError({
      code: 'invalid_json',
      path,
      value: source.slice(0, 20),
      accepted: 'a JSON value',
      problem: error instanceof Error ? error.message : String(error),
    });
  }
}

function positionOf(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1, offset };
}

interface ScanFailure {
  offset: number;
  found: string;
  problem: string;
  expected: string;
  hint?: string;
}

class ScanError extends Error {
  constructor(readonly failure: ScanFailure) {
    super(failure.problem);
  }
}

const MAX_NESTING = 512;

/** Where `text` first stops being JSON, or undefined if it is JSON with no repeated key. */
function scanJson(text: string): ScanFailure | undefined {
  let pos = 0;

  const describe = (at: number): string => (at >= text.length ? 'end of input' : JSON.stringify(text[at]));
  const fail = (expected: string, hint?: string, problem?: string): never => {
    const found = pos >= text.length ? '' : (text[pos] as string);
    throw new ScanError({
      offset: pos,
      found,
      problem: problem ?? `unexpected ${describe(pos)}`,
      expected,
      ...(hint !== undefined ? { hint } : {}),
    });
  };

  const whitespace = (): void => {
    for (;;) {
      const c = text[pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') pos++;
      else if (c === '/' && (text[pos + 1] === '/' || text[pos + 1] === '*')) {
        fail('a JSON value or punctuation', 'JSON does not allow comments', 'unexpected comment');
      } else return;
    }
  };

  const valueHint = (): string | undefined => {
    const c = text[pos];
    if (c === "'") return 'JSON strings use double quotes';
    if (c === '+') return 'JSON numbers have no leading +';
    if (c === '.') return 'JSON numbers need a digit before the point: 0.5';
    if (text.startsWith('NaN', pos) || text.startsWith('Infinity', pos)) return 'JSON has no NaN or Infinity';
    if (c !== undefined && /[A-Za-z_]/.test(c)) return 'strings must be in double quotes';
    return undefined;
  };

  const string = (): string => {
    const start = pos;
    pos++; // opening quote
    for (;;) {
      if (pos >= text.length) {
        pos = start;
        fail('a closing double quote', undefined, 'a string that never ends');
      }
      const code = text.charCodeAt(pos);
      if (code === 0x22) {
        pos++;
        return JSON.parse(text.slice(start, pos)) as string;
      }
      if (code < 0x20)
        fail('a character or an escape such as \\n', 'control characters must be escaped inside strings');
      if (code === 0x5c) {
        const next = text[pos + 1];
        if (next !== undefined && '"\\/bfnrt'.includes(next)) pos += 2;
        else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) pos += 6;
        else fail('an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX', undefined, 'a bad escape');
      } else pos++;
    }
  };

  const digits = (): void => {
    if (!/[0-9]/.test(text[pos] ?? '')) fail('a digit');
    while (/[0-9]/.test(text[pos] ?? '')) pos++;
  };

  const number = (): void => {
    if (text[pos] === '-') pos++;
    if (text[pos] === '0') {
      pos++;
      if (/[0-9]/.test(text[pos] ?? ''))
        fail('".", "e" or the end of the number', 'JSON numbers have no leading zeros');
    } else digits();
    if (text[pos] === '.') {
      pos++;
      digits();
    }
    if (text[pos] === 'e' || text[pos] === 'E') {
      pos++;
      if (text[pos] === '+' || text[pos] === '-') pos++;
      digits();
    }
  };

  const value = (depth: number): void => {
    if (depth > MAX_NESTING) fail('a value', undefined, `nesting deeper than ${MAX_NESTING} levels`);
    whitespace();
    const c = text[pos];
    if (c === '{') object(depth);
    else if (c === '[') array(depth);
    else if (c === '"') string();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) number();
    else if (text.startsWith('true', pos)) pos += 4;
    else if (text.startsWith('false', pos)) pos += 5;
    else if (text.startsWith('null', pos)) pos += 4;
    else fail('a JSON value (object, array, string, number, true, false or null)', valueHint());
  };

  const object = (depth: number): void => {
    pos++;
    const seen = new Set<string>();
    whitespace();
    if (text[pos] === '}') {
      pos++;
      return;
    }
    for (;;) {
      whitespace();
      if (text[pos] !== '"') {
        const trailing = text[pos] === '}' ? 'JSON does not allow a trailing comma' : valueHint();
        fail('a property name in double quotes', trailing);
      }
      const keyStart = pos;
      const key = string();
      if (seen.has(key)) {
        pos = keyStart;
        fail('each key once per object', undefined, `duplicate key ${JSON.stringify(key)}`);
      }
      seen.add(key);
      whitespace();
      if (text[pos] !== ':') fail('":" after the property name');
      pos++;
      value(depth + 1);
      whitespace();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === '}') {
        pos++;
        return;
      }
      fail('"," or "}"', text[pos] === '"' ? 'a comma is missing between properties' : undefined);
    }
  };

  const array = (depth: number): void => {
    pos++;
    whitespace();
    if (text[pos] === ']') {
      pos++;
      return;
    }
    for (;;) {
      whitespace();
      if (text[pos] === ']') fail('a JSON value', 'JSON does not allow a trailing comma');
      value(depth + 1);
      whitespace();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === ']') {
        pos++;
        return;
      }
      fail('"," or "]"');
    }
  };

  try {
    value(0);
    whitespace();
    if (pos < text.length) fail('the end of the input after the JSON value', 'a file holds one JSON value');
    return undefined;
  } catch (error) {
    if (error instanceof ScanError) return error.failure;
    throw error;
  }
}
