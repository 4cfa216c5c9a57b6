/**
 * The input-output Jacobian J = d x_L / d x_0 at initialisation and the statistics of its singular values:
 * the mean squared singular value tr(J Jᵀ) / k, their variance ||J Jᵀ||_F^2 / k - mean^2 and the largest one,
 * over the k = min(n_in, n_out) singular values (the others are structurally 0). Pennington et al. 2017 read
 * trainability off these: dynamical isometry is a mean near 1 with a small variance.
 *
 * No SVD: the Gram matrix G (JᵀJ or J Jᵀ, whichever is k x k) gives mean = tr(G) / k and variance =
 * ||G - mean I||_F^2 / k exactly (no cancellation); its largest eigenvalue comes from Lanczos. When forming G costs
 * too much, Hutchinson's estimator (Hutchinson 1990) with Rademacher probes z gives tr(G) = E[zᵀ G z] and
 * tr((G - c I)^2) = E[||G z - c z||^2], the variance directly rather than as a small difference of two traces.
 */
import { kernels } from '../kernels/index.js';
import type { Rng } from '../tensor/rng.js';

/** J as an operator on batches of row vectors. */
export interface JacobianOperator {
  readonly inputSize: number;
  readonly outputSize: number;
  /** m rows of inputSize -> m rows J t of outputSize. */
  apply(rows: Float64Array, m: number): Float64Array;
  /** m rows of outputSize -> m rows Jᵀ u of inputSize. */
  applyTranspose(rows: Float64Array, m: number): Float64Array;
  /** Multiply-adds to push one row through J (or Jᵀ): decides between exact and estimated statistics. */
  readonly costPerRow: number;
  /**
   * False when `apply` is an approximation (a finite difference): exact statistics then push basis vectors
   * through Jᵀ only. Default true.
   */
  readonly applyIsExact?: boolean;
}

export interface JacobianStats {
  /** tr(J Jᵀ) / k, k = min(n_in, n_out). */
  meanSquaredSingular: number;
  /** (1/k) Σ (s_i^2 - mean)^2 over the k squared singular values. */
  varianceSquaredSingular: number;
  maxSingular: number;
  /** exact: the k x k Gram matrix was formed; estimate: Hutchinson probes and Lanczos. */
  method: 'exact' | 'estimate';
  /** k: the number of singular values the statistics are over. */
  singularValues: number;
}

export interface JacobianOptions {
  /** The exact Gram matrix is formed when k <= this (default 1024)... */
  exactMaxSize?: number;
  /** ...and pushing k rows costs at most this many multiply-adds (default 4e8), or no more than estimating. */
  exactBudget?: number;
  /**
   * Hutchinson probes; default max(16, 20000 / k) up to 128, so probes * k >= 20000 for k >= 160: the relative error
   * is about sqrt(2 (1 + cv^2) / (probes k)) (cv: the squared singular values' coefficient of variation), 1% near
   * isometry.
   */
  probes?: number;
  /** Lanczos steps for the largest singular value in the estimate (default 30). */
  lanczosSteps?: number;
}

/**
 * Singular-value statistics of J, exact when affordable.
 *
 * @example
 * const stats = jacobianStats(linearised.operator(), rng);
 * stats.meanSquaredSingular; // 1 for an orthogonal linear network
 */
export function jacobianStats(op: JacobianOperator, rng: Rng, options: JacobianOptions = {}): JacobianStats {
  const k = Math.min(op.inputSize, op.outputSize);
  const inputSide = op.inputSize <= op.outputSize;
  const probes = options.probes ?? Math.min(128, Math.max(16, Math.ceil(20000 / Math.max(k, 1))));
  const steps = options.lanczosSteps ?? 30;
  const exactMaxSize = options.exactMaxSize ?? 1024;
  const exactBudget = options.exactBudget ?? 4e8;
  // The exact statistics push a basis through J (n_in rows) or Jᵀ (n_out rows), whichever is smaller and exact.
  const throughJ = (op.applyIsExact ?? true) && inputSide;
  const basisSize = throughJ ? op.inputSize : op.outputSize;
  const exact =
    k <= exactMaxSize && (basisSize * op.costPerRow <= exactBudget || basisSize <= 2 * (probes + steps));
  if (k === 0)
    return {
      meanSquaredSingular: NaN,
      varianceSquaredSingular: NaN,
      maxSingular: NaN,
      method: 'exact',
      singularValues: 0,
    };
  return exact
    ? exactStats(op, throughJ, basisSize, rng)
    : estimatedStats(op, k, inputSide, rng, probes, steps);
}

