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
