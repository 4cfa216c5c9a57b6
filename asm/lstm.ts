// The element-wise part of an LSTM time step (Hochreiter & Schmidhuber 1997, forget gate of Gers et al. 2000) in
// PyTorch's gate layout i, f, g, o, fused so the five transcendentals per unit run in SIMD and the step touches its
// arrays once. It mirrors the TypeScript loop in src/ops/recurrent.ts:
//
//   a = P + (hh + b_hh)             gate pre-activations, [B, 4H]
//   i, f, o = sigmoid(a_i, a_f, a_o); g = tanh(a_g)
//   c = f * c_prev + i * g;  h = o * tanh(c)
//
// and saves what the backward needs: the gate activations and tanh(c). `lstmBackward` mirrors the backward loop.
import { sigmoidV, tanhV } from './elementwise';

// @ts-ignore: decorator
@inline
function load(ptr: usize, whole: bool): v128 {
  return whole ? v128.load(ptr) : v128.load32_splat(ptr);
}

// @ts-ignore: decorator
@inline
function save(ptr: usize, value: v128, whole: bool): void {
  if (whole) v128.store(ptr, value);
  else v128.store32_lane(ptr, value, 0);
}

/** Units j..j+3 of one batch row (`whole`), or unit j alone (the tail when H is not a multiple of 4). */
// @ts-ignore: decorator
@inline
function units(
  p: usize,
  hh: usize,
  bias: usize,
  cPrev: usize,
  act: usize,
  h: usize,
  c: usize,
  tanhC: usize,
  gate: usize,
  at: usize,
  whole: bool,
): void {
  const i = sigmoidV(f32x4.add(load(p + at, whole), f32x4.add(load(hh + at, whole), load(bias + at, whole))));
  const fAt = at + gate;
  const f = sigmoidV(f32x4.add(load(p + fAt, whole), f32x4.add(load(hh + fAt, whole), load(bias + fAt, whole))));
  const gAt = fAt + gate;
  const g = tanhV(f32x4.add(load(p + gAt, whole), f32x4.add(load(hh + gAt, whole), load(bias + gAt, whole))));
  const oAt = gAt + gate;
  const o = sigmoidV(f32x4.add(load(p + oAt, whole), f32x4.add(load(hh + oAt, whole), load(bias + oAt, whole))));
  save(act + at, i, whole);
  save(act + fAt, f, whole);
  save(act + gAt, g, whole);
  save(act + oAt, o, whole);
  const cNew = f32x4.add(f32x4.mul(f, load(cPrev + at, whole)), f32x4.mul(i, g));
  const tc = tanhV(cNew);
  save(tanhC + at, tc, whole);
  save(h + at, f32x4.mul(o, tc), whole);
  save(c + at, cNew, whole);
}

/**
 * One LSTM step's gates for `batch` rows of `hidden` units. Row-major float32 arrays: p and hh [B, 4H], bias [4H],
 * previous [B, 2H] (h_prev | c_prev), act [B, 4H] (i, f, g, o after their non-linearities), out [B, 2H] (h | c),
 * tanhC [B, H].
 */
export function lstmForward(
  p: usize,
  hh: usize,
  bias: usize,
  previous: usize,
  act: usize,
  out: usize,
  tanhC: usize,
  batch: i32,
  hidden: i32,
): void {
  const gate = <usize>hidden * 4;
  const whole = hidden & ~3;
  for (let b = 0; b < batch; b++) {
    const row4 = <usize>b * 4 * gate;
    const row2 = <usize>b * 2 * gate;
    const pRow = p + row4;
    const hhRow = hh + row4;
    const actRow = act + row4;
    const cPrev = previous + row2 + gate;
    const h = out + row2;
    const c = h + gate;
    const tcRow = tanhC + <usize>b * gate;
    let j = 0;
    for (; j < whole; j += 4) units(pRow, hhRow, bias, cPrev, actRow, h, c, tcRow, gate, <usize>j * 4, true);
    for (; j < hidden; j++) units(pRow, hhRow, bias, cPrev, actRow, h, c, tcRow, gate, <usize>j * 4, false);
  }
}

