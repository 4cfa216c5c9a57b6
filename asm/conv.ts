// 2-D convolution (NCHW) for a whole batch in one call, on the matmul of matmul.ts: im2col (Chellapilla et al.
// 2006) into a scratch buffer inside this module, then one product per image and group, so only the images, the
// weights and the outputs cross between JavaScript and WebAssembly memory (not the 9x larger columns). Backward
// rebuilds the columns for dW and scatters W^T dY back with col2im.
//
// The loops are the ones of the TypeScript reference (src/kernels/ts.ts `im2colReference`, `col2imReference`) with
// the bounds hoisted out of the innermost loop: each output row splits into a left padding run, a run of valid taps
// and a right padding run, so the valid run is a plain copy (stride 1: memory.copy) or a plain add (f32x4). col2im
// adds in the reference's order, so it rounds like it.
//
// `shape` points at 16 i32: batch, inChannels, outChannels, groups, height, width, kernelH, kernelW, strideH,
// strideW, padH, padW, dilationH, dilationW, outH, outW. A pointer of 0 means "absent" (the JavaScript arena starts
// past __heap_base, so 0 is never an operand).

import { matmul } from './matmul';

// @ts-ignore: decorator
@inline
function field(shape: usize, index: i32): i32 {
  return load<i32>(shape + (<usize>index << 2));
}

/** First valid ox for tap offset `shift` (= j dilation - pad): the least ox with ox stride + shift >= 0. */
// @ts-ignore: decorator
@inline
function firstValid(shift: i32, stride: i32): i32 {
  return shift >= 0 ? 0 : (-shift + stride - 1) / stride;
}

/** One past the last valid ox: the least ox with ox stride + shift >= size, capped at `count`. */
// @ts-ignore: decorator
@inline
function endValid(shift: i32, stride: i32, size: i32, count: i32): i32 {
  const room = size - shift; // ox stride < room
  if (room <= 0) return 0;
  return min(count, (room + stride - 1) / stride);
}

/** Receptive fields of `channels` planes at `x` as the columns of `col` [channels kh kw, outH outW]. */
function im2col(x: usize, channels: i32, shape: usize, col: usize): void {
  const height = field(shape, 4);
  const width = field(shape, 5);
  const kernelH = field(shape, 6);
  const kernelW = field(shape, 7);
  const strideH = field(shape, 8);
  const strideW = field(shape, 9);
  const padH = field(shape, 10);
  const padW = field(shape, 11);
  const dilationH = field(shape, 12);
  const dilationW = field(shape, 13);
  const outH = field(shape, 14);
  const outW = field(shape, 15);
  const plane = <usize>(height * width) << 2;
  const rowBytes = <usize>outW << 2;
  // "Same" width at unit strides: output row oy is input row iy shifted by `shift`, so the valid rows of a tap are
  // one contiguous block of the plane, copied at once; only the |shift| entries per row that wrapped into the
  // neighbouring row are zeroed after. Same values as the row-by-row loop, far fewer calls (W5: 28 per tap).
  const wholeRows = strideW == 1 && strideH == 1 && outW == width;
  let out = col;
  for (let c = 0; c < channels; c++) {
    const base = x + <usize>c * plane;
    for (let i = 0; i < kernelH; i++) {
      for (let j = 0; j < kernelW; j++) {
        const shift = j * dilationW - padW;
        const lo = min(firstValid(shift, strideW), outW);
        const hi = max(lo, endValid(shift, strideW, width, outW));
        if (wholeRows && hi > lo) {
          // iy = oy - padH + i dilationH is valid for oy in [top, bottom).
          const reach = i * dilationH - padH;
          const top = min(outH, max(0, -reach));
          const bottom = max(top, min(outH, height - reach));
          if (top > 0) memory.fill(out, 0, <usize>top * rowBytes);
          const rows = bottom - top;
          if (rows > 0) {
            const first = out + <usize>top * rowBytes;
            const line = base + (<usize>((top + reach) * width) << 2);
            const count = <usize>(rows * width - abs(shift)) << 2;
            if (shift >= 0) memory.copy(first, line + (<usize>shift << 2), count);
            else memory.copy(first + (<usize>-shift << 2), line, count);
            for (let r = 0; r < rows; r++) {
              const row = first + <usize>r * rowBytes;
              for (let ox = 0; ox < lo; ox++) store<f32>(row + (<usize>ox << 2), 0);
              for (let ox = hi; ox < outW; ox++) store<f32>(row + (<usize>ox << 2), 0);
            }
          }
          if (bottom < outH) memory.fill(out + <usize>bottom * rowBytes, 0, <usize>(outH - bottom) * rowBytes);
          out += <usize>outH * rowBytes;
          continue;
        }
        for (let oy = 0; oy < outH; oy++) {
          const iy = oy * strideH - padH + i * dilationH;
          if (iy < 0 || iy >= height) {
            memory.fill(out, 0, <usize>outW << 2);
          } else {
            const line = base + (<usize>(iy * width) << 2);
            if (lo > 0) memory.fill(out, 0, <usize>lo << 2);
            if (strideW == 1) {
              memory.copy(out + (<usize>lo << 2), line + (<usize>(lo + shift) << 2), <usize>(hi - lo) << 2);
            } else {
              for (let ox = lo; ox < hi; ox++) {
                store<f32>(out + (<usize>ox << 2), load<f32>(line + (<usize>(ox * strideW + shift) << 2)));
              }
            }
            if (hi < outW) memory.fill(out + (<usize>hi << 2), 0, <usize>(outW - hi) << 2);
          }
          out += <usize>outW << 2;
        }
      }
    }
  }
}

