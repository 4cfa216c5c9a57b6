/** The float32 GELU loops (a Chebyshev erfc, `normalCdfFloat32`) against the double-precision series. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activationKernels, erf } from './activations.js';

describe('GELU on float32 buffers', () => {
  const xs = Array.from({ length: 4001 }, (_, i) => -12 + (24 * i) / 4000).concat([
    0, -0, 1e-30, -1e-30, 40, -40,
  ]);
  const exact = (x: number): number => 0.5 * x * (1 + erf(x * Math.SQRT1_2));
  const exactSlope = (x: number): number =>
    0.5 * (1 + erf(x * Math.SQRT1_2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);

  it('forward within 3 float32 ulps of the exact GELU, tails included', () => {
    const x = Float32Array.from(xs);
    const y = new Float32Array(x.length);
    activationKernels.gelu.forward(x, y, x.length, 0);
    for (let i = 0; i < x.length; i++) {
      const v = x[i] as number;
      // Below -5.5 the exact value is under 1e-7 and the reference's 1 + erf loses digits in doubles: there the
      // value is only checked to be a tiny negative number.
      if (v < -5.5) {
        assert.ok((y[i] as number) <= 0 && (y[i] as number) > -1e-6, `x ${v}: ${y[i]}`);
        continue;
      }
      const want = Math.fround(exact(v));
      const tol = 3 * 2 ** -23 * Math.abs(want) + 1e-45;
      assert.ok(Math.abs((y[i] as number) - want) <= tol, `x ${v}: ${y[i]} vs ${want}`);
    }
  });

  it("backward accumulates gy * GELU'(x) within float32 rounding", () => {
    const x = Float32Array.from(xs.filter((v) => v > -5.5));
    const gy = Float32Array.from(x, (_, i) => 1 + (i % 3));
    const gx = new Float32Array(x.length).fill(0.5);
    activationKernels.gelu.backward(x, new Float32Array(x.length), gy, gx, x.length, 0);
    for (let i = 0; i < x.length; i++) {
      const want = 0.5 + (gy[i] as number) * exactSlope(x[i] as number);
      assert.ok(
        Math.abs((gx[i] as number) - want) <= 4 * 2 ** -23 * Math.max(1, Math.abs(want)),
        `x ${x[i]}`,
      );
    }
  });

  it('float64 buffers keep the double-precision series', () => {
    const x = Float64Array.from([-3, -0.5, 0.1, 2]);
    const y = new Float64Array(4);
    activationKernels.gelu.forward(x, y, 4, 0);
    x.forEach((v, i) => assert.equal(y[i], exact(v)));
  });

  it('NaN stays NaN', () => {
    const y = new Float32Array(1);
    activationKernels.gelu.forward(Float32Array.of(NaN), y, 1, 0);
    assert.ok(Number.isNaN(y[0]));
  });
});
