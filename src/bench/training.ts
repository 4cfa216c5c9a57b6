/**
 * W1 and W2 for gradscope: the trainer's own `TrainingSession` on one fixed batch (a task that hands out the same
 * batch, so data generation is not timed: every peer reuses one batch too), with the monitor off after step 1.
 * The monitor's cost is W4's subject, measured through `train()` itself.
 */
import { backward } from '../autograd/tape.js';
import { heNormal, xavierUniform, zeros } from '../init/index.js';
import { ConvNet } from '../nn/conv.js';
import { Transformer } from '../nn/transformer.js';
import type { Module } from '../nn/module.js';
import { crossEntropy } from '../ops/index.js';
import { applyUpdates, globalNorm, scaleByLearningRate } from '../optim/index.js';
import { BufferArena, withArena, type Buffer } from '../tensor/tensor.js';
import { resolveConfig } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import type { Baseline, Batch, LossKind, SequenceSpec, Task } from '../data/task.js';
import type { LayeredModel } from '../nn/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { computeLoss, TrainingSession } from '../train/session.js';
import type { ConvShape, LstmShape, MlpShape, TransformerShape } from './protocol.js';

/** A task that hands out one fixed batch, so the benchmark times training, not data generation. */
class FixedBatchTask implements Task {
  readonly baseline: Baseline = { loss: NaN, description: 'benchmark data (random)' };

  constructor(
    readonly name: string,
    readonly loss: LossKind,
    readonly inputSize: number,
    readonly outputSize: number,
    readonly sequence: SequenceSpec | null,
    private readonly batch: Batch,
  ) {}

  trainBatch(): Batch {
    return this.batch;
  }

  evalSet(): Batch {
    return this.batch;
  }
}

/** The W1 batch: x ~ N(0, 1) [batch, input], uniform class ids. */
function mlpBatch(shape: MlpShape, rng: Rng): Batch {
  const x = Tensor.randn([shape.batch, shape.input], rng);
  const labels = new Int32Array(shape.batch);
  const y = Tensor.zeros([shape.batch, shape.classes]);
  for (let r = 0; r < shape.batch; r++) {
    const c = rng.int(shape.classes);
    labels[r] = c;
    y.data[r * shape.classes + c] = 1;
  }
  return { x, y, labels };
}

/** The W2 batch: x ~ U(0, 1) time-major [steps, batch, input], targets ~ U(0, 1) [batch, output]. */
function lstmBatch(shape: LstmShape, rng: Rng): Batch {
  return {
    x: Tensor.rand([shape.steps, shape.batch, shape.input], rng),
    y: Tensor.rand([shape.batch, shape.output], rng),
    labels: null,
  };
}

/** The resolved config of W1 (model and optimiser as a user would write them). */
export function mlpConfig(
  shape: MlpShape,
  seed: number,
  extra: { steps?: number; monitor?: object } = {},
): ResolvedConfig {
  return resolveConfig(
    {
      name: 'bench-w1',
      seed,
      task: { name: 'teacher', inputs: shape.input, classes: shape.classes, size: 4096 },
      model: { kind: 'mlp', hidden: new Array<number>(shape.depth).fill(shape.width), activation: 'tanh' },
      optimizer: { name: 'sgd', learningRate: shape.learningRate },
      train: { batchSize: shape.batch, ...(extra.steps ? { steps: extra.steps } : {}) },
      ...(extra.monitor ? { monitor: extra.monitor } : {}),
    },
    { defaultName: 'bench-w1' },
  );
}

/** The resolved config of W2. The adding task stands in for the config's task; the bench supplies its own data. */
export function lstmConfig(
  shape: LstmShape,
  seed: number,
  extra: { steps?: number; monitor?: object } = {},
): ResolvedConfig {
  return resolveConfig(
    {
      name: 'bench-w2',
      seed,
      task: { name: 'adding', length: shape.steps },
      model: { kind: 'lstm', hidden: shape.hidden, layers: 1 },
      optimizer: { name: 'sgd', learningRate: shape.learningRate },
      train: { batchSize: shape.batch, ...(extra.steps ? { steps: extra.steps } : {}) },
      ...(extra.monitor ? { monitor: extra.monitor } : {}),
    },
    { defaultName: 'bench-w2' },
  );
}

