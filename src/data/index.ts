/**
 * The training tasks: synthetic problems generated from a seed and the MNIST digits bundled with the `mnist`
 * package. Nothing is downloaded.
 *
 * @example
 * const task = createTask({ name: 'adding', length: 100 }, 0);
 * const batch = task.trainBatch(64, new Rng(0).fork('batches'));
 * task.baseline.loss; // 1/6: what a model that learns nothing scores
 */
import type { TaskConfig } from '../config/types.js';
import { createAddingTask, type AddingOptions } from './adding.js';
import { createCopyTask, type CopyOptions } from './copy.js';
import { createImagesTask, type ImagesOptions } from './images.js';
import { CSV_TASK_ENTRY } from './csv.js';
import { CharLmTask, createCharLmTask, readCorpus, type CharLmOptions } from './char-lm.js';
import { createTransductionTask, type TransductionOptions } from './transduction.js';
import { choiceField, defineTask, integerField, type TaskEntry } from './definition.js';
import { TaskConfigError, closestName, formatValue } from './errors.js';
import { SEQ_MNIST_MODES, createMnistTask, createSeqMnistTask, type SeqMnistOptions } from './mnist.js';
import { createSpiralsTask, type SpiralsOptions } from './spirals.js';
import type { Task } from './task.js';
import { createTeacherTask, type TeacherOptions } from './teacher.js';
import { createXorTask } from './xor.js';

export type { Baseline, Batch, ImageShape, LossKind, SequenceSpec, Task } from './task.js';
export type { ChoiceField, FieldSpec, IntegerField, TaskEntry, TaskField } from './definition.js';
export { TaskConfigError, type TaskConfigErrorCode } from './errors.js';
export { AddingTask } from './adding.js';
export { CopyTask } from './copy.js';
export { TeacherTask } from './teacher.js';
export { ClassificationTask } from './classification.js';
export { loadMnist, type MnistDigits } from './mnist-digits.js';

/** Options of a task that takes no fields. */
type NoOptions = Record<never, never>;

export type TaskName =
  | 'spirals'
  | 'xor'
  | 'teacher'
  | 'mnist'
  | 'images'
  | 'adding'
  | 'copy'
  | 'seq-mnist'
  | 'char-lm'
  | 'reverse'
  | 'sort'
  | 'csv';

/**
 * The char-lm entry with its optional `task.path`, a corpus file of the user's own: the length is checked by the
 * declared fields as for every task, the path read here (a string, which the declared fields do not describe).
 */
function withCorpusPath(entry: TaskEntry): TaskEntry {
  const split = (cfg: TaskConfig): { path: string | undefined; rest: TaskConfig } => {
    const { path, ...rest } = cfg;
    return { path, rest };
  };
  return {
    ...entry,
    resolve: (cfg) => {
      const { path, rest } = split(cfg);
      return { ...entry.resolve(rest), ...(path !== undefined ? { path } : {}) };
    },
    create: (cfg, seed) => {
      const { path, rest } = split(cfg);
      if (path === undefined) return entry.create(rest, seed);
      const { length } = entry.resolve(rest) as { length: number };
      return new CharLmTask({ length, text: readCorpus(path), textFile: path });
    },
  };
}