/** The transpose of `im2col`: adds each column entry into the pixel it was read from (dx accumulates). */
function col2im(col: usize, channels: i32, shape: usize, dx: usize): void {
  const height = field(shape, 4);
  const width = field(shape, 5);
  const kernelH = field(shape, 6);
  const kernelW = field(shape, 7);
  const strideH = field(shape, 8);
  const strideW = field(shape, 9);
  const padH = field(shape, 10);
  const padW = field(shape, 11);
  const dilationH = field(shape, 12);
  const dilationW = field(shape, 13);
  const outH = field(shape, 14);
  const outW = field(shape, 15);
  const plane = <usize>(height * width) << 2;
  let from = col;
  for (let c = 0; c < channels; c++) {
    const base = dx + <usize>c * plane;
    for (let i = 0; i < kernelH; i++) {
      for (let j = 0; j < kernelW; j++) {
        const shift = j * dilationW - padW;
        const lo = min(firstValid(shift, strideW), outW);
        const hi = max(lo, endValid(shift, strideW, width, outW));
        for (let oy = 0; oy < outH; oy++) {
          const iy = oy * strideH - padH + i * dilationH;
          if (iy >= 0 && iy < height) {
            const line = base + (<usize>(iy * width) << 2);
            if (strideW == 1) {
              const dst = line + (<usize>(lo + shift) << 2);
              const src = from + (<usize>lo << 2);
              const count = hi - lo;
              let p = 0;
              for (; p + 4 <= count; p += 4) {
                const at = <usize>p << 2;
                v128.store(dst + at, f32x4.add(v128.load(dst + at), v128.load(src + at)));
              }
              for (; p < count; p++) {
                const at = <usize>p << 2;
                store<f32>(dst + at, load<f32>(dst + at) + load<f32>(src + at));
              }
            } else {
              for (let ox = lo; ox < hi; ox++) {
                const at = line + (<usize>(ox * strideW + shift) << 2);
                store<f32>(at, load<f32>(at) + load<f32>(from + (<usize>ox << 2)));
              }
            }
          }
          from += <usize>outW << 2;
        }
      }
    }
  }
}

/** Whether the image planes already are the columns: a 1x1 kernel at stride 1 without padding. */
function isDirect(shape: usize): bool {
  return (
    field(shape, 6) == 1 &&
    field(shape, 7) == 1 &&
    field(shape, 8) == 1 &&
    field(shape, 9) == 1 &&
    field(shape, 10) == 0 &&
    field(shape, 11) == 0
  );
}

/**
 * y [N, C_out, outH, outW] = conv(x, w) (+ bias[c] on every pixel of channel c when bias != 0).
 * `col` holds (C_in / groups) kh kw x outH outW floats; `work` is matmul's scratch.
 */
