/**
 * How a task is registered: its name and its factory. Its fields (names, ranges, defaults, meaning) are the
 * schema's (`TASKS` in config/schema.ts, the one rule); `resolve` and `create` check a task config with the
 * schema's own parser (`resolveTask`), so a direct library call is refused with the same error a config file gets
 * (path, value, what is accepted, the nearest key) and nothing here repeats a check.
 */
import { resolveTask } from '../config/resolve.js';
import type { TaskName } from '../config/schema.js';
import type { TaskConfig, TaskFields } from '../config/types.js';
import { GradscopeError } from '../util/errors.js';
import type { Task } from './task.js';

export interface TaskDefinition<N extends TaskName> {
  /** The task from its fields, validated and with every default filled in. */
  create(options: TaskFields<N>, seed: number): Task;
}

/** A task definition with its options type erased, as the registry holds it. */
export interface TaskEntry {
  readonly name: TaskName;
  /** Checks `cfg` against the schema and returns it with every field of this task filled in (defaults where absent). */
  resolve(cfg: TaskConfig): TaskConfig;
  /** `resolve`, then build the task. */
  create(cfg: TaskConfig, seed: number): Task;
}

/**
 * Registers a task's factory under its name.
 *
 * @example
 * const adding = defineTask('adding', { create: ({ length }, seed) => createAddingTask({ length }, seed) });
 * adding.create({ name: 'adding', length: 100 }, 0);
 */
export function defineTask<N extends TaskName>(name: N, definition: TaskDefinition<N>): TaskEntry {
  const resolve = (cfg: TaskConfig): TaskConfig => {
    const resolved = resolveTask(cfg);
    if (resolved.name !== name)
      throw new GradscopeError({
        code: 'invalid_value',
        path: 'task.name',
        value: resolved.name,
        accepted: JSON.stringify(name),
        hint: `this is the ${name} task's factory; createTask picks the factory by name`,
      });
    return resolved;
  };
  return {
    name,
    resolve,
    create: (cfg, seed) => {
      const fields: Partial<TaskConfig> = { ...resolve(cfg) };
      delete fields.name;
      // The schema parsed exactly this task's fields, each with its default.
      return definition.create(fields as TaskFields<N>, seed);
    },
  };
}
