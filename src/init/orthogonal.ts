/**
 * Structured initialisers for square-ish weights, above all recurrent ones: a random orthogonal matrix
 * (every singular value 1, so repeated multiplication neither shrinks nor blows up a signal) and the identity.
 */
import type { Rng } from '../tensor/rng.js';
import type { Buffer, Shape } from '../tensor/tensor.js';
import { checkNonNegative, checkTarget, formatShape, InitError, type Initializer } from './initializer.js';

/**
 * A random (semi-)orthogonal matrix times `gain` (Saxe et al. 2014, "Exact solutions to the nonlinear dynamics of
 * learning in deep linear neural networks": orthogonal weights give depth-independent learning times).
 *
 * The shape is read as [rows, cols] with trailing dimensions flattened into cols. With rows >= cols the columns are
 * orthonormal (W^T W = gain^2 I); with rows < cols the rows are (W W^T = gain^2 I). The matrix is Q from the QR
 * factorisation of a Gaussian matrix (Householder reflections in float64), its columns multiplied by the signs of
 * diag(R) so that R has a positive diagonal; that makes Q Haar-distributed (Mezzadri 2007, "How to generate random
 * matrices from the classical compact groups", sec. 5), as torch.nn.init.orthogonal_ does.
 *
 * @example
 * const w = new Float64Array(128 * 128);
 * orthogonal()(w, [128, 128], rng); // W W^T = I to rounding
 */
export function orthogonal(gain = 1): Initializer {
  checkNonNegative('orthogonal', 'gain', gain);
  return (out: Buffer, shape: Shape, rng: Rng): void => {
    if (shape.length < 2) {
      throw new InitError(
        'invalid_shape',
        `orthogonal needs a 2-D or higher shape, got ${formatShape(shape)}; for a bias use a constant or ` +
          `{ normal: std } instead.`,
      );
    }
    checkTarget('orthogonal', out, shape);
    if (out.length === 0) return;
    const rows = shape[0] as number;
    const cols = out.length / rows;
    // Factor the tall orientation, m x n with m >= n, stored column-major so each column is contiguous.
    // The Gaussian draws fill the rows x cols matrix G in row-major order; for rows >= cols the column-major
    // buffer of G is a transpose away, for rows < cols the row-major buffer of G *is* the column-major buffer of
    // G^T (cols x rows), and the resulting Q^T's row-major layout is that same buffer.
    const tall = rows >= cols;
    const m = tall ? rows : cols;
    const n = tall ? cols : rows;
    const a = new Float64Array(m * n);
    if (tall) {
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) a[j * m + i] = rng.normal();
    } else {
      for (let k = 0; k < a.length; k++) a[k] = rng.normal();
    }
    const q = householderQ(a, m, n);
    if (tall) {
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) out[i * cols + j] = gain * (q[j * m + i] as number);
    } else {
      for (let k = 0; k < q.length; k++) out[k] = gain * (q[k] as number);
    }
  };
}

/**
 * The thin Q (m x n, column-major) of the QR factorisation of `a` (m x n, column-major, m >= n, overwritten), with
 * column j multiplied by sign(R_jj) (Mezzadri 2007). Householder rather than Gram-Schmidt because its orthogonality
 * error is O(eps) whatever the conditioning of `a` (Golub & Van Loan, sec. 5.2).
 */
function householderQ(a: Float64Array, m: number, n: number): Float64Array {
  const reflectors = new Float64Array(m * n); // v_k in column k, rows k..m-1, unit norm (or zero: H_k = I)
  const signs = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const col = k * m;
    let norm2 = 0;
    for (let i = k; i < m; i++) norm2 += (a[col + i] as number) ** 2;
    const norm = Math.sqrt(norm2);
    const x0 = a[col + k] as number;
    // H_k x = alpha e_1 with alpha = -sign(x0) ||x||, the choice that avoids cancellation in v = x - alpha e_1.
    const alpha = x0 >= 0 ? -norm : norm;
    signs[k] = alpha > 0 ? 1 : alpha < 0 ? -1 : 1; // R_kk = alpha
    const v = k * m;
    let vnorm2 = 0;
    for (let i = k; i < m; i++) {
      const vi = i === k ? x0 - alpha : (a[col + i] as number);
      reflectors[v + i] = vi;
      vnorm2 += vi * vi;
    }
    if (vnorm2 === 0) continue; // x is already alpha e_1 (only when x = 0): H_k = I
    const inv = 1 / Math.sqrt(vnorm2);
    for (let i = k; i < m; i++) reflectors[v + i] = (reflectors[v + i] as number) * inv;
    // Apply H_k = I - 2 v v^T to the remaining columns k+1..n-1 (column k becomes alpha e_1, never read again).
    for (let j = k + 1; j < n; j++) applyReflector(reflectors, v, a, j * m, k, m);
  }
  // Q = H_0 H_1 ... H_{n-1} [I_n; 0], accumulated from the right; before H_k is applied, rows >= k of columns < k
  // are still zero, so only columns k..n-1 change.
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * m + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    for (let j = k; j < n; j++) applyReflector(reflectors, k * m, q, j * m, k, m);
  }
  for (let j = 0; j < n; j++) {
    if (signs[j] === -1) for (let i = 0; i < m; i++) q[j * m + i] = -(q[j * m + i] as number);
  }
  return q;
}

