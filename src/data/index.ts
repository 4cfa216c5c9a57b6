/**
 * The training tasks: synthetic problems generated from a seed and the MNIST digits bundled with the `mnist`
 * package. Nothing is downloaded.
 *
 * @example
 * const task = createTask({ name: 'adding', length: 100 }, 0);
 * const batch = task.trainBatch(64, new Rng(0).fork('batches'));
 * task.baseline.loss; // 1/6: what a model that learns nothing scores
 */
import { resolveTask } from '../config/resolve.js';
import type { TaskName } from '../config/schema.js';
import type { TaskConfig } from '../config/types.js';
import { GradscopeError } from '../util/errors.js';
import { createAddingTask } from './adding.js';
import { createCopyTask } from './copy.js';
import { createImagesTask } from './images.js';
import { createCsvTask } from './csv.js';
import { createCharLmTask } from './char-lm.js';
import { createTransductionTask } from './transduction.js';
import { defineTask, type TaskEntry } from './definition.js';
import { createMnistTask, createSeqMnistTask } from './mnist.js';
import { createSpiralsTask } from './spirals.js';
import type { Task } from './task.js';
import { createTeacherTask } from './teacher.js';
import { createXorTask } from './xor.js';

export type { Baseline, Batch, ImageShape, LossKind, SequenceSpec, Task } from './task.js';
export type { TaskDefinition, TaskEntry } from './definition.js';
export type { TaskName } from '../config/schema.js';
export { TaskConfigError, type TaskConfigErrorCode } from './errors.js';
export { AddingTask } from './adding.js';
export { CopyTask } from './copy.js';
export { TeacherTask } from './teacher.js';
export { ClassificationTask } from './classification.js';
export { loadMnist, type MnistDigits } from './mnist-digits.js';

/**
 * Every task's factory, keyed by the schema's task names (a task added to the schema without a factory here does
 * not compile); the fields, defaults and ranges are the schema's.
 */
export const TASKS: { readonly [K in TaskName]: TaskEntry } = {
  // Lang & Witbrock 1988.
  spirals: defineTask('spirals', { create: (options, seed) => createSpiralsTask(options, seed) }),
  xor: defineTask('xor', { create: (_options, seed) => createXorTask(seed) }),
  teacher: defineTask('teacher', { create: (options, seed) => createTeacherTask(options, seed) }),
  mnist: defineTask('mnist', { create: () => createMnistTask() }),
  images: defineTask('images', { create: (options, seed) => createImagesTask(options, seed) }),
  // Hochreiter & Schmidhuber 1997.
  adding: defineTask('adding', { create: (options, seed) => createAddingTask(options, seed) }),
  // Arjovsky et al. 2016.
  copy: defineTask('copy', { create: (options, seed) => createCopyTask(options, seed) }),
  'seq-mnist': defineTask('seq-mnist', { create: (options) => createSeqMnistTask(options) }),
  'char-lm': defineTask('char-lm', { create: (options, seed) => createCharLmTask(options, seed) }),
  reverse: defineTask('reverse', {
    create: (options, seed) => createTransductionTask('reverse', options, seed),
  }),
  sort: defineTask('sort', { create: (options, seed) => createTransductionTask('sort', options, seed) }),
  translate: defineTask('translate', {
    create: (options, seed) => createTransductionTask('translate', options, seed),
  }),
  csv: defineTask('csv', { create: (options, seed) => createCsvTask(options, seed) }),
};

export const TASK_NAMES = Object.keys(TASKS) as TaskName[];

/** The registry entry for `cfg.name`; an unknown or missing name is the schema's error (with the nearest name). */
export function taskEntry(cfg: TaskConfig): TaskEntry {
  return TASKS[resolveTask(cfg).name as TaskName];
}

/**
 * Checks a task config and returns it with every field of that task filled in, as `config.json` records it.
 * Throws the schema's `GradscopeError` on an unknown name, a bad value, or a field the task does not take.
 *
 * @example
 * resolveTaskConfig({ name: 'teacher', classes: 4 }); // { name: 'teacher', inputs: 32, classes: 4, size: 10000 }
 */
export function resolveTaskConfig(cfg: TaskConfig): TaskConfig {
  return taskEntry(cfg).resolve(cfg);
}

/**
 * Builds the task `cfg` names. The seed fixes everything the task draws itself (training pools, teacher weights,
 * evaluation sets); training batches are drawn with the rng passed to `trainBatch`.
 * Throws the schema's `GradscopeError` (see `resolveTaskConfig`), or a `TaskConfigError` when the task's data
 * cannot be built (an unreadable CSV file, a text too short).
 *
 * @example
 * const task = createTask({ name: 'spirals' }, 0);
 * task.trainBatch(64, rng).x.shape; // [64, 2]
 */
export function createTask(cfg: TaskConfig, seed: number): Task {
  if (!Number.isFinite(seed)) {
    throw new GradscopeError({
      code: 'invalid_value',
      path: 'seed',
      value: seed,
      accepted: 'a finite number',
    });
  }
  return taskEntry(cfg).create(cfg, seed);
}
