/**
 * Two interleaved spirals (Lang & Witbrock 1988, "Learning to tell two spirals apart"): the classic benchmark
 * that a shallow net finds hard and a deep one must route gradient through many layers to solve.
 *
 * The original set has 97 points per spiral at angles i pi/16 and radii 6.5 (104 - i) / 104, i = 0..96: three
 * turns, the radius shrinking from 6.5 to 0.5, the second spiral the point reflection of the first. Here i is
 * drawn continuously, radii are divided by 6.5 (inputs within the unit disc, roughly unit scale) and each
 * point gets Gaussian noise of std 0.02, about an eighth of the gap between neighbouring arms (0.15).
 */
import { Rng } from '../tensor/rng.js';
import { majorityAccuracy, sampleRows, type Examples } from './batch.js';
import { ClassificationTask } from './classification.js';

export interface SpiralsOptions {
  /** Training-pool size; batches are drawn from the pool. */
  size: number;
}

export const SPIRALS_EVAL_SIZE = 1000;
export const SPIRALS_NOISE = 0.02;

/**
 * The two-spirals task: 2 inputs, 2 classes, a fixed training pool of `size` points and a held-out sample of
 * 1000 points, both from `seed`.
 *
 * @example
 * const task = createSpiralsTask({ size: 2000 }, 0);
 * const { x, labels } = task.trainBatch(64, new Rng(1)); // x: [64, 2]
 */
export function createSpiralsTask(options: SpiralsOptions, seed: number): ClassificationTask {
  const root = new Rng(seed);
  let pool: Examples | null = null;
  const trainPool = (): Examples => (pool ??= spiralPoints(options.size, root.fork('spirals/train')));
  const evalExamples = (): Examples => spiralPoints(SPIRALS_EVAL_SIZE, root.fork('spirals/eval'));
  return new ClassificationTask({
    name: 'spirals',
    inputSize: 2,
    classes: 2,
    steps: null,
    draw: (batchSize, rng) => sampleRows(trainPool(), null, 2, batchSize, rng),
    evalExamples,
    guessAccuracy: () => ({
      accuracy: majorityAccuracy(trainPool().labels, evalExamples().labels, 2),
      description: 'the classes alternate, so answering one class is right half the time',
    }),
  });
}

/** `count` noisy points, alternating between the spirals (class = index parity, so classes are balanced). */
export function spiralPoints(count: number, rng: Rng): Examples {
  const x = new Float32Array(count * 2);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % 2;
    const step = rng.uniform(0, 96);
    const angle = (step * Math.PI) / 16;
    const radius = (104 - step) / 104;
    const sign = label === 0 ? 1 : -1;
    x[2 * i] = sign * radius * Math.sin(angle) + rng.normal(0, SPIRALS_NOISE);
    x[2 * i + 1] = sign * radius * Math.cos(angle) + rng.normal(0, SPIRALS_NOISE);
    labels[i] = label;
  }
  return { x, labels, count };
}
