import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activationKernels } from '../kernels/activations.js';
import { gaussianExpectation } from './quadrature.js';
import {
  chi1At,
  criticalSigmaW2,
  depthScale,
  derivativeMoment,
  fixedPoint,
  gradientFactor,
  lengthMap,
  maxDerivative,
  phaseOf,
  trajectory,
} from './theory.js';

const noBias = { mean: 0, variance: 0 };
const close = (a: number, b: number, tolerance: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= tolerance, `${what}: ${a} vs ${b} (tolerance ${tolerance})`);

describe('rectifier closed forms', () => {
  it('ReLU: chi = sigma_w^2 / 2 at any q, and the length map halves E[h^2] times sigma_w^2', () => {
    for (const q of [1e-6, 0.3, 1, 50]) {
      close(gradientFactor({ name: 'relu' }, 2, noBias, q), 1, 1e-15, `He chi at q=${q}`);
      close(gradientFactor({ name: 'relu' }, 1, noBias, q), 0.5, 1e-15, `Xavier chi at q=${q}`);
      close(lengthMap({ name: 'relu' }, 2, noBias, q), q, 1e-14 * q, `He keeps q=${q}`);
    }
  });

  it('leaky-relu: chi = sigma_w^2 (1 + a^2) / 2', () => {
    close(gradientFactor({ name: 'leaky-relu', alpha: 0.2 }, 2, noBias, 0.7), 1.04, 1e-14, 'leaky chi');
  });

  it('agrees with quadrature of the activation table for a shifted (constant-bias) Gaussian', () => {
    const bias = { mean: 0.3, variance: 0.1 };
    for (const name of ['relu', 'leaky-relu'] as const) {
      const kernel = activationKernels[name];
      const alpha = kernel.defaultAlpha;
      for (const q of [0.2, 1.5]) {
        const v = q - bias.mean ** 2;
        const second = gaussianExpectation((h) => kernel.value(h, alpha) ** 2, bias.mean, v, {
          smooth: false,
        });
        const derivative = gaussianExpectation((h) => kernel.derivative(h, alpha) ** 2, bias.mean, v, {
          smooth: false,
        });
        close(
          lengthMap({ name }, 1.3, bias, q),
          1.3 * second + bias.variance + bias.mean ** 2,
          1e-12,
          `${name} length map`,
        );
        close(derivativeMoment({ name }, bias, q), derivative, 1e-12, `${name} E[phi'^2]`);
      }
    }
  });

  it("linear: chi = sigma_w^2, and sup |phi'| is the bound gamma of Pascanu et al.", () => {
    close(gradientFactor({ name: 'linear' }, 1.7, noBias, 3), 1.7, 0, 'linear chi');
    assert.equal(maxDerivative('tanh'), 1);
    assert.equal(maxDerivative('sigmoid'), 0.25);
  });
});

describe('fixed points (Poole et al. 2016)', () => {
  it('tanh at (sigma_w^2, sigma_b^2) = (1.76, 0.05): q* = 0.57 and chi_1 = 0.9998, the contract example', () => {
    const bias = { mean: 0, variance: 0.05 };
    const point = fixedPoint({ name: 'tanh' }, 1.76, bias);
    assert.equal(point.kind, 'stable');
    const q = point.q as number;
    close(lengthMap({ name: 'tanh' }, 1.76, bias, q), q, 1e-12, 'q* is a fixed point');
    close(q, 0.5695, 5e-4, 'q*');
    close(chi1At({ name: 'tanh' }, 1.76, bias, point), 0.9998, 1e-4, 'chi_1');
  });

  it('classifies where the length map leads', () => {
    assert.deepEqual(fixedPoint({ name: 'relu' }, 2, noBias), { kind: 'marginal', q: null });
    assert.deepEqual(fixedPoint({ name: 'relu' }, 1, noBias), { kind: 'zero', q: 0 });
    assert.deepEqual(fixedPoint({ name: 'relu' }, 4, noBias), { kind: 'divergent', q: null });
    assert.deepEqual(fixedPoint({ name: 'tanh' }, 0.5, noBias), { kind: 'zero', q: 0 });
    assert.equal(fixedPoint({ name: 'tanh' }, 3, noBias).kind, 'stable');
    // Near the critical line convergence is algebraic; bracketing still finds q* = 0.
    assert.deepEqual(fixedPoint({ name: 'tanh' }, 1, noBias), { kind: 'zero', q: 0 });
  });

  it("chi_1 at a zero fixed point is the limit q -> 0+: sigma_w^2 phi'(0+)^2 averaged over both sides", () => {
    close(chi1At({ name: 'tanh' }, 0.5, noBias, { kind: 'zero', q: 0 }), 0.5, 1e-12, 'tanh');
    close(chi1At({ name: 'relu' }, 1, noBias, { kind: 'zero', q: 0 }), 0.5, 1e-12, 'relu');
  });

  it('selu with lecun-normal (sigma_w^2 = 1) has q* = 1, the self-normalising fixed point (Klambauer et al. 2017)', () => {
    const point = fixedPoint({ name: 'selu' }, 1, noBias);
    close(point.q as number, 1, 1e-9, 'q*');
  });
});

