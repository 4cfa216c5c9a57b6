import type { Rng } from './rng.js';

export type DType = 'float32' | 'float64';
export type Buffer = Float32Array | Float64Array;
export type Shape = readonly number[];

/** Called with a tensor's gradient once it is complete, during the backward pass that produced it. */
export type GradHook = (grad: Buffer, tensor: Tensor) => void;

/**
 * An n-dimensional array in row-major order with an optional autograd node.
 * `parents` and `backwardFn` form the graph: `backwardFn` reads `this.grad` and accumulates (+=) into the
 * parents' gradients, as in micrograd. Ops live in `src/ops` as free functions, each backward beside its forward.
 *
 * @example
 * const w = Tensor.randn([3, 2], rng, { requiresGrad: true, name: 'w' });
 */
export class Tensor {
  readonly shape: Shape;
  readonly size: number;
  readonly dtype: DType;
  data: Buffer;
  grad: Buffer | null = null;
  requiresGrad: boolean;
  name: string;
  parents: readonly Tensor[] = [];
  backwardFn: (() => void) | null = null;
  /** Name of the op that produced this tensor; the non-finite guard reports it. */
  op: string;
  hooks: GradHook[] | null = null;

  constructor(
    data: Buffer,
    shape: Shape,
    options: { requiresGrad?: boolean; name?: string; op?: string } = {},
  ) {
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new RangeError(
        `Tensor data has ${data.length} elements but shape [${shape.join(', ')}] needs ${size}; reshape the data or fix the shape.`,
      );
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.size = size;
    this.dtype = data instanceof Float64Array ? 'float64' : 'float32';
    this.requiresGrad = options.requiresGrad ?? false;
    this.name = options.name ?? '';
    this.op = options.op ?? 'leaf';
  }

  static zeros(
    shape: Shape,
    dtype: DType = 'float32',
    options: { requiresGrad?: boolean; name?: string } = {},
  ): Tensor {
    return new Tensor(allocBuffer(shapeSize(shape), dtype), shape, options);
  }

  static full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
    const t = Tensor.zeros(shape, dtype);
    t.data.fill(value);
    return t;
  }

  static ones(shape: Shape, dtype: DType = 'float32'): Tensor {
    return Tensor.full(shape, 1, dtype);
  }

  static scalar(value: number, dtype: DType = 'float32'): Tensor {
    return Tensor.full([], value, dtype);
  }

  /** From nested arrays or a flat array with a shape. */
  static from(values: ArrayLike<number> | NestedArray, shape?: Shape, dtype: DType = 'float32'): Tensor {
    if (shape === undefined) {
      const inferred = inferShape(values as NestedArray);
      const flat = (values as NestedArray[]).flat(Infinity as 1) as unknown as number[];
      return new Tensor(toBuffer(flat, dtype), inferred);
    }
    return new Tensor(toBuffer(values as ArrayLike<number>, dtype), shape);
  }

  static randn(
    shape: Shape,
    rng: Rng,
    options: { std?: number; dtype?: DType; requiresGrad?: boolean; name?: string } = {},
  ): Tensor {
    const t = Tensor.zeros(shape, options.dtype ?? 'float32', options);
    rng.fillNormal(t.data, 0, options.std ?? 1);
    return t;
  }

  static rand(
    shape: Shape,
    rng: Rng,
    options: { low?: number; high?: number; dtype?: DType; requiresGrad?: boolean; name?: string } = {},
  ): Tensor {
    const t = Tensor.zeros(shape, options.dtype ?? 'float32', options);
    rng.fillUniform(t.data, options.low ?? 0, options.high ?? 1);
    return t;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1)
      throw new RangeError(`item() needs a one-element tensor, got shape [${this.shape.join(', ')}].`);
    return this.data[0] as number;
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** Observe this tensor's gradient during backward (monitoring; never changes it). Returns an unsubscribe. */
  onGrad(hook: GradHook): () => void {
    (this.hooks ??= []).push(hook);
    return () => {
      const list = this.hooks;
      if (list) list.splice(list.indexOf(hook), 1);
    };
  }

  /** A copy of the data with no graph. */
  detach(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** The gradient buffer, allocated (zeros) on first use. */
  gradBuffer(): Buffer {
    // A leaf's gradient (a parameter's) lives across steps; an intermediate's only within one backward pass.
    return (this.grad ??=
      this.parents.length === 0
        ? allocPersistent(this.size, this.dtype)
        : allocBuffer(this.size, this.dtype));
  }

  zeroGrad(): void {
    if (this.grad) this.grad.fill(0);
  }

  toString(): string {
    return `Tensor(${this.name || this.op}, [${this.shape.join(', ')}], ${this.dtype})`;
  }
}

export type NestedArray = number | NestedArray[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new RangeError(
        `Invalid dimension ${d} in shape [${shape.join(', ')}]; dimensions are non-negative integers.`,
      );
    n *= d;
  }
  return n;
}

/**
 * Recycles the buffers of one training step for the next, so the steady state of a loop allocates nothing.
 * While an arena is active (`withArena`), every op output and intermediate gradient comes from it; `reset()` at
 * the start of the next step hands them all back. Parameters, their gradients and anything made outside the
 * arena are never recycled. Reused buffers are zeroed, as fresh ones are.
 */
export class BufferArena {
  private readonly free = new Map<string, Buffer[]>();
  private used: Buffer[] = [];
  allocated = 0;
  reused = 0;

  take(size: number, dtype: DType): Buffer {
    const list = this.free.get(`${dtype}:${size}`);
    const recycled = list?.pop();
    let buffer: Buffer;
    if (recycled) {
      recycled.fill(0);
      buffer = recycled;
      this.reused++;
    } else {
      buffer = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
      this.allocated++;
    }
    this.used.push(buffer);
    return buffer;
  }

  /** Every buffer handed out since the last reset becomes reusable: call only when none of them is still read. */
  reset(): void {
    for (const b of this.used) {
      const key = `${b instanceof Float64Array ? 'float64' : 'float32'}:${b.length}`;
      let list = this.free.get(key);
      if (!list) this.free.set(key, (list = []));
      list.push(b);
    }
    this.used = [];
  }
}

let activeArena: BufferArena | null = null;

/** Run `fn` with op buffers drawn from `arena` (see `BufferArena`). */
export function withArena<T>(arena: BufferArena, fn: () => T): T {
  const previous = activeArena;
  activeArena = arena;
  try {
    return fn();
  } finally {
    activeArena = previous;
  }
}

export function allocBuffer(size: number, dtype: DType): Buffer {
  if (activeArena) return activeArena.take(size, dtype);
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
}

/** A buffer that outlives any arena (parameters, gradients of leaves, optimiser state). */
export function allocPersistent(size: number, dtype: DType): Buffer {
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
}

function toBuffer(values: ArrayLike<number>, dtype: DType): Buffer {
  return dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}

function inferShape(values: NestedArray): number[] {
  const shape: number[] = [];
  let v: NestedArray = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0] as NestedArray;
  }
  return shape;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
