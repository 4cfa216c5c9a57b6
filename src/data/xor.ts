/**
 * XOR in two dimensions: points in four Gaussian clusters centred on (+-1, +-1), std 0.3, labelled by the xor of
 * the signs of their coordinates (class 1 when exactly one coordinate is positive). The smallest problem no
 * linear model solves (Minsky & Papert 1969); one hidden layer does.
 *
 * Training points are drawn fresh for every batch (an unlimited supply); the evaluation set is 1000 points from
 * the task seed.
 */
import { Rng } from '../tensor/rng.js';
import type { Examples } from './batch.js';
import { ClassificationTask } from './classification.js';

export const XOR_EVAL_SIZE = 1000;
export const XOR_CLUSTER_STD = 0.3;

/**
 * The xor task: 2 inputs, 2 classes.
 *
 * @example
 * const task = createXorTask(0);
 * task.trainBatch(32, new Rng(1)).labels; // Int32Array of 0/1
 */
export function createXorTask(seed: number): ClassificationTask {
  const root = new Rng(seed);
  return new ClassificationTask({
    name: 'xor',
    inputSize: 2,
    classes: 2,
    steps: null,
    draw: (batchSize, rng) => xorPoints(batchSize, rng),
    evalExamples: () => xorPoints(XOR_EVAL_SIZE, root.fork('xor/eval')),
    guessAccuracy: () => ({
      accuracy: 0.5,
      description: 'the four clusters are equally likely, so each class has probability 1/2',
    }),
  });
}

/** `count` points, each from a uniformly chosen quadrant cluster. */
export function xorPoints(count: number, rng: Rng): Examples {
  const x = new Float32Array(count * 2);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const quadrant = rng.int(4);
    const first = Math.fround((quadrant & 1 ? 1 : -1) + rng.normal(0, XOR_CLUSTER_STD));
    const second = Math.fround((quadrant & 2 ? 1 : -1) + rng.normal(0, XOR_CLUSTER_STD));
    x[2 * i] = first;
    x[2 * i + 1] = second;
    // Label the stored point, not its cluster, so the label is exactly xor(sign x1, sign x2) of what the model sees.
    labels[i] = first > 0 !== second > 0 ? 1 : 0;
  }
  return { x, labels, count };
}
