/**
 * Gaussian expectations E[f(h)], h ~ N(mean, variance), in float64: the integrals of mean-field theory.
 *
 * Two rules, both computed here rather than tabulated:
 * - Gauss-Hermite (n nodes, exact for polynomials of degree 2n - 1): nodes are the roots of the Hermite
 *   polynomial H_n, found by Newton's method on the orthonormal three-term recurrence, which cannot overflow
 *   (Golub & Welsch 1969 give the same nodes as the eigenvalues of the Jacobi matrix; Press et al., Numerical
 *   Recipes, "Gaussian quadratures and orthogonal polynomials", give this Newton form and its starting guesses). It converges geometrically for functions
 *   analytic in a strip around the real axis, so it is the rule for smooth activations at moderate scale.
 * - Composite Gauss-Legendre in h with a breakpoint at 0 and panels no wider than half the smaller of the two
 *   length scales (the Gaussian's standard deviation and the activation's unit scale): for kinks (elu, selu at 0)
 *   and for very wide Gaussians, where tanh looks like a step and Gauss-Hermite's strip of analyticity shrinks.
 */

/** Nodes and weights of a rule: integral ≈ Σ weights[i] f(nodes[i]). */
export interface QuadratureRule {
  readonly nodes: Float64Array;
  readonly weights: Float64Array;
}

const hermiteCache = new Map<number, QuadratureRule>();
const legendreCache = new Map<number, QuadratureRule>();

/**
 * The n-point Gauss-Hermite rule for the standard normal: E[f(z)] ≈ Σ w_i f(z_i), z ~ N(0, 1), Σ w_i = 1.
 * (The physicists' rule for the weight e^{-x^2} is z = sqrt(2) x, w = w_phys / sqrt(pi).)
 *
 * @example
 * const { nodes, weights } = gaussHermite(20);
 * nodes.reduce((s, z, i) => s + weights[i]! * z ** 4, 0); // 3 = E[z^4]
 */
export function gaussHermite(n: number): QuadratureRule {
  if (!Number.isInteger(n) || n < 1 || n > 400) {
    throw new RangeError(`gaussHermite: n must be an integer in 1..400, got ${n}.`);
  }
  const cached = hermiteCache.get(n);
  if (cached) return cached;
  const x = new Float64Array(n);
  const w = new Float64Array(n);
  const piToMinusQuarter = Math.PI ** -0.25;
  const half = Math.floor((n + 1) / 2);
  let z = 0;
  for (let i = 1; i <= half; i++) {
    // Starting guesses for the roots from the largest down (Numerical Recipes' gauher).
    if (i === 1) z = Math.sqrt(2 * n + 1) - 1.85575 * (2 * n + 1) ** -0.16667;
    else if (i === 2) z -= (1.14 * n ** 0.426) / z;
    else if (i === 3) z = 1.86 * z - 0.86 * (x[0] as number);
    else if (i === 4) z = 1.91 * z - 0.91 * (x[1] as number);
    else z = 2 * z - (x[i - 3] as number);
    let derivative = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
      // Orthonormal Hermite recurrence: p_j = x sqrt(2/j) p_{j-1} - sqrt((j-1)/j) p_{j-2}.
      let p1 = piToMinusQuarter;
      let p2 = 0;
      for (let j = 1; j <= n; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = z * Math.sqrt(2 / j) * p2 - Math.sqrt((j - 1) / j) * p3;
      }
      derivative = Math.sqrt(2 * n) * p2;
      const step = p1 / derivative;
      z -= step;
      if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(z))) break;
    }
    x[i - 1] = z;
    x[n - i] = -z;
    w[i - 1] = 2 / (derivative * derivative);
    w[n - i] = w[i - 1] as number;
  }
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    nodes[i] = Math.SQRT2 * (x[i] as number);
    weights[i] = (w[i] as number) / Math.sqrt(Math.PI);
  }
  const rule = { nodes, weights };
  hermiteCache.set(n, rule);
  return rule;
}

/**
 * The n-point Gauss-Legendre rule on [-1, 1] (Newton on the Legendre recurrence, Numerical Recipes' gauleg).
 *
 * @example
 * const { nodes, weights } = gaussLegendre(5);
 * nodes.reduce((s, x, i) => s + weights[i]! * x ** 8, 0); // 2/9
 */
