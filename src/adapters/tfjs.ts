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
 */
import { diagnose, diagnoseOnline, type Diagnosis } from '../doctor/diagnosis.js';
import { briefFindings } from '../doctor/findings.js';
import type { MetricsRecord, ParamRecord } from '../io/runlog.js';
import { paramStats } from '../monitor/stats.js';

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
  record(step: number, loss: number, grads: Readonly<Record<string, TfTensorLike>>): MetricsRecord {
    const weights = new Map<string, Float32Array>();
    for (const layer of this.model.layers)
      for (const w of layer.trainableWeights) weights.set(w.name, values(w));
    const params: ParamRecord[] = [];
    let sumSquares = 0;
    for (const name of this.order) {
      const value = weights.get(name) as Float32Array;
      const g = grads[name];
      const grad = g ? Float32Array.from(g.dataSync()) : null;
      const before = this.previous?.weights.get(name);
      let update: Float32Array | null = null;
      if (before && this.previous && before.length === value.length) {
        // The average update per step since the last record.
        const steps = Math.max(1, step - this.previous.step);
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
      lr: NaN,
      gradNorm,
      gradNormClipped: gradNorm,
      clipped: false,
      skipped: false,
      params,
      activations: [],
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
}
