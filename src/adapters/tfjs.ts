/**
 * The TensorFlow.js adapter: gradscope's monitor and doctor for a tfjs model. gradscope does not depend on tfjs;
 * the adapter reads a model and its gradients through the few members it needs (structural types below), so it
 * works with whatever `@tensorflow/tfjs` version the user has.
 *
 * @example
 * const monitor = new TfjsMonitor(model);
 * for (let step = 1; step <= 500; step++) {
 *   const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.predict(x)));
 *   if (monitor.shouldRecord(step)) monitor.record(step, value.dataSync()[0], grads);
 *   optimizer.applyGradients(grads);
 * }
 * const { verdict, findings } = monitor.diagnose();
 *
 * // or, with model.fit / fitDataset (tfjs callbacks never see gradients, so the optimiser's applyGradients is
 * // wrapped; the training itself is unchanged):
 * const watcher = watchFit(model, { every: 10 });
 * await model.fit(x, y, { epochs: 5, batchSize: 32 });
 * watcher.stop();
 * watcher.diagnose().verdict;
 */
import { diagnose, diagnoseOnline, type Diagnosis } from '../doctor/diagnosis.js';
import { briefFindings } from '../doctor/findings.js';
import type { ActivationRecord, MetricsRecord, ParamRecord } from '../io/runlog.js';
import type { ActivationName } from '../kernels/activations.js';
import { activationStats, paramStats } from '../monitor/stats.js';

/** A tfjs tensor as far as the adapter reads it. */
export interface TfTensorLike {
  readonly shape: readonly number[];
  dataSync(): ArrayLike<number>;
}

/** A tfjs weight variable (LayerVariable or Variable). */
export interface TfVariableLike {
  readonly name: string;
  read?(): TfTensorLike;
  dataSync?(): ArrayLike<number>;
}

/** A tfjs layers model: its layers in order from the input side, each with its trainable weights. */
export interface TfModelLike {
  readonly layers: ReadonlyArray<{
    readonly name: string;
    readonly trainableWeights: readonly TfVariableLike[];
  }>;
}

/** What a step adds to a record beyond the loss and the gradients (the fit watcher measures these). */
export interface RecordExtras {
  /** The weights just before the optimiser's update: the update is then measured exactly (now minus before). */
  weightsBefore?: ReadonlyMap<string, Float32Array>;
  /** Per-layer activation statistics of the step's forward pass. */
  activations?: ActivationRecord[];
  /** The learning rate of the step. */
  lr?: number;
}

export interface TfjsMonitorOptions {
  /** Log period in steps, as `monitor.every` in a gradscope config (default 10). */
  every?: number;
}

function values(v: TfVariableLike): Float32Array {
  const data = v.read ? v.read().dataSync() : v.dataSync ? v.dataSync() : null;
  if (!data)
    throw new TypeError(`weight ${v.name} exposes neither read() nor dataSync(); pass a tfjs LayersModel.`);
  return Float32Array.from(data);
}

/**
 * Records gradient health for a tfjs model in gradscope's `MetricsRecord` form (so `gradscope doctor`, the reports
 * and the lab can read it) and diagnoses it with gradscope's doctor. Per parameter: gradient norm, weight norm,
 * non-finite count and the update/weight ratio, measured from the weights' change since the last record divided
 * by the steps in between (so it works with any tfjs optimiser).
 */
export class TfjsMonitor {
  readonly every: number;
  readonly records: MetricsRecord[] = [];
  private readonly owners = new Map<string, number>();
  private readonly order: string[] = [];
  private previous: { step: number; weights: Map<string, Float32Array> } | null = null;

  constructor(
    private readonly model: TfModelLike,
    options: TfjsMonitorOptions = {},
  ) {
    this.every = options.every ?? 10;
    if (!Number.isInteger(this.every) || this.every < 1) {
      throw new RangeError(`TfjsMonitor every must be an integer >= 1, got ${options.every}; try 10.`);
    }
    model.layers.forEach((layer, index) => {
      for (const w of layer.trainableWeights) {
        this.owners.set(w.name, index);
        this.order.push(w.name);
      }
    });
    if (this.order.length === 0)
      throw new RangeError('the model has no trainable weights to monitor; build or compile it first.');
  }

  /** Whether `step` (1-based) is a logged step: the first and every `every`-th. */
  shouldRecord(step: number): boolean {
    return step === 1 || step % this.every === 0;
  }

