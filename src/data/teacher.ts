/**
 * A teacher-student task: inputs x ~ N(0, I_d) and label argmax_c (x T)_c for a fixed random teacher matrix
 * T (d x classes) drawn from the seed. The labels are a known function of the inputs, so a student that fails
 * to fit them is failing to train, not failing to generalise (the setting of Gardner & Derrida 1989 and of
 * signal-propagation experiments).
 *
 * T's columns are drawn N(0, I_d) and scaled to unit length: each score (x T)_c is then N(0, 1), so no class
 * wins more often merely because its column is longer and the classes come out roughly balanced.
 */
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { majorityAccuracy, sampleRows, type Examples } from './batch.js';
import { ClassificationTask, type ClassificationSource } from './classification.js';

export interface TeacherOptions {
  /** Input dimension d. */
  inputs: number;
  classes: number;
  /** Training-pool size; batches are drawn from the pool. */
  size: number;
}

export const TEACHER_EVAL_SIZE = 2000;

export class TeacherTask extends ClassificationTask {
  constructor(
    source: ClassificationSource,
    /** The teacher matrix T, [inputs, classes], float64. */
    readonly weights: Tensor,
  ) {
    super(source);
  }
}

/**
 * The teacher task: `inputs` Gaussian features, `classes` classes, a pool of `size` training points and 2000
 * fresh evaluation points, all from `seed`.
 *
 * @example
 * const task = createTeacherTask({ inputs: 32, classes: 10, size: 10000 }, 0);
 * task.weights.shape; // [32, 10]
 */
export function createTeacherTask(options: TeacherOptions, seed: number): TeacherTask {
  const { inputs, classes, size } = options;
  const root = new Rng(seed);
  const weights = teacherWeights(inputs, classes, root.fork('teacher/weights'));
  let pool: Examples | null = null;
  const trainPool = (): Examples =>
    (pool ??= teacherPoints(size, weights, inputs, classes, root.fork('teacher/train')));
  const evalExamples = (): Examples =>
    teacherPoints(TEACHER_EVAL_SIZE, weights, inputs, classes, root.fork('teacher/eval'));
  return new TeacherTask(
    {
      name: 'teacher',
      inputSize: inputs,
      classes,
      steps: null,
      draw: (batchSize, rng) => sampleRows(trainPool(), null, inputs, batchSize, rng),
      evalExamples,
      guessAccuracy: () => ({
        accuracy: majorityAccuracy(trainPool().labels, evalExamples().labels, classes),
        description: `always answering the training pool's most frequent class`,
      }),
    },
    new Tensor(weights, [inputs, classes]),
  );
}

/** T ([inputs, classes], row-major) with N(0, 1) entries and each column scaled to unit L2 norm. */
export function teacherWeights(inputs: number, classes: number, rng: Rng): Float64Array {
  const data = new Float64Array(inputs * classes);
  rng.fillNormal(data);
  for (let c = 0; c < classes; c++) {
    let squares = 0;
    for (let i = 0; i < inputs; i++) squares += (data[i * classes + c] as number) ** 2;
    const scale = squares > 0 ? 1 / Math.sqrt(squares) : 1;
    for (let i = 0; i < inputs; i++) data[i * classes + c] = (data[i * classes + c] as number) * scale;
  }
  return data;
}

/**
 * argmax_c sum_i x_i T_ic for one example starting at `offset` of `x`, summed in float64 in index order
 * (the lowest class on ties).
 */
export function teacherLabel(
  x: Float32Array,
  offset: number,
  weights: Float64Array,
  inputs: number,
  classes: number,
): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < classes; c++) {
    let score = 0;
    for (let i = 0; i < inputs; i++)
      score += (x[offset + i] as number) * (weights[i * classes + c] as number);
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

/** `count` Gaussian points labelled by the teacher, computed from the stored float32 inputs. */
function teacherPoints(
  count: number,
  weights: Float64Array,
  inputs: number,
  classes: number,
  rng: Rng,
): Examples {
  const x = new Float32Array(count * inputs);
  rng.fillNormal(x);
  const labels = new Int32Array(count);
  for (let r = 0; r < count; r++) labels[r] = teacherLabel(x, r * inputs, weights, inputs, classes);
  return { x, labels, count };
}
