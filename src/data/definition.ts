/**
 * How a task declares its config fields: each task lists its fields with their defaults and accepted ranges,
 * and `defineTask` turns that declaration into validation, default-filling and construction. Field checks live
 * here once, so every task reports a bad value the same way.
 */
import type { TaskConfig } from '../config/types.js';
import type { Task } from './task.js';
import { TaskConfigError, closestName, formatValue } from './errors.js';

/** The optional fields of `TaskConfig` (everything but `name`). */
export type TaskField = Exclude<keyof TaskConfig, 'name'>;

export const TASK_FIELDS: readonly TaskField[] = [
  'inputs',
  'classes',
  'size',
  'length',
  'mode',
  'path',
  'target',
  'kind',
  'standardize',
  'split',
];

export interface IntegerField {
  readonly kind: 'integer';
  readonly min: number;
  readonly max: number;
  readonly default: number;
  readonly doc: string;
}

export interface ChoiceField<V extends string = string> {
  readonly kind: 'choice';
  readonly choices: readonly V[];
  readonly default: V;
  readonly doc: string;
}

export type FieldSpec = IntegerField | ChoiceField;

/** The field declarations for an options type: numbers are integer fields, string unions are choices. */
export type FieldSpecs<O> = {
  readonly [K in keyof O]: O[K] extends number
    ? IntegerField
    : O[K] extends string
      ? ChoiceField<O[K]>
      : never;
};

/** Options types may only use `TaskConfig`'s field names, so the config type stays the single list of fields. */
export type TaskOptions<O> = { [K in keyof O]: K extends TaskField ? number | string : never };

export interface TaskDefinition<O extends TaskOptions<O>> {
  readonly description: string;
  readonly fields: FieldSpecs<O>;
  create(options: O, seed: number): Task;
}

/** A task definition with its options type erased, as the registry holds it. */
export interface TaskEntry {
  readonly name: string;
  readonly description: string;
  readonly fields: Readonly<Partial<Record<TaskField, FieldSpec>>>;
  /** Checks `cfg` and returns it with every field of this task filled in (defaults where absent). */
  resolve(cfg: TaskConfig): TaskConfig;
  /** `resolve`, then build the task. */
  create(cfg: TaskConfig, seed: number): Task;
}

/** An integer field declaration; `max` defaults to no upper bound. */
export function integerField(doc: string, defaultValue: number, min: number, max = Infinity): IntegerField {
  return { kind: 'integer', min, max, default: defaultValue, doc };
}

export function choiceField<V extends string>(
  doc: string,
  defaultValue: V,
  choices: readonly V[],
): ChoiceField<V> {
  return { kind: 'choice', choices, default: defaultValue, doc };
}

/**
 * Registers a task's fields and factory.
 *
 * @example
 * const adding = defineTask('adding', {
 *   description: 'sum of two marked values',
 *   fields: { length: integerField('time steps T', 50, 2) },
 *   create: ({ length }, seed) => createAddingTask({ length }, seed),
 * });
 * adding.create({ name: 'adding', length: 100 }, 0);
 */
export function defineTask<O extends TaskOptions<O>>(name: string, definition: TaskDefinition<O>): TaskEntry {
  const fields = definition.fields as unknown as Readonly<Partial<Record<TaskField, FieldSpec>>>;
  const parse = (cfg: TaskConfig): O => {
    checkKeys(name, fields, cfg);
    const options: Partial<Record<TaskField, number | string>> = {};
    for (const field of TASK_FIELDS) {
      const spec = fields[field];
      if (spec !== undefined) options[field] = checkField(field, spec, cfg[field]);
    }
    return options as unknown as O;
  };
  return {
    name,
    description: definition.description,
    fields,
    resolve: (cfg) =>
      ({ name, ...(parse(cfg) as Partial<Record<TaskField, number | string>>) }) as unknown as TaskConfig,
    create: (cfg, seed) => definition.create(parse(cfg), seed),
  };
}

/** Rejects keys this task does not take, naming the ones it does. */
function checkKeys(
  name: string,
  fields: Readonly<Partial<Record<TaskField, FieldSpec>>>,
  cfg: TaskConfig,
): void {
  const own = Object.keys(fields);
  const accepted = own.length > 0 ? `name, ${own.join(', ')}` : 'name only';
  for (const [key, value] of Object.entries(cfg)) {
    if (key === 'name' || own.includes(key) || value === undefined) continue;
    const path = `task.${key}`;
    if ((TASK_FIELDS as readonly string[]).includes(key)) {
      throw new TaskConfigError(
        'not_applicable',
        path,
        value,
        accepted,
        `${path} does not apply to task ${name}; ${name} accepts: ${accepted}. Remove the key.`,
      );
    }
    const suggestion = closestName(key, own);
    const hint = suggestion === null ? '' : ` Did you mean task.${suggestion}?`;
    throw new TaskConfigError(
      'unknown_key',
      path,
      value,
      accepted,
      `unknown key ${path} for task ${name}.${hint} ${name} accepts: ${accepted}.`,
    );
  }
}

function checkField(field: TaskField, spec: FieldSpec, value: unknown): number | string {
  if (value === undefined) return spec.default;
  const path = `task.${field}`;
  if (spec.kind === 'integer') {
    const range = spec.max === Infinity ? `>= ${spec.min}` : `from ${spec.min} to ${spec.max}`;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.min || value > spec.max) {
      throw new TaskConfigError(
        'invalid_value',
        path,
        value,
        `an integer ${range}`,
        `${path} must be an integer ${range}, got ${formatValue(value)} (${spec.doc}; default ${spec.default}).`,
      );
    }
    return value;
  }
  const choices = spec.choices.map((choice) => `'${choice}'`).join(' or ');
  if (typeof value !== 'string' || !spec.choices.includes(value)) {
    throw new TaskConfigError(
      'invalid_value',
      path,
      value,
      choices,
      `${path} must be ${choices}, got ${formatValue(value)} (${spec.doc}; default '${spec.default}').`,
    );
  }
  return value;
}
