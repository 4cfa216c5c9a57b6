/**
 * The WebAssembly GELU (asm/gelu.ts) against the float32 TypeScript loops it mirrors (activations.ts): forward and
 * the accumulating backward on odd lengths and tails, the tails of the CDF, NaN; and the ops routing to it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { activationKernels } from './activations.js';
import { activationBackward, activationForward, setKernels } from './index.js';
import { createWasmKernelsAsync, wasmSupported } from './wasm.js';

function values(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n);
  rng.fillNormal(x, 0, 3);
  x[0] = -9;
  if (n > 3) {
    x[1] = 7;
    x[2] = -0;
    x[3] = 1e-20;
  }
  return x;
}

/**
 * |a - b| <= (1e-6 + 1e-7 x^2) |b| + 1e-30: the same formula evaluated in float32, whose exponent's argument
 * (about -x^2 / 2) carries a few float32 ulps, so the far negative tail's relative error grows with x^2.
 */
function close(x: Float32Array, a: Float32Array, b: Float32Array, what: string): void {
  for (let i = 0; i < b.length; i++) {
    const v = x[i] as number;
    const tol = (1e-6 + 1e-7 * v * v) * Math.abs(b[i] as number) + 1e-30;
    assert.ok(Math.abs((a[i] as number) - (b[i] as number)) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

for (const fusedMultiplyAdd of [false, true]) {
  describe(
    `GELU in WebAssembly (${fusedMultiplyAdd ? 'relaxed' : 'plain'} SIMD)`,
    { skip: !wasmSupported() },
    () => {
      it('forward and backward agree with the TypeScript float32 loops on odd lengths', async () => {
        let wasm;
        try {
          wasm = await createWasmKernelsAsync({ fusedMultiplyAdd });
        } catch {
          return; // relaxed SIMD absent in this runtime: the plain build is the fallback, tested above
        }
        for (const n of [1, 3, 4, 5, 17, 1000, 4099]) {
          const x = values(n, n);
          const want = new Float32Array(n);
          activationKernels.gelu.forward(x, want, n, 0);
          const got = new Float32Array(n);
          wasm.gelu(x, got, n);
          close(x, got, want, `gelu n=${n}`);
          const gy = values(n, n + 1);
          const gxWant = Float32Array.from(gy, (v) => v * 0.5);
          const gxGot = gxWant.slice();
          activationKernels.gelu.backward(x, want, gy, gxWant, n, 0);
          wasm.geluBackward(x, gy, gxGot, n);
          close(x, gxGot, gxWant, `gelu backward n=${n}`);
        }
        const nan = new Float32Array(4);
        wasm.gelu(Float32Array.of(NaN, 1, NaN, -1), nan, 4);
        assert.ok(
          Number.isNaN(nan[0]) && Number.isNaN(nan[2]) && Math.abs((nan[1] as number) - 0.8413447) < 1e-6,
        );
      });
    },
  );
}

describe(
  'activationForward / activationBackward route GELU to the backend',
  { skip: !wasmSupported() },
  () => {
    it('uses the WebAssembly kernels when installed and gives their values', async () => {
      const wasm = await createWasmKernelsAsync({ fusedMultiplyAdd: false });
      const x = values(64, 3);
      const direct = new Float32Array(64);
      wasm.gelu(x, direct, 64);
      const previous = setKernels(wasm);
      try {
        const y = new Float32Array(64);
        activationForward('gelu', x, y, 64, 0);
        assert.deepEqual(y, direct);
        const gx = new Float32Array(64);
        const want = new Float32Array(64);
        wasm.geluBackward(x, x, want, 64);
        activationBackward('gelu', x, y, x, gx, 64, 0);
        assert.deepEqual(gx, want);
      } finally {
        setKernels(previous);
      }
    });
  },
);
