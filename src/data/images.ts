/**
 * `images`: a synthetic image task drawn from the seed, small and fast, for conv nets in tests and the lab.
 * Each 1 x 12 x 12 image holds one short stroke, horizontal, vertical, diagonal or anti-diagonal (the class), at
 * a random place and contrast, on Gaussian noise. Telling the four orientations apart needs local edge detectors
 * combined over space, so a convolution solves it and a deep stack has to pass gradients to do so.
 */
import { Rng } from '../tensor/rng.js';
import { majorityAccuracy, sampleRows, type Examples } from './batch.js';
import { ClassificationTask } from './classification.js';
import type { ImageShape } from './task.js';

export interface ImagesOptions {
  /** Training-pool size. */
  size: number;
}

export const IMAGES_SIDE = 12;
export const IMAGES_CLASSES = 4;
export const IMAGES_EVAL_SIZE = 500;
export const IMAGES_NOISE = 0.3;
export const IMAGES_SHAPE: ImageShape = { channels: 1, height: IMAGES_SIDE, width: IMAGES_SIDE };

/** Step of each class's stroke: horizontal, vertical, diagonal, anti-diagonal. */
const DIRECTIONS: ReadonlyArray<readonly [number, number]> = [
  [0, 1],
  [1, 0],
  [1, 1],
  [1, -1],
];
const STROKE = 5;

/**
 * @example
 * const task = createImagesTask({ size: 2000 }, 0);
 * task.image; // { channels: 1, height: 12, width: 12 }
 */
export function createImagesTask(options: ImagesOptions, seed: number): ClassificationTask {
  const root = new Rng(seed);
  let pool: Examples | null = null;
  let held: Examples | null = null;
  const features = IMAGES_SIDE * IMAGES_SIDE;
  const trainPool = (): Examples => (pool ??= strokeImages(options.size, root.fork('images/train')));
  const evalExamples = (): Examples => (held ??= strokeImages(IMAGES_EVAL_SIZE, root.fork('images/eval')));
  return new ClassificationTask({
    name: 'images',
    inputSize: features,
    classes: IMAGES_CLASSES,
    steps: null,
    image: IMAGES_SHAPE,
    draw: (batchSize, rng) => sampleRows(trainPool(), null, features, batchSize, rng),
    evalExamples,
    guessAccuracy: () => ({
      accuracy: majorityAccuracy(trainPool().labels, evalExamples().labels, IMAGES_CLASSES),
      description: 'the four orientations are balanced, so one answer is right a quarter of the time',
    }),
  });
}

/** `count` images, classes in turn (balanced), flat row-major 12 x 12. */
export function strokeImages(count: number, rng: Rng): Examples {
  const side = IMAGES_SIDE;
  const x = new Float32Array(count * side * side);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const label = n % IMAGES_CLASSES;
    const [dy, dx] = DIRECTIONS[label] as readonly [number, number];
    const o = n * side * side;
    for (let p = 0; p < side * side; p++) x[o + p] = rng.normal(0, IMAGES_NOISE);
    // A start that keeps the whole stroke inside the image.
    const y0 = dy === 0 ? rng.int(side) : rng.int(side - STROKE + 1);
    const x0 =
      dx === 0
        ? rng.int(side)
        : dx > 0
          ? rng.int(side - STROKE + 1)
          : STROKE - 1 + rng.int(side - STROKE + 1);
    const contrast = rng.uniform(0.8, 1.6);
    for (let s = 0; s < STROKE; s++) {
      const p = o + (y0 + s * dy) * side + (x0 + s * dx);
      x[p] = (x[p] as number) + contrast;
    }
    labels[n] = label;
  }
  return { x, labels, count };
}
