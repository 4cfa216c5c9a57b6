/**
 * Modules: named parameters in dotted paths (`layers.2.weight`) ordered from the input side to the output side,
 * train/eval mode, and the facts each layer declares about itself so the initialisers, the monitor and the doctor
 * never need to ask "is this an LSTM?".
 */
import type { ActivationFamily, ActivationName } from '../kernels/activations.js';
import type { ParamInfo } from '../optim/types.js';
import type { Tensor } from '../tensor/tensor.js';

export type ParamRole = ParamInfo['role'];

/** What a layer says about itself. */
export interface LayerFacts {
  /** 'dense' | 'rnn' | 'lstm' | 'gru' | ... */
  kind: string;
  fanIn: number;
  fanOut: number;
  activation: ActivationName;
  family: ActivationFamily;
  norm: 'none' | 'batch' | 'layer';
  residual: boolean;
  /** Recurrent layers: the time axis is the first axis of their input. */
  recurrent: boolean;
}

export interface NamedParameter {
  name: string;
  tensor: Tensor;
  role: ParamRole;
}

/** Receives each observed layer's output during forward (read-only monitoring). */
export type OutputObserver = (output: Tensor) => void;

export abstract class Module {
  training = true;
  /** Set by a monitor; a layer calls `observe` with its output. */
  observer: OutputObserver | null = null;
  private readonly ownParameters: Array<[string, Tensor, ParamRole]> = [];
  private readonly childModules: Array<[string, Module]> = [];

  abstract forward(x: Tensor): Tensor;

  /** The layer's facts, or null for containers and parameter-free helpers. */
  facts(): LayerFacts | null {
    return null;
  }

  protected registerParameter(name: string, tensor: Tensor, role: ParamRole): Tensor {
    tensor.requiresGrad = true;
    this.ownParameters.push([name, tensor, role]);
    return tensor;
  }

  /** Register a child; an empty name makes the child transparent (its parameters keep the parent's prefix). */
  protected registerModule<M extends Module>(name: string, module: M): M {
    this.childModules.push([name, module]);
    return module;
  }

  children(): ReadonlyArray<readonly [string, Module]> {
    return this.childModules;
  }

  /** Parameters in registration order (own first, then children), named by dotted path. */
  namedParameters(prefix = ''): NamedParameter[] {
    const join = (name: string): string => (prefix && name ? `${prefix}.${name}` : prefix || name);
    const out: NamedParameter[] = [];
    for (const [name, tensor, role] of this.ownParameters) {
      const full = join(name);
      tensor.name = full;
      out.push({ name: full, tensor, role });
    }
    for (const [name, child] of this.childModules) out.push(...child.namedParameters(join(name)));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map((p) => p.tensor);
  }

  /** Switch training mode (dropout, batch statistics) for this module and every child. */
  setTraining(training: boolean): this {
    this.training = training;
    for (const [, child] of this.childModules) child.setTraining(training);
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  protected observe(output: Tensor): void {
    if (this.observer) this.observer(output);
  }
}

/** Children applied in order. @example new Sequential([new Dense(2, 8, opts), new Dense(8, 2, opts)]) */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(layers: readonly Module[]) {
    super();
    this.layers = layers;
    layers.forEach((layer, i) => this.registerModule(String(i), layer));
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.layers) h = layer.forward(h);
    return h;
  }
}
