/**
 * The shared shape of the classification tasks (spirals, xor, teacher, mnist, seq-mnist): each supplies how to
 * draw training examples and the fixed evaluation examples; this class lays them out as batches, caches the
 * evaluation set and states the guessing baseline.
 */
import type { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { checkBatchSize, oneHot, toTimeMajor, type Examples } from './batch.js';
import type { Baseline, Batch, ImageShape, LossKind, SequenceSpec, Task } from './task.js';

export interface ClassificationSource {
  readonly name: string;
  /** Features per example, or per step when `steps` is set. */
  readonly inputSize: number;
  readonly classes: number;
  /** Read each example as this many steps of `inputSize` features, scored at the last step; null for MLPs. */
  readonly steps: number | null;
  /** Image tasks: the shape the features form. */
  readonly image?: ImageShape;
  /** `batchSize` training examples drawn with `rng`. */
  draw(batchSize: number, rng: Rng): Examples;
  /** The evaluation examples; called once, the batch built from them is cached. */
  evalExamples(): Examples;
  /** The accuracy of a model that learned nothing (see `majorityAccuracy`), and how it was measured. */
  guessAccuracy(): { accuracy: number; description: string };
}

export class ClassificationTask implements Task {
  readonly name: string;
  readonly loss: LossKind = 'cross-entropy';
  readonly inputSize: number;
  readonly outputSize: number;
  readonly sequence: SequenceSpec | null;
  readonly image?: ImageShape;
  private cachedEval: Batch | null = null;
  private cachedBaseline: Baseline | null = null;

  constructor(private readonly source: ClassificationSource) {
    this.name = source.name;
    this.inputSize = source.inputSize;
    this.outputSize = source.classes;
    this.sequence = source.steps === null ? null : { length: source.steps, scored: 'last' };
    if (source.image) this.image = source.image;
  }

  /**
   * Uniform predictions over C classes give cross-entropy ln C, whatever the labels; the accuracy is that of
   * always answering the majority class. Computed on first read (it may need the data).
   */
  get baseline(): Baseline {
    if (this.cachedBaseline === null) {
      const guess = this.source.guessAccuracy();
      this.cachedBaseline = {
        loss: Math.log(this.outputSize),
        accuracy: guess.accuracy,
        description: `uniform predictions over ${this.outputSize} classes (loss ln ${this.outputSize}); ${guess.description}`,
      };
    }
    return this.cachedBaseline;
  }

  trainBatch(batchSize: number, rng: Rng): Batch {
    checkBatchSize(this.name, batchSize);
    return this.layout(this.source.draw(batchSize, rng));
  }

  evalSet(): Batch {
    return (this.cachedEval ??= this.layout(this.source.evalExamples()));
  }

  private layout(examples: Examples): Batch {
    const { count, labels } = examples;
    const steps = this.source.steps;
    const x =
      steps === null
        ? new Tensor(examples.x, [count, this.inputSize])
        : new Tensor(toTimeMajor(examples.x, count, steps, this.inputSize), [steps, count, this.inputSize]);
    return { x, y: oneHot(labels, this.outputSize, [count, this.outputSize]), labels };
  }
}