/** Every task with its description and fields (defaults, accepted ranges), e.g. for `gradscope presets`. */
export const TASKS: { readonly [K in TaskName]: TaskEntry } = {
  spirals: defineTask<SpiralsOptions>('spirals', {
    description: 'two interleaved spirals (Lang & Witbrock 1988): 2 inputs, 2 classes',
    fields: { size: integerField('training-pool size', 2000, 2) },
    create: (options, seed) => createSpiralsTask(options, seed),
  }),
  xor: defineTask<NoOptions>('xor', {
    description: 'four Gaussian clusters labelled by the xor of their signs: 2 inputs, 2 classes',
    fields: {},
    create: (_options, seed) => createXorTask(seed),
  }),
  teacher: defineTask<TeacherOptions>('teacher', {
    description: 'Gaussian inputs labelled by argmax of a random linear teacher',
    fields: {
      inputs: integerField('input dimension', 32, 1),
      classes: integerField('number of classes', 10, 2),
      size: integerField('training-pool size', 10000, 1),
    },
    create: (options, seed) => createTeacherTask(options, seed),
  }),
  mnist: defineTask<NoOptions>('mnist', {
    description: 'the 10,000 bundled MNIST digits as 784 inputs, fixed 8000/2000 split, 10 classes',
    fields: {},
    create: () => createMnistTask(),
  }),
  images: defineTask<ImagesOptions>('images', {
    description:
      'synthetic 1 x 12 x 12 images of a stroke in one of 4 orientations, on noise (for conv nets)',
    fields: { size: integerField('training-pool size', 2000, 4) },
    create: (options, seed) => createImagesTask(options, seed),
  }),
  adding: defineTask<AddingOptions>('adding', {
    description: 'the adding problem (Hochreiter & Schmidhuber 1997): sum two marked values, mse',
    fields: { length: integerField('sequence length T', 50, 2) },
    create: (options, seed) => createAddingTask(options, seed),
  }),
  copy: defineTask<CopyOptions>('copy', {
    description: 'copying memory (Arjovsky et al. 2016): replay 10 symbols after a delay of `length` steps',
    fields: { length: integerField('delay between the symbols and the cue', 50, 1) },
    create: (options, seed) => createCopyTask(options, seed),
  }),
  'seq-mnist': defineTask<SeqMnistOptions>('seq-mnist', {
    description: 'MNIST read one row (28 x 28) or one pixel (784 x 1) per step, scored at the last step',
    fields: {
      mode: choiceField('row: 28 steps of 28 pixels; pixel: 784 steps of 1', 'row', SEQ_MNIST_MODES),
    },
    create: (options) => createSeqMnistTask(options),
  }),
  'char-lm': withCorpusPath(
    defineTask<Pick<CharLmOptions, 'length'>>('char-lm', {
      description:
        'next-character prediction on the bundled Shakespeare excerpt (Coriolanus) or task.path, every position scored; baseline: unigram',
      fields: { length: integerField('characters of context per example', 64, 1) },
      create: (options, seed) => createCharLmTask(options, seed),
    }),
  ),
  reverse: defineTask<TransductionOptions>('reverse', {
    description: 'read n symbols, then write them reversed (2n + 1 steps, the answer half scored)',
    fields: {
      length: integerField('symbols to read, n', 10, 1),
      classes: integerField('distinct symbols', 8, 2),
    },
    create: (options, seed) => createTransductionTask('reverse', options, seed),
  }),
  sort: defineTask<TransductionOptions>('sort', {
    description: 'read n symbols, then write them sorted (2n + 1 steps, the answer half scored)',
    fields: {
      length: integerField('symbols to read, n', 10, 1),
      classes: integerField('distinct symbols', 8, 2),
    },
    create: (options, seed) => createTransductionTask('sort', options, seed),
  }),
  csv: CSV_TASK_ENTRY,
};

export const TASK_NAMES = Object.keys(TASKS) as TaskName[];

/**
 * The registry entry for `cfg.name`, or a `TaskConfigError` naming the bad name, the closest valid one and all
 * accepted names.
 */
export function taskEntry(cfg: TaskConfig): TaskEntry {
  const name: unknown = (cfg as { name?: unknown } | null)?.name;
  const accepted = TASK_NAMES.join(', ');
  if (typeof name !== 'string' || name === '') {
    throw new TaskConfigError(
      'missing',
      'task.name',
      name,
      accepted,
      `task.name must be a task name, got ${formatValue(name)}; accepted: ${accepted}.`,
    );
  }
  if (!Object.hasOwn(TASKS, name)) {
    const suggestion = closestName(name, TASK_NAMES);
    const hint = suggestion === null ? ';' : `, did you mean \`${suggestion}\`?`;
    throw new TaskConfigError(
      'invalid_value',
      'task.name',
      name,
      accepted,
      `unknown task \`${name}\`${hint} accepted: ${accepted}.`,
    );
  }
  return TASKS[name as TaskName];
}

/**
 * Checks a task config and returns it with every field of that task filled in, as `config.json` records it.
 * Throws `TaskConfigError` on an unknown name, a bad value, or a field the task does not take.
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
 * Throws `TaskConfigError` (see `resolveTaskConfig`).
 *
 * @example
 * const task = createTask({ name: 'spirals' }, 0);
 * task.trainBatch(64, rng).x.shape; // [64, 2]
 */
export function createTask(cfg: TaskConfig, seed: number): Task {
  if (!Number.isFinite(seed)) {
    throw new TaskConfigError(
      'invalid_value',
      'seed',
      seed,
      'a finite number',
      `seed must be a finite number, got ${seed}.`,
    );
  }
  return taskEntry(cfg).create(cfg, seed);
}