export function conv2dForward(
  shape: usize,
  x: usize,
  w: usize,
  bias: usize,
  relu: i32,
  y: usize,
  col: usize,
  work: usize,
): void {
  const batch = field(shape, 0);
  const inChannels = field(shape, 1);
  const outChannels = field(shape, 2);
  const groups = field(shape, 3);
  const pixels = field(shape, 14) * field(shape, 15);
  const plane = field(shape, 4) * field(shape, 5);
  const groupChannels = inChannels / groups;
  const outGroup = outChannels / groups;
  const rows = groupChannels * field(shape, 6) * field(shape, 7);
  const direct = isDirect(shape);
  for (let n = 0; n < batch; n++) {
    for (let g = 0; g < groups; g++) {
      const image = x + (<usize>((n * inChannels + g * groupChannels) * plane) << 2);
      let columns = image;
      if (!direct) {
        im2col(image, groupChannels, shape, col);
        columns = col;
      }
      const wg = w + (<usize>(g * outGroup * rows) << 2);
      const yg = y + (<usize>((n * outChannels + g * outGroup) * pixels) << 2);
      matmul(wg, columns, yg, outGroup, rows, pixels, 0, 0, 0, work);
    }
    if (bias != 0 || relu != 0) {
      // While this image's outputs are still in cache: + b, then relu (y = z > 0 or z is NaN ? z : +0, the
      // activation table's relu bit for bit).
      const zero = f32x4.splat(0);
      for (let c = 0; c < outChannels; c++) {
        const bs: f32 = bias != 0 ? load<f32>(bias + (<usize>c << 2)) : 0;
        const b = f32x4.splat(bs);
        const o = y + (<usize>((n * outChannels + c) * pixels) << 2);
        let p = 0;
        for (; p + 4 <= pixels; p += 4) {
          const at = o + (<usize>p << 2);
          let v = v128.load(at);
          if (bias != 0) v = f32x4.add(v, b);
          if (relu != 0) v = v128.bitselect(v, zero, v128.or(f32x4.gt(v, zero), f32x4.ne(v, v)));
          v128.store(at, v);
        }
        for (; p < pixels; p++) {
          const at = o + (<usize>p << 2);
          let v = load<f32>(at);
          if (bias != 0) v += bs;
          if (relu != 0) v = v > 0 || v != v ? v : 0;
          store<f32>(at, v);
        }
      }
    }
  }
}

/**
 * The backward of `conv2dForward` from dy [N, C_out, outH, outW], each part only when its pointer is set:
 * dw += dY col^T per image and group; dx += col2im(W^T dY); db[c] += the sum of dy over the batch and the pixels of
 * channel c (one float64 sum per image and channel, added in image order: the reference's rounding).
 * When `y` is set it is the forward's relu output: dy is first replaced (in place) by dy where y > 0, else 0.
 * `col` and `dcol` hold (C_in / groups) kh kw x outH outW floats each.
 */
export function conv2dBackward(
  shape: usize,
  x: usize,
  w: usize,
  dy: usize,
  y: usize,
  dx: usize,
  dw: usize,
  db: usize,
  col: usize,
  dcol: usize,
  work: usize,
): void {
  const batch = field(shape, 0);
  const inChannels = field(shape, 1);
  const outChannels = field(shape, 2);
  const groups = field(shape, 3);
  const pixels = field(shape, 14) * field(shape, 15);
  const plane = field(shape, 4) * field(shape, 5);
  const groupChannels = inChannels / groups;
  const outGroup = outChannels / groups;
  const rows = groupChannels * field(shape, 6) * field(shape, 7);
  const direct = isDirect(shape);
  for (let n = 0; n < batch; n++) {
    if (y != 0) {
      const start = <usize>(n * outChannels * pixels) << 2;
      const count = outChannels * pixels;
      const zero = f32x4.splat(0);
      let p = 0;
      for (; p + 4 <= count; p += 4) {
        const at = start + (<usize>p << 2);
        v128.store(dy + at, v128.and(v128.load(dy + at), f32x4.gt(v128.load(y + at), zero)));
      }
      for (; p < count; p++) {
        const at = start + (<usize>p << 2);
        if (!(load<f32>(y + at) > 0)) store<f32>(dy + at, 0);
      }
    }
    if (db != 0) {
      // This image's dy is in cache now; the sums are still added per image and channel in image order.
      for (let c = 0; c < outChannels; c++) {
        const o = dy + (<usize>((n * outChannels + c) * pixels) << 2);
        let s: f64 = 0;
        for (let p = 0; p < pixels; p++) s += <f64>load<f32>(o + (<usize>p << 2));
        const at = db + (<usize>c << 2);
        store<f32>(at, <f32>(<f64>load<f32>(at) + s));
      }
    }
    for (let g = 0; g < groups; g++) {
      const offset = <usize>((n * inChannels + g * groupChannels) * plane) << 2;
      const wg = w + (<usize>(g * outGroup * rows) << 2);
      const dyg = dy + (<usize>((n * outChannels + g * outGroup) * pixels) << 2);
      if (dw != 0) {
        let columns = x + offset;
        if (!direct) {
          im2col(x + offset, groupChannels, shape, col);
          columns = col;
        }
        matmul(dyg, columns, dw + (<usize>(g * outGroup * rows) << 2), outGroup, pixels, rows, 0, 1, 1, work);
      }
      if (dx != 0) {
        if (direct) {
          matmul(wg, dyg, dx + offset, rows, outGroup, pixels, 1, 0, 1, work);
        } else {
          matmul(wg, dyg, dcol, rows, outGroup, pixels, 1, 0, 0, work);
          col2im(dcol, groupChannels, shape, dx + offset);
        }
      }
    }
  }
}