describe('the critical line (Schoenholz et al. 2017)', () => {
  it('is He init for ReLU, 2 / (1 + a^2) for leaky-relu, sigma_w^2 = 1 for tanh without bias', () => {
    close(criticalSigmaW2({ name: 'relu' }, noBias) as number, 2, 1e-9, 'relu');
    close(criticalSigmaW2({ name: 'leaky-relu', alpha: 0.2 }, noBias) as number, 2 / 1.04, 1e-9, 'leaky');
    close(criticalSigmaW2({ name: 'tanh' }, noBias) as number, 1, 1e-6, 'tanh');
  });

  it('tanh with sigma_b^2 = 0.05 is critical at sigma_w^2 = 1.76 (their fig. 1), and chi_1 = 1 there', () => {
    const bias = { mean: 0, variance: 0.05 };
    const critical = criticalSigmaW2({ name: 'tanh' }, bias) as number;
    close(critical, 1.76, 0.005, 'critical sigma_w^2');
    close(
      chi1At({ name: 'tanh' }, critical, bias, fixedPoint({ name: 'tanh' }, critical, bias)),
      1,
      1e-9,
      'chi_1',
    );
  });

  it('names the phase with a band |ln chi_1| <= 0.01 and the depth scale 1 / |ln chi_1|', () => {
    assert.equal(phaseOf(0.5), 'ordered');
    assert.equal(phaseOf(0.995), 'critical');
    assert.equal(phaseOf(1.5), 'chaotic');
    close(depthScale(Math.exp(-0.25)), 4, 1e-12, 'depth scale');
  });
});

describe('trajectory', () => {
  it('ReLU + He: q and the squared gradient norm stay constant, g = 1/2 for a random unit v', () => {
    const path = trajectory({ activation: { name: 'relu' }, bias: noBias, sigmaW2: [2, 2, 2, 2] }, 1.3);
    for (const q of path.q) close(q, 1.3, 1e-14, 'q');
    for (const g of path.gradNorm2) close(g, 0.5, 1e-14, 'g');
  });

  it("multiplies the squared gradient norm by chi_l = sigma_{w,l+1}^2 E[phi'(h_l)^2] from the top down", () => {
    const network = {
      activation: { name: 'tanh' as const },
      bias: { mean: 0, variance: 0.05 },
      sigmaW2: [1, 1.5, 2],
    };
    const path = trajectory(network, 0.4);
    close(path.q[1] as number, lengthMap(network.activation, 1.5, network.bias, 0.4), 1e-15, 'q_1');
    close(
      path.gradNorm2[2] as number,
      derivativeMoment(network.activation, network.bias, path.q[2] as number),
      1e-15,
      'g_top',
    );
    close(
      path.gradNorm2[1] as number,
      2 *
        derivativeMoment(network.activation, network.bias, path.q[1] as number) *
        (path.gradNorm2[2] as number),
      1e-15,
      'g_1',
    );
  });
});
