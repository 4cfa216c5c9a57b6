/**
 * Crafted metrics records for the doctor's tests: shaped like what the trainer writes (weights and biases per
 * layer, activations per hidden layer, a time-gradient profile for recurrent models), with only the numbers a
 * test cares about given.
 *
 * @example
 * const r = craftRecord({ step: 1, layers: [{ grad: 1e-9 }, { grad: 1e-3 }, { grad: 0.5 }] });
 */
import type { MetricsRecord } from '../io/runlog.js';

export interface CraftedLayer {
  /** Weight-matrix gradient norm. */
  grad: number;
  weight?: number;
  /** Update/weight ratio of the weight matrix (default 1e-3, a healthy value). */
  update?: number;
  /** Largest |g| entry (default grad / 10). */
  maxAbs?: number;
  nonFinite?: number;
}

export interface CraftedActivation {
  std?: number;
  saturated?: number;
  dead?: number;
}

export interface CraftedRecord {
  step: number;
  loss?: number;
  gradNorm?: number;
  clipped?: boolean;
  skipped?: boolean;
  layers: CraftedLayer[];
  /** One per hidden layer (the output layer gets none, as in the trainer's records of an MLP). */
  activations?: CraftedActivation[];
  timeGrad?: number[];
  nonFiniteSource?: string;
}

/** A metrics record with `layers.<i>.weight` and `layers.<i>.bias` per layer; biases always report update ratio 1. */
export function craftRecord(spec: CraftedRecord): MetricsRecord {
  const params = spec.layers.flatMap((l, i) => [
    {
      name: `layers.${i}.weight`,
      layer: i,
      gradNorm: l.grad,
      weightNorm: l.weight ?? 8,
      updateRatio: l.update ?? 1e-3,
      maxAbsGrad: l.maxAbs ?? l.grad / 10,
      nonFinite: l.nonFinite ?? 0,
    },
    // A zero-initialised bias after its first step: update/weight ratio 1 whatever the gradient. Rules must ignore it.
    {
      name: `layers.${i}.bias`,
      layer: i,
      gradNorm: l.grad / 10,
      weightNorm: 0.01,
      updateRatio: 1,
      maxAbsGrad: l.grad / 10,
      nonFinite: 0,
    },
  ]);
  const gradNorm = spec.gradNorm ?? Math.sqrt(spec.layers.reduce((s, l) => s + l.grad * l.grad, 0));
  return {
    step: spec.step,
    // A healthy crafted run learns: its loss falls with the step unless the test sets it.
    loss: spec.loss ?? (0.5 * 50) / (49 + spec.step),
    lr: 0.01,
    gradNorm,
    gradNormClipped: spec.clipped ? 1 : gradNorm,
    clipped: spec.clipped ?? false,
    skipped: spec.skipped ?? false,
    params,
    activations: (spec.activations ?? []).map((a, i) => ({
      name: `layers.${i}`,
      layer: i,
      mean: 0,
      std: a.std ?? 0.5,
      saturated: a.saturated ?? 0,
      dead: a.dead ?? 0,
    })),
    ...(spec.timeGrad ? { timeGrad: spec.timeGrad } : {}),
    findings: [],
    ...(spec.nonFiniteSource ? { nonFiniteSource: spec.nonFiniteSource } : {}),
  };
}

/** `count` records logged every `every` steps from step 1, each built by `make(step, index)`. */
export function craftRun(
  count: number,
  every: number,
  make: (step: number, index: number) => Omit<CraftedRecord, 'step'>,
): MetricsRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const step = i === 0 ? 1 : i * every;
    return craftRecord({ step, ...make(step, i) });
  });
}

/** A healthy 5-layer MLP record: gradients within 3x across layers, updates ~1e-3, signal steady. */
export function healthyLayers(): CraftedLayer[] {
  return [{ grad: 0.1 }, { grad: 0.2 }, { grad: 0.15 }, { grad: 0.3 }, { grad: 0.25 }];
}

/** ||dL/dh_t|| for t = 1..T decaying (factor < 1) or growing (factor > 1) going back from t = T. */
export function timeProfile(length: number, factorPerStep: number, last = 0.2): number[] {
  return Array.from({ length }, (_, i) => last * factorPerStep ** (length - 1 - i));
}