export function gaussLegendre(n: number): QuadratureRule {
  if (!Number.isInteger(n) || n < 1 || n > 400) {
    throw new RangeError(`gaussLegendre: n must be an integer in 1..400, got ${n}.`);
  }
  const cached = legendreCache.get(n);
  if (cached) return cached;
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  const half = Math.floor((n + 1) / 2);
  for (let i = 1; i <= half; i++) {
    let z = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    let derivative = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
      let p1 = 1;
      let p2 = 0;
      for (let j = 1; j <= n; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = ((2 * j - 1) * z * p2 - (j - 1) * p3) / j;
      }
      derivative = (n * (z * p1 - p2)) / (z * z - 1);
      const step = p1 / derivative;
      z -= step;
      if (Math.abs(step) <= 1e-15) break;
    }
    nodes[i - 1] = -z;
    nodes[n - i] = z;
    weights[i - 1] = 2 / ((1 - z * z) * derivative * derivative);
    weights[n - i] = weights[i - 1] as number;
  }
  const rule = { nodes, weights };
  legendreCache.set(n, rule);
  return rule;
}

/** Nodes of the Gauss-Hermite rule used for smooth integrands. */
export const HERMITE_NODES = 128;
/** Gauss-Hermite is used up to this standard deviation (in units of the activation's scale), composite beyond. */
const HERMITE_MAX_STD = 1;
/** Points of the Gauss-Legendre rule on each composite panel. */
const PANEL_NODES = 10;
/** The composite rule covers mean ± TAIL std; the normal density there is below 1e-31. */
const TAIL = 12;
/** Where activations bend: |h| <= 20 gets panels on the activation's unit scale. */
const FEATURE_RADIUS = 20;

export interface ExpectationOptions {
  /**
   * True when f is smooth (analytic near the real axis): Gauss-Hermite is then used for moderate scales.
   * False for integrands with a kink or a jump at h = 0 (relu-like units and their derivatives).
   */
  smooth: boolean;
}

/**
 * E[f(h)] for h ~ N(mean, variance).
 *
 * @example
 * gaussianExpectation((h) => Math.tanh(h) ** 2, 0, 1, { smooth: true }); // 0.3943...
 */
export function gaussianExpectation(
  f: (h: number) => number,
  mean: number,
  variance: number,
  options: ExpectationOptions,
): number {
  if (!(variance >= 0) || !Number.isFinite(mean) || !Number.isFinite(variance)) {
    if (Number.isNaN(variance) || Number.isNaN(mean)) return NaN;
    throw new RangeError(
      `gaussianExpectation: need a finite mean and variance >= 0, got N(${mean}, ${variance}).`,
    );
  }
  const std = Math.sqrt(variance);
  if (std === 0) return f(mean);
  if (options.smooth && std <= HERMITE_MAX_STD) {
    const { nodes, weights } = gaussHermite(HERMITE_NODES);
    let sum = 0;
    for (let i = 0; i < nodes.length; i++)
      sum += (weights[i] as number) * f(mean + std * (nodes[i] as number));
    return sum;
  }
  return compositeExpectation(f, mean, std);
}

/** Composite Gauss-Legendre over mean ± 12 std in h, broken at 0, panels of width min(std, 1) / 2 near 0. */
function compositeExpectation(f: (h: number) => number, mean: number, std: number): number {
  const low = mean - TAIL * std;
  const high = mean + TAIL * std;
  const fine = Math.min(std, 1) / 2;
  const coarse = std / 2;
  const featureLow = Math.max(low, -FEATURE_RADIUS);
  const featureHigh = Math.min(high, FEATURE_RADIUS);
  const segments: Array<[number, number, number]> = [];
  if (featureLow < featureHigh) {
    if (low < featureLow) segments.push([low, featureLow, coarse]);
    if (featureLow < 0 && 0 < featureHigh) {
      segments.push([featureLow, 0, fine], [0, featureHigh, fine]);
    } else {
      segments.push([featureLow, featureHigh, fine]);
    }
    if (featureHigh < high) segments.push([featureHigh, high, coarse]);
  } else {
    segments.push([low, high, coarse]);
  }
  const { nodes, weights } = gaussLegendre(PANEL_NODES);
  const norm = 1 / (std * Math.sqrt(2 * Math.PI));
  const inv2var = 1 / (2 * std * std);
  let total = 0;
  for (const [a, b, width] of segments) {
    const panels = Math.max(1, Math.ceil((b - a) / width));
    const h = (b - a) / panels;
    for (let p = 0; p < panels; p++) {
      const centre = a + (p + 0.5) * h;
      let sum = 0;
      for (let i = 0; i < PANEL_NODES; i++) {
        const x = centre + 0.5 * h * (nodes[i] as number);
        const d = x - mean;
        sum += (weights[i] as number) * f(x) * Math.exp(-d * d * inv2var);
      }
      total += 0.5 * h * sum;
    }
  }
  return total * norm;
}