/** target[t + k..m-1] -= 2 v (v . target) for the unit reflector v at reflectors[v + k..m-1]. */
function applyReflector(
  reflectors: Float64Array,
  v: number,
  target: Float64Array,
  t: number,
  k: number,
  m: number,
): void {
  let dot = 0;
  for (let i = k; i < m; i++) dot += (reflectors[v + i] as number) * (target[t + i] as number);
  if (dot === 0) return;
  const scale = 2 * dot;
  for (let i = k; i < m; i++)
    target[t + i] = (target[t + i] as number) - scale * (reflectors[v + i] as number);
}

/**
 * `gain` on the diagonal of the leading square block, zeros elsewhere (Le, Jaitly & Hinton 2015, "A Simple Way to
 * Initialize Recurrent Networks of Rectified Linear Units": the IRNN's recurrent weight is I, so at initialisation
 * a relu RNN copies its state forward and gradients neither vanish nor explode through time). Draws nothing.
 *
 * @example
 * identity()(w, [4, 4], rng); // I_4
 */
export function identity(gain = 1): Initializer {
  checkNonNegative('identity', 'gain', gain);
  return (out: Buffer, shape: Shape): void => {
    if (shape.length !== 2) {
      throw new InitError(
        'invalid_shape',
        `identity needs a 2-D shape [rows, cols], got ${formatShape(shape)}; use it for a recurrent ` +
          `[hidden, hidden] weight, or 'orthogonal' for other shapes.`,
      );
    }
    checkTarget('identity', out, shape);
    const rows = shape[0] as number;
    const cols = shape[1] as number;
    out.fill(0);
    for (let i = 0; i < Math.min(rows, cols); i++) out[i * cols + i] = gain;
  };
}

/**
 * Delta-orthogonal initialisation of a convolution kernel [C_out, C_in, k_1, k_2, ...] (Xiao et al. 2018,
 * "Dynamical Isometry and a Mean Field Theory of CNNs: How to Train 10,000-Layer Vanilla Convolutional Neural
 * Networks", Algorithm 2): every tap is zero except the spatial centre, which holds a random (semi-)orthogonal
 * C_out x C_in matrix times `gain` (drawn as `orthogonal`). At initialisation the layer is then an orthogonal map
 * applied at every pixel on its own, so a deep stack neither mixes nor loses the signal through zero-padded borders,
 * and its input-output Jacobian is as well conditioned as a deep orthogonal fully connected net's (dynamical
 * isometry). The centre of an even-sized kernel dimension k is tap floor(k / 2). A weight of rank 2 is read as a
 * kernel with a single tap (a 1x1 convolution, a dense layer), for which delta-orthogonal is `orthogonal` itself.
 *
 * @example
 * const w = new Float64Array(16 * 16 * 3 * 3);
 * deltaOrthogonal()(w, [16, 16, 3, 3], rng); // w[:, :, 1, 1] orthogonal, every other tap 0
 */
export function deltaOrthogonal(gain = 1): Initializer {
  checkNonNegative('delta-orthogonal', 'gain', gain);
  const centre = orthogonal(gain);
  return (out: Buffer, shape: Shape, rng: Rng): void => {
    if (shape.length < 2) {
      throw new InitError(
        'invalid_shape',
        `delta-orthogonal needs a convolution kernel [out, in, kh, kw] (or a 2-D weight), got ${formatShape(shape)}; ` +
          `for a bias use a constant or { normal: std } instead.`,
      );
    }
    checkTarget('delta-orthogonal', out, shape);
    if (out.length === 0) return;
    const rows = shape[0] as number;
    const cols = shape[1] as number;
    const matrix = new Float64Array(rows * cols);
    centre(matrix, [rows, cols], rng);
    // Row-major offset of the centre tap within one [k_1, k_2, ...] block.
    let taps = 1;
    let offset = 0;
    for (let d = 2; d < shape.length; d++) {
      const k = shape[d] as number;
      offset = offset * k + Math.floor(k / 2);
      taps *= k;
    }
    out.fill(0);
    for (let i = 0; i < rows * cols; i++) out[i * taps + offset] = matrix[i] as number;
  };
}