function exactStats(op: JacobianOperator, throughJ: boolean, p: number, rng: Rng): JacobianStats {
  const basis = new Float64Array(p * p);
  for (let i = 0; i < p; i++) basis[i * p + i] = 1;
  // M: rows J e_i (p = n_in) or Jᵀ e_j (p = n_out); the k x k Gram matrix is M Mᵀ or Mᵀ M, whichever is smaller.
  const rows = throughJ ? op.apply(basis, p) : op.applyTranspose(basis, p);
  const width = rows.length / p;
  const k = Math.min(p, width);
  const gram = new Float64Array(k * k);
  if (p <= width) kernels().matmul(rows, rows, gram, p, width, p, false, true, false);
  else kernels().matmul(rows, rows, gram, width, p, width, true, false, false);
  let trace = 0;
  for (let i = 0; i < k; i++) trace += gram[i * k + i] as number;
  const mean = trace / k;
  let squares = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const value = (gram[i * k + j] as number) - (i === j ? mean : 0);
      squares += value * value;
    }
  }
  const matvec = (v: Float64Array): Float64Array => {
    const out = new Float64Array(k);
    kernels().matmul(gram, v, out, k, k, 1, false, false, false);
    return out;
  };
  const largest = largestEigenvalue(matvec, k, Math.min(k, 80), rng);
  return {
    meanSquaredSingular: mean,
    varianceSquaredSingular: squares / k,
    maxSingular: Math.sqrt(Math.max(0, largest)),
    method: 'exact',
    singularValues: k,
  };
}

function estimatedStats(
  op: JacobianOperator,
  k: number,
  inputSide: boolean,
  rng: Rng,
  probes: number,
  steps: number,
): JacobianStats {
  const gramApply = (rows: Float64Array, m: number): Float64Array =>
    inputSide ? op.applyTranspose(op.apply(rows, m), m) : op.apply(op.applyTranspose(rows, m), m);
  const z = new Float64Array(probes * k);
  for (let i = 0; i < z.length; i++) z[i] = rng.next() < 0.5 ? -1 : 1;
  const gz = gramApply(z, probes);
  let quadratic = 0;
  for (let i = 0; i < z.length; i++) quadratic += (z[i] as number) * (gz[i] as number);
  const mean = quadratic / (probes * k);
  let squares = 0;
  for (let i = 0; i < z.length; i++) {
    const value = (gz[i] as number) - mean * (z[i] as number);
    squares += value * value;
  }
  const largest = largestEigenvalue((v) => gramApply(v, 1), k, Math.min(k, steps), rng);
  return {
    meanSquaredSingular: mean,
    varianceSquaredSingular: squares / (probes * k),
    maxSingular: Math.sqrt(Math.max(0, largest)),
    method: 'estimate',
    singularValues: k,
  };
}

/**
 * The largest eigenvalue of a symmetric positive semi-definite operator by Lanczos with full
 * reorthogonalisation (Lanczos 1950; Golub & Van Loan, Matrix Computations, ch. 10): the Krylov refinement of power
 * iteration, which converges much faster to the edge of a continuous spectrum. The tridiagonal matrix's largest
 * eigenvalue is found by Sturm-sequence bisection.
 *
 * @example
 * largestEigenvalue((v) => v.map((x, i) => (i + 1) * x), 5, 5, new Rng(0)); // 5
 */
export function largestEigenvalue(
  matvec: (v: Float64Array) => Float64Array,
  k: number,
  steps: number,
  rng: Rng,
): number {
  const basis: Float64Array[] = [];
  const alphas: number[] = [];
  const betas: number[] = [];
  let q: Float64Array = new Float64Array(k);
  for (let i = 0; i < k; i++) q[i] = rng.normal();
  scale(q, 1 / norm(q));
  let scaleEstimate = 0;
  for (let j = 0; j < steps; j++) {
    basis.push(q);
    const w = matvec(q);
    const alpha = dot(q, w);
    alphas.push(alpha);
    scaleEstimate = Math.max(scaleEstimate, Math.abs(alpha));
    // Full reorthogonalisation, twice ("twice is enough", Parlett), keeps the basis orthonormal in floating point.
    for (let pass = 0; pass < 2; pass++) {
      for (const b of basis) {
        const c = dot(b, w);
        for (let i = 0; i < k; i++) w[i] = (w[i] as number) - c * (b[i] as number);
      }
    }
    const beta = norm(w);
    if (j === steps - 1 || !(beta > 1e-12 * Math.max(scaleEstimate, 1e-300))) break;
    betas.push(beta);
    scale(w, 1 / beta);
    q = w;
  }
  return largestTridiagonalEigenvalue(alphas, betas);
}

