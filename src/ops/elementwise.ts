/**
 * Element-wise arithmetic with broadcasting and the unary maths ops. Each backward sits beside its forward and
 * accumulates into the inputs' gradients; a broadcast input's gradient is summed over the broadcast axes.
 */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { allocBuffer, formatShape, Tensor, type Buffer } from '../tensor/tensor.js';
import { broadcastShapes, mapIndex, planBroadcast, type BroadcastPlan } from './broadcast.js';

type Operand = Tensor | number;

function asTensor(value: Operand, like: Tensor): Tensor {
  return typeof value === 'number' ? Tensor.full([], value, like.dtype) : value;
}

function checkDtypes(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new TypeError(
      `${op}: dtypes differ (${a.dtype} ${formatShape(a.shape)} vs ${b.dtype} ${formatShape(b.shape)}); convert one with toDtype().`,
    );
  }
}

/** Accumulate `g` (output-shaped) into `target` (input-shaped) through a broadcast plan, scaled per element by `scale`. */
function reduceInto(
  target: Buffer,
  g: Buffer,
  plan: BroadcastPlan,
  scale: ((i: number) => number) | null,
): void {
  const n = g.length;
  if (plan.kind === 'same') {
    if (scale) for (let i = 0; i < n; i++) target[i] = (target[i] as number) + (g[i] as number) * scale(i);
    else for (let i = 0; i < n; i++) target[i] = (target[i] as number) + (g[i] as number);
    return;
  }
  for (let i = 0; i < n; i++) {
    const j = mapIndex(plan, i);
    target[j] = (target[j] as number) + (g[i] as number) * (scale ? scale(i) : 1);
  }
}

type BinaryKind = 'add' | 'sub' | 'mul' | 'div';

function binary(kind: BinaryKind, aIn: Operand, bIn: Operand): Tensor {
  const a = typeof aIn === 'number' ? asTensor(aIn, bIn as Tensor) : aIn;
  const b = asTensor(bIn, a);
  checkDtypes(kind, a, b);
  const shape = broadcastShapes(a.shape, b.shape);
  const pa = planBroadcast(shape, a.shape);
  const pb = planBroadcast(shape, b.shape);
  const ad = a.data;
  const bd = b.data;
  const n = shape.reduce((x, y) => x * y, 1);
  const out = allocBuffer(n, a.dtype);
  if (pa.kind === 'same' && pb.kind === 'same') {
    if (kind === 'add') for (let i = 0; i < n; i++) out[i] = (ad[i] as number) + (bd[i] as number);
    else if (kind === 'sub') for (let i = 0; i < n; i++) out[i] = (ad[i] as number) - (bd[i] as number);
    else if (kind === 'mul') for (let i = 0; i < n; i++) out[i] = (ad[i] as number) * (bd[i] as number);
    else for (let i = 0; i < n; i++) out[i] = (ad[i] as number) / (bd[i] as number);
  } else {
    for (let i = 0; i < n; i++) {
      const x = ad[mapIndex(pa, i)] as number;
      const y = bd[mapIndex(pb, i)] as number;
      out[i] = kind === 'add' ? x + y : kind === 'sub' ? x - y : kind === 'mul' ? x * y : x / y;
    }
  }
  return makeResult(kind, out, shape, [a, b], (result) => {
    const g = result.grad as Buffer;
    const ga = gradTarget(a);
    const gb = gradTarget(b);
    const av = (i: number): number => ad[mapIndex(pa, i)] as number;
    const bv = (i: number): number => bd[mapIndex(pb, i)] as number;
    switch (kind) {
      case 'add':
        if (ga) reduceInto(ga, g, pa, null);
        if (gb) reduceInto(gb, g, pb, null);
        break;
      case 'sub':
        if (ga) reduceInto(ga, g, pa, null);
        if (gb) reduceInto(gb, g, pb, () => -1);
        break;
      case 'mul':
        if (ga) reduceInto(ga, g, pa, bv);
        if (gb) reduceInto(gb, g, pb, av);
        break;
      case 'div':
        if (ga) reduceInto(ga, g, pa, (i) => 1 / bv(i));
        if (gb) reduceInto(gb, g, pb, (i) => -av(i) / (bv(i) * bv(i)));
        break;
    }
  });
}

/** a + b with broadcasting. @example add(x, bias) */
export const add = (a: Operand, b: Operand): Tensor => binary('add', a, b);
/** a - b with broadcasting. */
export const sub = (a: Operand, b: Operand): Tensor => binary('sub', a, b);
/** a * b with broadcasting. */
export const mul = (a: Operand, b: Operand): Tensor => binary('mul', a, b);
/** a / b with broadcasting. */
export const div = (a: Operand, b: Operand): Tensor => binary('div', a, b);
/** -a, derived: no backward of its own. */
export const neg = (a: Tensor): Tensor => mul(a, -1);

/**
 * A unary op from its value and its derivative written in terms of the input x and the output y.
 * Each caller below is one line: the forward and the backward side by side.
 */
function unary(
  op: string,
  x: Tensor,
  f: (v: number) => number,
  df: (v: number, y: number) => number,
): Tensor {
  const n = x.size;
  const xd = x.data;
  const out = allocBuffer(n, x.dtype);
  for (let i = 0; i < n; i++) out[i] = f(xd[i] as number);
  return makeResult(op, out, x.shape, [x], (result) => {
    const g = result.grad as Buffer;
    const gx = gradTarget(x);
    if (!gx) return;
    for (let i = 0; i < n; i++)
      gx[i] = (gx[i] as number) + (g[i] as number) * df(xd[i] as number, out[i] as number);
  });
}

export const exp = (x: Tensor): Tensor => unary('exp', x, Math.exp, (_v, y) => y);
export const log = (x: Tensor): Tensor => unary('log', x, Math.log, (v) => 1 / v);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x, Math.sqrt, (_v, y) => 0.5 / y);
export const abs = (x: Tensor): Tensor =>
  unary('abs', x, Math.abs, (v) => (v > 0 ? 1 : v < 0 ? -1 : v === 0 ? 0 : NaN));
/** x^p for a constant exponent p. */
export const pow = (x: Tensor, p: number): Tensor =>
  unary(
    'pow',
    x,
    (v) => v ** p,
    (v) => (p === 0 ? 0 : p * v ** (p - 1)),
  );
/** Clamp to [min, max]; the gradient passes only inside the interval (as torch.clamp). */
export const clamp = (x: Tensor, min: number, max: number): Tensor =>
  unary(
    'clamp',
    x,
    (v) => (v < min ? min : v > max ? max : v),
    (v) => (v >= min && v <= max ? 1 : v !== v ? NaN : 0),
  );