  /**
   * Record one step from the loss and the gradients `tf.variableGrads` returned (keyed by variable name).
   * Call it before the optimiser applies the gradients. Returns the record, findings included.
   */
  record(
    step: number,
    loss: number,
    grads: Readonly<Record<string, TfTensorLike>>,
    extras: RecordExtras = {},
  ): MetricsRecord {
    const weights = this.readWeights();
    const params: ParamRecord[] = [];
    let sumSquares = 0;
    for (const name of this.order) {
      const value = weights.get(name) as Float32Array;
      const g = grads[name];
      const grad = g ? Float32Array.from(g.dataSync()) : null;
      const exact = extras.weightsBefore?.get(name);
      const before = exact ?? this.previous?.weights.get(name);
      let update: Float32Array | null = null;
      if (before && (exact || this.previous) && before.length === value.length) {
        // This step's update when the weights before it are known, else the average per step since the last record.
        const steps = exact ? 1 : Math.max(1, step - (this.previous as { step: number }).step);
        update = new Float32Array(value.length);
        for (let i = 0; i < value.length; i++)
          update[i] = ((value[i] as number) - (before[i] as number)) / steps;
      }
      const s = paramStats(value, grad, update);
      sumSquares += s.gradNorm * s.gradNorm;
      params.push({
        name,
        layer: this.owners.get(name) ?? 0,
        role: /bias/i.test(name) ? 'bias' : 'weight',
        ...s,
      });
    }
    const gradNorm = Math.sqrt(sumSquares);
    const record: MetricsRecord = {
      step,
      loss,
      lr: extras.lr ?? NaN,
      gradNorm,
      gradNormClipped: gradNorm,
      clipped: false,
      skipped: false,
      params,
      activations: extras.activations ?? [],
      findings: [],
    };
    this.records.push(record);
    record.findings = briefFindings(diagnoseOnline(this.records, null));
    this.previous = { step, weights };
    return record;
  }

  /** The doctor's verdict and findings over everything recorded (no config: causes and fixes speak generally). */
  diagnose(): Diagnosis {
    return diagnose({ records: this.records, config: null });
  }

  /** Every trainable weight's values now, by name. */
  readWeights(): Map<string, Float32Array> {
    const weights = new Map<string, Float32Array>();
    for (const layer of this.model.layers)
      for (const w of layer.trainableWeights) weights.set(w.name, values(w));
    return weights;
  }
}

// ---------------------------------------------------------------------------------------------------------
// model.fit / fitDataset

/** Gradients as tfjs optimisers take them: a map by variable name, or `{ name, tensor }` pairs (what fit passes). */
export type TfGradients =
  Readonly<Record<string, TfTensorLike>> | ReadonlyArray<{ name: string; tensor: TfTensorLike }>;

/** A tfjs optimiser as far as the watcher wraps it. */
export interface TfOptimizerLike {
  applyGradients(grads: TfGradients): void;
  computeGradients(f: () => unknown, varList?: unknown): { value: TfTensorLike | null; grads: unknown };
  learningRate?: number;
}

/** A tfjs layer as the watcher reads its forward pass. */
export interface TfLayerLike {
  readonly name: string;
  readonly trainableWeights: readonly TfVariableLike[];
  apply(inputs: unknown, kwargs?: Record<string, unknown>): unknown;
  getConfig?(): Record<string, unknown>;
  getClassName?(): string;
}

/** A compiled tfjs LayersModel (`model.compile` sets its optimizer). */
export interface TfFitModelLike extends TfModelLike {
  readonly layers: readonly TfLayerLike[];
  readonly optimizer: TfOptimizerLike | null | undefined;
}

export interface WatchFitOptions extends TfjsMonitorOptions {
  /** Called with each record as it is made (to write metrics.jsonl as training goes, or to plot it). */
  onRecord?: (record: MetricsRecord) => void;
  /** Per-layer activation statistics on logged steps (default true): one host copy of each layer's output. */
  activations?: boolean;
}

/** tfjs activation names in gradscope's terms, for the saturated/dead predicates (others: mean and std only). */
const TFJS_ACTIVATIONS: { readonly [name: string]: ActivationName } = {
  relu: 'relu',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
  elu: 'elu',
  selu: 'selu',
  gelu: 'gelu',
  linear: 'linear',
  LeakyReLU: 'leaky-relu',
  PReLU: 'prelu',
  ReLU: 'relu',
  ELU: 'elu',
};

function layerActivation(layer: TfLayerLike): ActivationName {
  const className = layer.getClassName?.() ?? '';
  if (Object.hasOwn(TFJS_ACTIVATIONS, className)) return TFJS_ACTIVATIONS[className] as ActivationName;
  const configured = layer.getConfig?.()['activation'];
  return typeof configured === 'string' && Object.hasOwn(TFJS_ACTIVATIONS, configured)
    ? (TFJS_ACTIVATIONS[configured] as ActivationName)
    : 'linear';
}

function firstTensor(value: unknown): TfTensorLike | null {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'object' && v !== null && 'dataSync' in v && 'shape' in v ? (v as TfTensorLike) : null;
}

