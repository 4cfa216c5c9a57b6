import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { erf } from '../kernels/activations.js';
import { gaussHermite, gaussianExpectation, gaussLegendre } from './quadrature.js';

function ruleSum(rule: { nodes: Float64Array; weights: Float64Array }, f: (x: number) => number): number {
  let s = 0;
  for (let i = 0; i < rule.nodes.length; i++) s += (rule.weights[i] as number) * f(rule.nodes[i] as number);
  return s;
}

function doubleFactorial(n: number): number {
  let p = 1;
  for (let k = n; k > 1; k -= 2) p *= k;
  return p;
}

describe('Gauss-Hermite', () => {
  it('integrates every even moment E[z^2k] = (2k-1)!! exactly up to degree 2n - 1', () => {
    for (const n of [1, 2, 5, 10, 20]) {
      const rule = gaussHermite(n);
      assert.ok(Math.abs(ruleSum(rule, () => 1) - 1) < 1e-14, `n=${n}: weights sum to 1`);
      for (let k = 1; 2 * k <= 2 * n - 1; k++) {
        const exact = doubleFactorial(2 * k - 1);
        const got = ruleSum(rule, (z) => z ** (2 * k));
        assert.ok(Math.abs(got / exact - 1) < 1e-12, `n=${n}, E[z^${2 * k}] = ${got}, want ${exact}`);
        assert.ok(Math.abs(ruleSum(rule, (z) => z ** (2 * k - 1))) < 1e-12 * exact, 'odd moments vanish');
      }
    }
  });

  it('has the known nodes of small rules (n = 2: ±1; n = 3: 0, ±sqrt 3)', () => {
    assert.deepEqual(
      Array.from(gaussHermite(2).nodes, (z) => Number(z.toFixed(12))),
      [1, -1],
    );
    const three = Array.from(gaussHermite(3).nodes).sort((a, b) => a - b);
    assert.ok(Math.abs((three[0] as number) + Math.sqrt(3)) < 1e-13 && Math.abs(three[1] as number) < 1e-13);
    assert.ok(Math.abs((gaussHermite(3).weights[1] as number) - 2 / 3) < 1e-13);
  });

  it('matches closed-form Gaussian integrals of smooth functions', () => {
    const rule = gaussHermite(128);
    for (const a of [0.3, 0.7, 1]) {
      // E[cos(a z)] = exp(-a^2 / 2)
      assert.ok(Math.abs(ruleSum(rule, (z) => Math.cos(a * z)) - Math.exp((-a * a) / 2)) < 1e-13);
      // E[erf(a z)^2] = (2 / pi) arcsin(2 a^2 / (1 + 2 a^2))   (Williams 1997)
      const exact = (2 / Math.PI) * Math.asin((2 * a * a) / (1 + 2 * a * a));
      assert.ok(Math.abs(ruleSum(rule, (z) => erf(a * z) ** 2) - exact) < 1e-10, `a=${a}`);
    }
  });
});

describe('Gauss-Legendre', () => {
  it('integrates x^2k on [-1, 1] exactly', () => {
    const rule = gaussLegendre(10);
    for (let k = 0; k <= 9; k++)
      assert.ok(Math.abs(ruleSum(rule, (x) => x ** (2 * k)) - 2 / (2 * k + 1)) < 1e-14);
  });
});

describe('gaussianExpectation', () => {
  const relu2 = (h: number): number => (h > 0 ? h * h : 0);
  const phi = (t: number): number => 0.5 * (1 + erf(t / Math.SQRT2));
  const pdf = (t: number): number => Math.exp(-0.5 * t * t) / Math.sqrt(2 * Math.PI);

  it('agrees with the closed form E[relu(h)^2] = (m^2 + s^2) Phi(m/s) + m s pdf(m/s) across scales (kinked rule)', () => {
    for (const [m, s] of [
      [0, 1],
      [0.5, 0.1],
      [-2, 3],
      [1, 100],
      [0, 1e-3],
    ] as const) {
      const exact = (m * m + s * s) * phi(m / s) + m * s * pdf(m / s);
      const got = gaussianExpectation(relu2, m, s * s, { smooth: false });
      assert.ok(Math.abs(got / exact - 1) < 1e-10, `N(${m}, ${s}^2): ${got} vs ${exact}`);
    }
  });

  it('the Gauss-Hermite and composite rules agree on tanh^2 where both apply', () => {
    for (const s of [0.2, 0.7, 1]) {
      const hermite = gaussianExpectation((h) => Math.tanh(h) ** 2, 0.3, s * s, { smooth: true });
      const composite = gaussianExpectation((h) => Math.tanh(h) ** 2, 0.3, s * s, { smooth: false });
      assert.ok(Math.abs(hermite - composite) < 1e-12, `s=${s}: ${hermite} vs ${composite}`);
    }
  });

  it('stays exact for steep integrands where plain Gauss-Hermite fails (E[erf(h)^2], h ~ N(0, a^2), a up to 5)', () => {
    for (const a of [0.5, 2, 5, 20]) {
      const exact = (2 / Math.PI) * Math.asin((2 * a * a) / (1 + 2 * a * a));
      const got = gaussianExpectation((h) => erf(h) ** 2, 0, a * a, { smooth: true });
      assert.ok(Math.abs(got - exact) < 1e-12, `a=${a}: ${got} vs ${exact}`);
    }
  });

  it('is f(mean) at zero variance and rejects a negative variance', () => {
    assert.equal(
      gaussianExpectation((h) => h * 3, 2, 0, { smooth: true }),
      6,
    );
    assert.throws(() => gaussianExpectation((h) => h, 0, -1, { smooth: true }), /variance/);
  });
});