/** Units j..j+3 (`whole`) or unit j of one batch row, backward. */
// @ts-ignore: decorator
@inline
function unitsBackward(
  act: usize,
  tanhC: usize,
  dH: usize,
  dC: usize,
  cPrev: usize,
  dA: usize,
  dCPrev: usize,
  gate: usize,
  at: usize,
  whole: bool,
  accumulatePrevious: bool,
): void {
  const one = f32x4.splat(1.0);
  const fAt = at + gate;
  const gAt = fAt + gate;
  const oAt = gAt + gate;
  const i = load(act + at, whole);
  const f = load(act + fAt, whole);
  const g = load(act + gAt, whole);
  const o = load(act + oAt, whole);
  const tc = load(tanhC + at, whole);
  const dh = load(dH + at, whole);
  // dc = dL/dc + dL/dh * o * (1 - tanh(c)^2)
  const dc = f32x4.add(load(dC + at, whole), f32x4.mul(f32x4.mul(dh, o), f32x4.sub(one, f32x4.mul(tc, tc))));
  const di = f32x4.mul(f32x4.mul(f32x4.mul(dc, g), i), f32x4.sub(one, i));
  const df = f32x4.mul(f32x4.mul(f32x4.mul(dc, load(cPrev + at, whole)), f), f32x4.sub(one, f));
  const dg = f32x4.mul(f32x4.mul(dc, i), f32x4.sub(one, f32x4.mul(g, g)));
  const dO = f32x4.mul(f32x4.mul(f32x4.mul(dh, tc), o), f32x4.sub(one, o));
  save(dA + at, di, whole);
  save(dA + fAt, df, whole);
  save(dA + gAt, dg, whole);
  save(dA + oAt, dO, whole);
  if (accumulatePrevious) save(dCPrev + at, f32x4.add(load(dCPrev + at, whole), f32x4.mul(dc, f)), whole);
}

/**
 * The backward of `lstmForward`: from dOut [B, 2H] (dL/dh | dL/dc) and the saved act [B, 4H], tanhC [B, H] and
 * previous [B, 2H], writes dA [B, 4H] (dL/d of the gate pre-activations) and, when `accumulatePrevious` != 0, adds
 * dL/dc_prev = dc * f into the c half of gPrevious [B, 2H].
 */
export function lstmBackward(
  act: usize,
  tanhC: usize,
  dOut: usize,
  previous: usize,
  dA: usize,
  gPrevious: usize,
  batch: i32,
  hidden: i32,
  accumulatePrevious: i32,
): void {
  const gate = <usize>hidden * 4;
  const whole = hidden & ~3;
  const addPrevious = accumulatePrevious != 0;
  for (let b = 0; b < batch; b++) {
    const row4 = <usize>b * 4 * gate;
    const row2 = <usize>b * 2 * gate;
    const actRow = act + row4;
    const dARow = dA + row4;
    const tcRow = tanhC + <usize>b * gate;
    const dH = dOut + row2;
    const dC = dH + gate;
    const cPrev = previous + row2 + gate;
    const dCPrev = gPrevious + row2 + gate;
    let j = 0;
    if (addPrevious) {
      for (; j < whole; j += 4) unitsBackward(actRow, tcRow, dH, dC, cPrev, dARow, dCPrev, gate, <usize>j * 4, true, true);
      for (; j < hidden; j++) unitsBackward(actRow, tcRow, dH, dC, cPrev, dARow, dCPrev, gate, <usize>j * 4, false, true);
    } else {
      for (; j < whole; j += 4) unitsBackward(actRow, tcRow, dH, dC, cPrev, dARow, dCPrev, gate, <usize>j * 4, true, false);
      for (; j < hidden; j++) unitsBackward(actRow, tcRow, dH, dC, cPrev, dARow, dCPrev, gate, <usize>j * 4, false, false);
    }
  }
}