/** Called after each step (memory sampling). */
export type StepProbe = () => void;

/**
 * A `TrainingSession` on a fixed batch with the monitor off after step 1: the step the trainer runs, timed as it is.
 * The session's config gets an unreachable step count and monitor period, so no step but the first is logged.
 */
export class BenchTraining implements Trainable {
  private readonly session: TrainingSession;
  readonly model: LayeredModel;

  constructor(
    readonly task: Task,
    readonly batch: Batch,
    config: ResolvedConfig,
  ) {
    const forever = 2 ** 30;
    this.session = new TrainingSession(
      {
        ...config,
        train: { ...config.train, steps: forever },
        monitor: { every: forever, timesteps: false, histograms: false },
      },
      { task },
    );
    this.model = this.session.model;
  }

  get tensors(): readonly Tensor[] {
    return this.session.parameters;
  }

  /** One training step as `train()` runs it with the monitor off; returns the loss. */
  step(probe?: StepProbe): number {
    const { step, loss } = this.session.step();
    probe?.();
    if (!Number.isFinite(loss) || this.session.skippedSteps > 0) {
      throw new Error(
        `benchmark step ${step} went non-finite (loss ${loss}); the timings would mean nothing.`,
      );
    }
    return loss;
  }

  /**
   * Bytes of typed arrays that the graph holds once the forward pass is done: one untimed forward and backward
   * outside the arena (so every buffer is fresh), with garbage collected (and V8's array-buffer sweeper given time
   * to finish) before and after the forward pass, so only live buffers count. Needs `node --expose-gc`; null
   * without it.
   */
  async graphBytes(): Promise<number | null> {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) return null;
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    this.model.zeroGrad();
    await settle();
    const before = process.memoryUsage().arrayBuffers;
    const output = this.model.forward(this.batch.x);
    const lossTensor = computeLoss(this.task, output, this.batch);
    await settle();
    const after = process.memoryUsage().arrayBuffers;
    backward(lossTensor);
    return after - before;
  }
}

/** The step the bench times: one training step with the loss read back. */
export interface Trainable {
  step(probe?: StepProbe): number;
  graphBytes(): Promise<number | null>;
}

/**
 * W5 and W6: a model built directly from `src/nn` (no config kind needed), trained on a fixed batch with the
 * trainer's step as `TrainingSession` runs it with clip `none` and SGD: in a buffer arena, zero the gradients,
 * forward, cross-entropy, backward, the guard's global gradient norm, copy the gradients into the update buffers,
 * scale by -lr, apply.
 */
export class ModelTraining implements Trainable {
  private readonly arena = new BufferArena();
  private readonly parameters: readonly Tensor[];
  private readonly updates: Buffer[];
  private readonly scale: ReturnType<typeof scaleByLearningRate>;

  constructor(
    readonly model: Module,
    readonly x: Tensor,
    readonly labels: Int32Array,
    learningRate: number,
  ) {
    this.parameters = model.parameters();
    this.updates = this.parameters.map((t) => new Float32Array(t.size));
    this.scale = scaleByLearningRate(learningRate);
  }

  step(probe?: StepProbe): number {
    this.arena.reset();
    const loss = withArena(this.arena, () => {
      this.model.zeroGrad();
      const lossTensor = crossEntropy(this.model.forward(this.x), this.labels);
      const value = lossTensor.item();
      probe?.();
      backward(lossTensor);
      const grads = this.parameters.map((t) => t.gradBuffer());
      if (!Number.isFinite(globalNorm(grads))) return NaN;
      this.updates.forEach((u, i) => u.set(grads[i] as Buffer));
      const values = this.parameters.map((t) => t.data);
      this.scale.update(this.updates, {}, { step: 1, params: values, info: [], loss: value });
      applyUpdates(values, this.updates);
      return value;
    });
    probe?.();
    if (!Number.isFinite(loss))
      throw new Error(`benchmark step went non-finite (loss ${loss}); the timings would mean nothing.`);
    return loss;
  }

