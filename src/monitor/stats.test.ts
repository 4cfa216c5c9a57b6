import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activationStats, fitDecayFactor, paramStats } from './stats.js';

describe('monitor statistics', () => {
  it('fits the per-step factor of a geometric decay exactly', () => {
    const rho = 0.8;
    const values = Array.from({ length: 20 }, (_, t) => rho ** (19 - t));
    assert.ok(Math.abs(fitDecayFactor(values) - rho) < 1e-12);
    assert.ok(Math.abs(fitDecayFactor(values.map((v) => 1 / v)) - 1 / rho) < 1e-12);
    assert.ok(Number.isNaN(fitDecayFactor([1])));
    assert.ok(
      Math.abs(fitDecayFactor([0, NaN, ...values.slice(2)]) - rho) < 1e-12,
      'zeros and NaN are ignored',
    );
  });
  it('counts non-finite gradient entries and keeps the norm non-finite', () => {
    const s = paramStats(Float32Array.from([3, 4]), Float32Array.from([NaN, 1, Infinity]), null);
    assert.equal(s.nonFinite, 2);
    assert.ok(Number.isNaN(s.gradNorm));
    assert.equal(s.weightNorm, 5);
    assert.ok(Number.isNaN(s.updateRatio), 'no update yet');
    const u = paramStats(
      Float32Array.from([3, 4]),
      Float32Array.from([0, 0]),
      Float32Array.from([0.03, 0.04]),
    );
    assert.ok(Math.abs(u.updateRatio - 0.01) < 1e-7);
  });
  it('saturated and dead are fractions of units, over the whole batch', () => {
    // 2 rows x 4 units of tanh output: unit 0 saturated in both rows, unit 1 only in one.
    const y = Float32Array.from([0.999, 0.995, 0.1, -0.2, -0.995, 0.2, 0.3, 0.1]);
    const s = activationStats(y, 4, 'tanh');
    assert.equal(s.saturated, 0.25);
    assert.equal(s.dead, 0);
    const r = activationStats(Float32Array.from([0, 1, 0, 0, 2, 0]), 3, 'relu');
    assert.equal(r.dead, 2 / 3);
    assert.equal(r.saturated, 0);
  });
});

describe('paramStats on every kernels backend', () => {
  it('gives the same doubles on the WebAssembly and the TypeScript kernels, NaN and Infinity included', async () => {
    const { setKernels } = await import('../kernels/index.js');
    const { tsKernels } = await import('../kernels/ts.js');
    const { createWasmKernels, wasmSupported } = await import('../kernels/wasm.js');
    const { Rng } = await import('../tensor/rng.js');
    const rng = new Rng(9);
    const make = (n: number): Float32Array => {
      const a = new Float32Array(n);
      rng.fillNormal(a);
      return a;
    };
    const value = make(2051);
    const grad = make(2051);
    const update = make(2051);
    grad[2050] = NaN;
    grad[3] = Infinity;
    const backends = [
      tsKernels,
      ...(wasmSupported() ? [createWasmKernels({ fusedMultiplyAdd: false })] : []),
    ];
    const results = backends.map((k) => {
      const previous = setKernels(k);
      try {
        return [paramStats(value, grad, update), paramStats(value, grad.subarray(0, 2050), update)];
      } finally {
        setKernels(previous);
      }
    });
    const [reference] = results;
    for (const r of results) assert.deepEqual(r, reference);
    const [withNaN, finite] = reference as [ReturnType<typeof paramStats>, ReturnType<typeof paramStats>];
    assert.ok(Number.isNaN(withNaN.maxAbsGrad) && withNaN.nonFinite === 2 && Number.isNaN(withNaN.gradNorm));
    assert.equal(finite.maxAbsGrad, Infinity);
    assert.equal(finite.nonFinite, 1);
    let w2 = 0;
    for (const v of value) w2 += v * v;
    assert.ok(Math.abs(finite.weightNorm - Math.sqrt(w2)) < 1e-12 * Math.sqrt(w2));
  });
});

describe('channelStats', () => {
  it("counts dead and saturated entries per channel by the activation table's predicates, for every activation", async () => {
    const { ACTIVATIONS, activationKernels } = await import('../kernels/activations.js');
    const { channelStats } = await import('./stats.js');
    const shape = [3, 4, 2, 5];
    const y = Float32Array.from(
      { length: 120 },
      (_, i) => [0, -0.995, 0.995, 0.5, NaN, 0.005, -2, 1][i % 8] as number,
    );
    // Channel 3 of every example: all zeros (dead for relu).
    for (let n = 0; n < 3; n++) y.fill(0, (n * 4 + 3) * 10, (n * 4 + 4) * 10);
    for (const name of ACTIVATIONS) {
      const kern = activationKernels[name];
      const s = channelStats(y, shape, name);
      for (let c = 0; c < 4; c++) {
        let dead = 0;
        let saturated = 0;
        for (let n = 0; n < 3; n++)
          for (let k = 0; k < 10; k++) {
            const v = y[(n * 4 + c) * 10 + k] as number;
            dead += +kern.isDead(v);
            saturated += +kern.isSaturated(v);
          }
        assert.equal(s.channelDead[c], dead / 30, `${name} channel ${c} dead`);
        assert.equal(s.channelSaturated[c], saturated / 30, `${name} channel ${c} saturated`);
      }
    }
    assert.equal(channelStats(y, shape, 'relu').dead, 0.25);
  });
});