/** Largest eigenvalue of the symmetric tridiagonal matrix (diagonal a, off-diagonal b) by Sturm bisection. */
export function largestTridiagonalEigenvalue(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  if (n === 0) return NaN;
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < n; i++) {
    const radius = (i > 0 ? Math.abs(b[i - 1] as number) : 0) + (i < n - 1 ? Math.abs(b[i] as number) : 0);
    low = Math.min(low, (a[i] as number) - radius);
    high = Math.max(high, (a[i] as number) + radius);
  }
  if (!Number.isFinite(low) || !Number.isFinite(high)) return NaN;
  // below(x): the number of eigenvalues < x (Sturm sequence of the LDLᵀ pivots).
  const below = (x: number): number => {
    let count = 0;
    let d = 1;
    for (let i = 0; i < n; i++) {
      const off = i > 0 ? (b[i - 1] as number) : 0;
      d = (a[i] as number) - x - (i > 0 ? (off * off) / d : 0);
      if (d === 0) d = -1e-300;
      if (d < 0) count++;
    }
    return count;
  };
  for (
    let iteration = 0;
    iteration < 200 && high - low > 1e-15 * Math.max(Math.abs(high), Math.abs(low), 1e-300);
    iteration++
  ) {
    const middle = 0.5 * (low + high);
    if (below(middle) === n) high = middle;
    else low = middle;
  }
  return 0.5 * (low + high);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

function norm(a: Float64Array): number {
  return Math.sqrt(dot(a, a));
}

function scale(a: Float64Array, factor: number): void {
  for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) * factor;
}

// ---------------------------------------------------------------------------------------------------------------
// A fully connected stack linearised at one forward pass.

/** A normalisation linearised at its batch: y = gamma x̂ + beta, x̂ = (z - mean) invStd over each group. */
export interface LinearisedNorm {
  /** batch: groups are features over the batch; layer: groups are examples over the features. */
  readonly mode: 'batch' | 'layer';
  readonly gamma: Float64Array;
  /** x̂ [B, n]. */
  readonly normalised: Float64Array;
  /** 1 / sqrt(var + eps): [n] for batch, [B] for layer. */
  readonly invStd: Float64Array;
}

/** One hidden layer y = phi(norm(x Wᵀ + b)) (+ x when residual), linearised. */
export interface LinearisedLayer {
  readonly inSize: number;
  readonly outSize: number;
  /** [out, in], PyTorch layout. */
  readonly weight: Float64Array;
  /** phi' at the (normalised) pre-activation, [B, out]. */
  readonly derivative: Float64Array;
  readonly norm: LinearisedNorm | null;
  readonly residual: boolean;
}

/**
 * The probe network's linearisation: tangents and cotangents for a whole batch of B examples at once (batch norm
 * couples them), `directions` of them stacked as rows [directions * B, n], row d * B + b.
 * J = d x_L[0] / d x_0[0]: the Jacobian of example 0's output with respect to its own input, through the batch
 * statistics when there are any.
 *
 * @example
 * const net = new LinearisedNetwork(layers, 1);
 * jacobianStats(net.operator(), rng);
 */
export class LinearisedNetwork {
  constructor(
    readonly layers: readonly LinearisedLayer[],
    readonly batch: number,
  ) {
    if (layers.length === 0) throw new RangeError('LinearisedNetwork needs at least one layer.');
    layers.forEach((layer, l) => {
      if (l > 0 && layer.inSize !== (layers[l - 1] as LinearisedLayer).outSize) {
        throw new RangeError(
          `layer ${l} takes ${layer.inSize} inputs but layer ${l - 1} gives ${(layers[l - 1] as LinearisedLayer).outSize}.`,
        );
      }
      if (layer.residual && layer.inSize !== layer.outSize) {
        throw new RangeError(`layer ${l} is residual but maps ${layer.inSize} to ${layer.outSize} features.`);
      }
    });
  }

  get inputSize(): number {
    return (this.layers[0] as LinearisedLayer).inSize;
  }

  get outputSize(): number {
    return (this.layers[this.layers.length - 1] as LinearisedLayer).outSize;
  }

  /** Multiply-adds per direction through the whole stack. */
  get costPerDirection(): number {
    return this.batch * this.layers.reduce((s, l) => s + l.inSize * l.outSize, 0);
  }

  /** Forward-mode: tangents [directions * B, n_in] -> [directions * B, n_out]. */
  jvp(tangent: Float64Array, directions: number): Float64Array {
    const rows = directions * this.batch;
    let t = tangent;
    for (const layer of this.layers) {
      const out = new Float64Array(rows * layer.outSize);
      kernels().matmul(t, layer.weight, out, rows, layer.inSize, layer.outSize, false, true, false);
      if (layer.norm) normJvp(layer.norm, out, directions, this.batch, layer.outSize);
      multiplyByDerivative(out, layer.derivative, rows, this.batch, layer.outSize);
      if (layer.residual) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (t[i] as number);
      t = out;
    }
    return t;
  }