  async graphBytes(): Promise<number | null> {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) return null;
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    this.model.zeroGrad();
    await settle();
    const before = process.memoryUsage().arrayBuffers;
    const lossTensor = crossEntropy(this.model.forward(this.x), this.labels);
    await settle();
    const after = process.memoryUsage().arrayBuffers;
    backward(lossTensor);
    return after - before;
  }
}

function labelsFor(count: number, classes: number, rng: Rng): Int32Array {
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(classes);
  return labels;
}

/** W5: the conv net on a fixed batch: images x ~ N(0, 1) [batch, C, size, size], uniform labels; He init. */
export function convTraining(shape: ConvShape, seed: number): ModelTraining {
  const rng = new Rng(seed);
  const model = new ConvNet({
    image: { channels: shape.inChannels, height: shape.size, width: shape.size },
    outputSize: shape.classes,
    channels: shape.channels,
    kernel: 3,
    stride: 1,
    pool: 'none',
    poolEvery: 1,
    activation: 'relu',
    norm: 'none',
    head: [],
    weightInit: () => heNormal(),
    biasInit: zeros(),
    rng: rng.fork('model'),
  });
  const data = rng.fork('data');
  const x = Tensor.randn([shape.batch, shape.inChannels, shape.size, shape.size], data);
  return new ModelTraining(model, x, labelsFor(shape.batch, shape.classes, data), shape.learningRate);
}

/** W6: the Transformer on a fixed batch: x ~ N(0, 1) time-major [seq, batch, input], uniform labels; Xavier init. */
export function transformerTraining(shape: TransformerShape, seed: number): ModelTraining {
  const rng = new Rng(seed);
  const model = new Transformer({
    input: 'features',
    inputSize: shape.input,
    outputSize: shape.classes,
    maxLength: shape.seq,
    scored: 'last',
    causal: false,
    layers: shape.layers,
    dModel: shape.dModel,
    heads: shape.heads,
    ffWidth: shape.ffWidth,
    activation: 'gelu',
    norm: 'pre',
    positions: 'sinusoidal',
    weightInit: () => xavierUniform(),
    biasInit: zeros(),
    rng: rng.fork('model'),
  });
  const data = rng.fork('data');
  const x = Tensor.randn([shape.seq, shape.batch, shape.input], data);
  return new ModelTraining(model, x, labelsFor(shape.batch, shape.classes, data), shape.learningRate);
}

/** W1: the MLP of issue 5 on a fixed batch. */
export function mlpTraining(shape: MlpShape, seed: number): BenchTraining {
  const config = mlpConfig(shape, seed);
  const rng = new Rng(seed);
  const batch = mlpBatch(shape, rng.fork('data'));
  const task = new FixedBatchTask('bench-w1', 'cross-entropy', shape.input, shape.classes, null, batch);
  return new BenchTraining(task, batch, config);
}

/** W2: the LSTM of issue 5 on a fixed batch, full BPTT. */
export function lstmTraining(shape: LstmShape, seed: number): BenchTraining {
  const config = lstmConfig(shape, seed);
  const rng = new Rng(seed);
  const batch = lstmBatch(shape, rng.fork('data'));
  const task = new FixedBatchTask(
    'bench-w2',
    'mse',
    shape.input,
    shape.output,
    { length: shape.steps, scored: 'last' },
    batch,
  );
  return new BenchTraining(task, batch, config);
}

/**
 * What full BPTT must keep for W2, in float32 values: per time step the four gate activations and the new cell and
 * hidden states (6 B H), the input sequence (T B I), and the parameters (4H (I + H) + 8H for the LSTM, H O + O for
 * the head). Everything else (pre-activations, tanh(c), copies) can be recomputed or dropped.
 */
export function lstmKeptValues(shape: LstmShape): { activations: number; parameters: number } {
  const { input: I, hidden: H, steps: T, batch: B, output: O } = shape;
  return { activations: T * B * 6 * H + T * B * I, parameters: 4 * H * (I + H) + 8 * H + H * O + O };
}