function namedGradients(grads: TfGradients): Record<string, TfTensorLike> {
  if (!Array.isArray(grads)) return grads as Record<string, TfTensorLike>;
  const out: Record<string, TfTensorLike> = {};
  for (const { name, tensor } of grads as ReadonlyArray<{ name: string; tensor: TfTensorLike }>)
    out[name] = tensor;
  return out;
}

/**
 * Watches `model.fit` / `model.fitDataset` of a compiled tfjs LayersModel: the optimiser's `applyGradients` is
 * wrapped to read each logged step's gradients and the weights before and after the update, `computeGradients`
 * to read the loss, and each layer's `apply` (during training forwards of logged steps only) for its output's
 * statistics. Every optimiser step is one step; step 1 holds the gradients at initialisation. The wrappers only
 * read: the training is bit-identical to an unwatched one. `stop()` removes them.
 */
export class TfjsFitWatcher {
  readonly monitor: TfjsMonitor;
  private step = 0;
  private loss: TfTensorLike | null = null;
  private activations: ActivationRecord[] = [];
  private readonly seen = new Set<string>();
  private readonly undo: Array<() => void> = [];

  constructor(
    model: TfFitModelLike,
    private readonly options: WatchFitOptions = {},
  ) {
    const optimizer = model.optimizer;
    if (!optimizer || typeof optimizer.applyGradients !== 'function')
      throw new TypeError('watchFit needs a compiled model: call model.compile({ optimizer, loss }) first.');
    this.monitor = new TfjsMonitor(model, options);
    this.wrap(optimizer, 'computeGradients', (original) => (f, varList) => {
      const result = original.call(optimizer, f, varList);
      this.loss = result.value;
      return result;
    });
    this.wrap(optimizer, 'applyGradients', (original) => (grads) => {
      const step = this.step + 1;
      if (!this.monitor.shouldRecord(step)) {
        original.call(optimizer, grads);
        this.step = step;
        return;
      }
      const before = this.monitor.readWeights();
      original.call(optimizer, grads);
      const loss = this.loss ? (this.loss.dataSync()[0] ?? NaN) : NaN;
      const record = this.monitor.record(step, loss, namedGradients(grads), {
        weightsBefore: before,
        activations: this.activations,
        ...(typeof optimizer.learningRate === 'number' ? { lr: optimizer.learningRate } : {}),
      });
      this.activations = [];
      this.seen.clear();
      this.step = step;
      this.options.onRecord?.(record);
    });
    if (options.activations !== false) {
      model.layers.forEach((layer, index) => {
        const activation = layerActivation(layer);
        this.wrap(layer, 'apply', (original) => (inputs, kwargs) => {
          const output = original.call(layer, inputs, kwargs);
          if (
            kwargs?.['training'] === true &&
            this.monitor.shouldRecord(this.step + 1) &&
            !this.seen.has(layer.name)
          ) {
            const y = firstTensor(output);
            if (y && y.shape.length >= 1) {
              this.seen.add(layer.name);
              const data = y.dataSync();
              const buffer = data instanceof Float32Array ? data : Float32Array.from(data);
              const stats = activationStats(buffer, y.shape[y.shape.length - 1] ?? 1, activation);
              this.activations.push({
                name: layer.name,
                layer: index,
                mean: stats.mean,
                std: stats.std,
                saturated: stats.saturated,
                dead: stats.dead,
              });
            }
          }
          return output;
        });
      });
    }
  }

  /** Replace `target[key]` by a wrapper of it (on the instance), and remember how to put the original back. */
  private wrap<T extends object, K extends keyof T>(target: T, key: K, make: (original: T[K]) => T[K]): void {
    const own = Object.hasOwn(target, key);
    const original = target[key];
    target[key] = make(original);
    this.undo.push(() => {
      if (own) target[key] = original;
      else delete target[key];
    });
  }

  get records(): readonly MetricsRecord[] {
    return this.monitor.records;
  }

  /** Removes every wrapper; the model and optimiser are as they were. */
  stop(): void {
    while (this.undo.length > 0) (this.undo.pop() as () => void)();
  }

  diagnose(): Diagnosis {
    return this.monitor.diagnose();
  }
}

/**
 * Start watching a compiled tfjs model's `fit` / `fitDataset` (see `TfjsFitWatcher`).
 *
 * @example
 * const watcher = watchFit(model, { every: 10 });
 * await model.fit(x, y, { epochs: 20 });
 * watcher.stop();
 * console.log(watcher.diagnose().verdict);
 */
export function watchFit(model: TfFitModelLike, options: WatchFitOptions = {}): TfjsFitWatcher {
  return new TfjsFitWatcher(model, options);
}