  /** Reverse-mode: cotangents [directions * B, n_out] -> [directions * B, n_in]. */
  vjp(cotangent: Float64Array, directions: number): Float64Array {
    const rows = directions * this.batch;
    let u = cotangent;
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const layer = this.layers[l] as LinearisedLayer;
      const g = u.slice();
      multiplyByDerivative(g, layer.derivative, rows, this.batch, layer.outSize);
      if (layer.norm) normVjp(layer.norm, g, directions, this.batch, layer.outSize);
      const out = new Float64Array(rows * layer.inSize);
      kernels().matmul(g, layer.weight, out, rows, layer.outSize, layer.inSize, false, false, false);
      if (layer.residual) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (u[i] as number);
      u = out;
    }
    return u;
  }

  /** J = d x_L[0] / d x_0[0] as an operator (rows placed on example 0 of each direction). */
  operator(): JacobianOperator {
    const B = this.batch;
    const place = (rows: Float64Array, m: number, width: number): Float64Array => {
      if (B === 1) return rows;
      const out = new Float64Array(m * B * width);
      for (let d = 0; d < m; d++) out.set(rows.subarray(d * width, (d + 1) * width), d * B * width);
      return out;
    };
    const take = (rows: Float64Array, m: number, width: number): Float64Array => {
      if (B === 1) return rows;
      const out = new Float64Array(m * width);
      for (let d = 0; d < m; d++) out.set(rows.subarray(d * B * width, d * B * width + width), d * width);
      return out;
    };
    return {
      inputSize: this.inputSize,
      outputSize: this.outputSize,
      costPerRow: this.costPerDirection,
      apply: (rows, m) => take(this.jvp(place(rows, m, this.inputSize), m), m, this.outputSize),
      applyTranspose: (rows, m) => take(this.vjp(place(rows, m, this.outputSize), m), m, this.inputSize),
    };
  }
}

function multiplyByDerivative(
  values: Float64Array,
  derivative: Float64Array,
  rows: number,
  batch: number,
  width: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    const dOffset = (r % batch) * width;
    for (let j = 0; j < width; j++)
      values[o + j] = (values[o + j] as number) * (derivative[dOffset + j] as number);
  }
}

/**
 * d y = gamma invStd (dz - mean(dz) - x̂ mean(x̂ dz)) over each group (Ioffe & Szegedy 2015; Ba et al. 2016), in
 * place; the adjoint scales by gamma first and then applies the same symmetric projection.
 */
function normJvp(
  norm: LinearisedNorm,
  values: Float64Array,
  directions: number,
  batch: number,
  width: number,
): void {
  forEachGroup(norm, values, directions, batch, width, false);
}

function normVjp(
  norm: LinearisedNorm,
  values: Float64Array,
  directions: number,
  batch: number,
  width: number,
): void {
  forEachGroup(norm, values, directions, batch, width, true);
}

/**
 * Each normalisation group is a strided run: layer norm, one row's `width` features; batch norm, one feature over
 * one direction's B rows.
 */
function forEachGroup(
  norm: LinearisedNorm,
  values: Float64Array,
  directions: number,
  batch: number,
  width: number,
  adjoint: boolean,
): void {
  if (norm.mode === 'layer') {
    for (let r = 0; r < directions * batch; r++) {
      const b = r % batch;
      normGroup(norm, values, r * width, 1, b * width, width, norm.invStd[b] as number, 0, 1, adjoint);
    }
    return;
  }
  for (let d = 0; d < directions; d++) {
    for (let f = 0; f < width; f++) {
      normGroup(
        norm,
        values,
        d * batch * width + f,
        width,
        f,
        batch,
        norm.invStd[f] as number,
        f,
        0,
        adjoint,
      );
    }
  }
}

function normGroup(
  norm: LinearisedNorm,
  values: Float64Array,
  start: number,
  stride: number,
  normalisedStart: number,
  count: number,
  invStd: number,
  gammaStart: number,
  gammaStride: number,
  adjoint: boolean,
): void {
  const { gamma, normalised } = norm;
  if (adjoint) {
    for (let e = 0; e < count; e++) {
      const i = start + e * stride;
      values[i] = (values[i] as number) * (gamma[gammaStart + e * gammaStride] as number);
    }
  }
  let mean = 0;
  let meanProduct = 0;
  for (let e = 0; e < count; e++) {
    const v = values[start + e * stride] as number;
    mean += v;
    meanProduct += (normalised[normalisedStart + e * stride] as number) * v;
  }
  mean /= count;
  meanProduct /= count;
  for (let e = 0; e < count; e++) {
    const i = start + e * stride;
    const projected =
      invStd *
      ((values[i] as number) - mean - (normalised[normalisedStart + e * stride] as number) * meanProduct);
    values[i] = adjoint ? projected : projected * (gamma[gammaStart + e * gammaStride] as number);
  }
}
