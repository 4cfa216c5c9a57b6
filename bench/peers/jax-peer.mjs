// jax-js peer (@jax-js/jax, wasm backend): each training step is one `jit`-compiled function that computes the
// loss, its gradient (valueAndGrad) and the SGD update, so jax-js can fuse element-wise chains into its generated
// WebAssembly kernels. Arrays follow jax-js's reference counting: a function consumes its arguments, `.ref` keeps
// one alive. Node needs `init('wasm')` first; it then runs single-threaded.
import { createRequire } from 'node:module';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { defaultDevice, init, jit, lax, nn, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import { makeRandom, MemoryProbe, oneHot, runPeer, timeProducts, timeSteps } from './common.mjs';

const require = createRequire(import.meta.url);
const version = (() => {
  try {
    const path = require.resolve('@jax-js/jax').replace(/dist[\\/].*$/, 'package.json');
    return `@jax-js/jax ${JSON.parse(require('node:fs').readFileSync(path, 'utf8')).version}, wasm, jit`;
  } catch {
    return '@jax-js/jax (version unknown), wasm, jit';
  }
})();

/** W1: 8 tanh layers of 256, linear output, mean softmax cross-entropy, SGD. Weights stored [in, out]. */
function mlp(spec) {
  const s = spec.shapes.mlp;
  const rng = makeRandom(spec.seed);
  const widths = [s.input, ...new Array(s.depth).fill(s.width), s.classes];
  const params = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const i = widths[l];
    const o = widths[l + 1];
    params.push({ w: np.array(rng.fillNormal(i * o, 1 / Math.sqrt(i))).reshape([i, o]), b: np.zeros([o]) });
  }
  const x = np.array(rng.fillNormal(s.batch * s.input)).reshape([s.batch, s.input]);
  const y = np.array(oneHot(rng.labels(s.batch, s.classes), s.classes)).reshape([s.batch, s.classes]);
  const loss = (p, xs, ys) => {
    let h = xs;
    p.forEach((layer, l) => {
      h = np.dot(h, layer.w).add(layer.b);
      if (l + 1 < p.length) h = np.tanh(h);
    });
    return nn
      .logSoftmax(h, -1)
      .mul(ys)
      .sum()
      .mul(-1 / s.batch);
  };
  return sgdStep(loss, params, [x, y], s.learningRate);
}

/**
 * W2: LSTM in PyTorch's gate order (i, f, g, o), weights [in, 4H] and [H, 4H], the input projection of all T steps
 * as one product before the loop, the loop unrolled in JavaScript inside `jit` (jax-js has no scan), a linear head
 * on the last h, MSE, SGD.
 */
function lstm(spec) {
  const s = spec.shapes.lstm;
  const H = s.hidden;
  const rng = makeRandom(spec.seed);
  const k = 1 / Math.sqrt(H);
  const params = {
    wih: np.array(rng.fillUniform(s.input * 4 * H, -k, k)).reshape([s.input, 4 * H]),
    whh: np.array(rng.fillUniform(H * 4 * H, -k, k)).reshape([H, 4 * H]),
    bih: np.array(rng.fillUniform(4 * H, -k, k)),
    bhh: np.array(rng.fillUniform(4 * H, -k, k)),
    wout: np.array(rng.fillUniform(H * s.output, -k, k)).reshape([H, s.output]),
    bout: np.zeros([s.output]),
  };
  const x = np
    .array(rng.fillUniform(s.steps * s.batch * s.input, 0, 1))
    .reshape([s.steps * s.batch, s.input]);
  const y = np.array(rng.fillUniform(s.batch * s.output, 0, 1)).reshape([s.batch, s.output]);
  const loss = (p, xs, ys) => {
    const projected = np
      .dot(xs, p.wih)
      .add(p.bih)
      .reshape([s.steps, s.batch, 4 * H]);
    const perStep = np.unstack(projected, 0);
    let h = np.zeros([s.batch, H]);
    let c = np.zeros([s.batch, H]);
    for (let t = 0; t < s.steps; t++) {
      const gates = perStep[t].add(np.dot(h, p.whh.ref)).add(p.bhh.ref);
      const [gi, gf, gg, go] = np.split(gates, 4, 1);
      c = nn
        .sigmoid(gf)
        .mul(c)
        .add(nn.sigmoid(gi).mul(np.tanh(gg)));
      h = nn.sigmoid(go).mul(np.tanh(c.ref));
    }
    c.dispose();
    p.whh.dispose();
    p.bhh.dispose();
    const prediction = np.dot(h, p.wout).add(p.bout);
    const diff = prediction.sub(ys);
    return diff.ref.mul(diff).mean();
  };
  return sgdStep(loss, params, [x, y], s.learningRate);
}

/** Mean softmax cross-entropy of logits [B, classes] against one-hot rows. */
function crossEntropy(logits, ys, batch) {
  return nn
    .logSoftmax(logits, -1)
    .mul(ys)
    .sum()
    .mul(-1 / batch);
}

/** One jit-compiled SGD step of `loss(params, ...data)`, returning a closure that trains and reads the loss back. */
function sgdStep(loss, initial, data, learningRate) {
  const update = jit((p, ...xs) => {
    const [value, grads] = valueAndGrad(loss)(tree.ref(p), ...xs);
    return [tree.map((w, g) => w.sub(g.mul(learningRate)), p, grads), value];
  });
  let params = initial;
  return () => {
    const [next, value] = update(params, ...data.map((d) => d.ref));
    params = next;
    return value.item();
  };
}

/** A 3x3 "same" convolution, stride 1, x [B, C, S, S] and w [O, C, 3, 3], by jax-js's own `lax.conv`. */
function laxConv3x3(x, w) {
  return lax.conv(x, w, [1, 1], 'SAME');
}

/**
 * The same convolution as one product: the nine shifted views of the zero-padded input stacked into columns
 * [B, C 9, S S] (im2col), then W [O, C 9] times the columns. Same sums as `lax.conv` (bit for bit here), but its
 * backward runs through jax-js's matmul kernels: W5's second layer's forward 7x faster than by `lax.conv`, the whole
 * W5 step 13.7x (docs/PERFORMANCE.md).
 */
function im2colConv3x3(x, w) {
  const [B, C, S] = x.shape;
  const O = w.shape[0];
  const padded = np.pad(x, [
    [0, 0],
    [0, 0],
    [1, 1],
    [1, 1],
  ]);
  const taps = [];
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) taps.push(padded.ref.slice([], [], [i, i + S], [j, j + S]));
  padded.dispose();
  const columns = np.stack(taps, 2).reshape([B, C * 9, S * S]);
  // [O, C 9] x [B, C 9, S S] contracts without batching: [O, B, S S].
  return np
    .matmul(w.reshape([O, C * 9]), columns)
    .transpose([1, 0, 2])
    .reshape([B, O, S, S]);
}

/**
 * W5 as gradscope's `convTraining` states it: 3x3 "same" convolutions (stride 1, NCHW, kernels [out, in, 3, 3]) with
 * bias and ReLU, flatten in C, H, W order, a linear head [features, classes], mean softmax cross-entropy, SGD.
 * He-normal weights (std sqrt(2 / fan_in), fan_in = C_in 9 for a kernel, the features for the head), zero biases.
 * `weights` (the test's) replaces the generated parameters and data: { params, x, labels } in this layout.
 * `formulation`: 'im2col' (the default, the faster) or 'lax-conv' (`node jax-peer.mjs '<RunSpec>' lax-conv`).
 */
export function convModel(spec, weights, formulation = 'im2col') {
  const s = spec.shapes.conv;
  const rng = makeRandom(spec.seed);
  const features = s.channels[s.channels.length - 1] * s.size * s.size;
  let given = weights;
  if (!given) {
    const layers = [];
    let channels = s.inChannels;
    for (const out of s.channels) {
      const fanIn = 9 * channels;
      layers.push({ w: rng.fillNormal(out * fanIn, Math.sqrt(2 / fanIn)), b: new Float32Array(out) });
      channels = out;
    }
    const head = {
      w: rng.fillNormal(features * s.classes, Math.sqrt(2 / features)),
      b: new Float32Array(s.classes),
    };
    const x = rng.fillNormal(s.batch * s.inChannels * s.size * s.size);
    given = { params: { layers, head }, x, labels: rng.labels(s.batch, s.classes) };
  }
  let channels = s.inChannels;
  const layers = s.channels.map((out, l) => {
    const { w, b } = given.params.layers[l];
    const layer = { w: np.array(w).reshape([out, channels, 3, 3]), b: np.array(b).reshape([out, 1, 1]) };
    channels = out;
    return layer;
  });
  const head = {
    w: np.array(given.params.head.w).reshape([features, s.classes]),
    b: np.array(given.params.head.b),
  };
  const x = np.array(given.x).reshape([s.batch, s.inChannels, s.size, s.size]);
  const y = np.array(oneHot(given.labels, s.classes)).reshape([s.batch, s.classes]);
  const convolve = formulation === 'lax-conv' ? laxConv3x3 : im2colConv3x3;
  const loss = (p, xs, ys) => {
    let h = xs;
    for (const layer of p.layers) h = nn.relu(convolve(h, layer.w).add(layer.b));
    return crossEntropy(np.dot(h.reshape([s.batch, features]), p.head.w).add(p.head.b), ys, s.batch);
  };
  return sgdStep(loss, { layers, head }, [x, y], s.learningRate);
}

/** Sinusoidal positions [T, D] (Vaswani et al. 2017, section 3.5), as gradscope's `sinusoidalPositions`. */
function sinusoidal(length, width) {
  const table = new Float32Array(length * width);
  for (let t = 0; t < length; t++) {
    for (let i = 0; i < width; i++) {
      const angle = t / Math.pow(10000, (i - (i % 2)) / width);
      table[t * width + i] = i % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return table;
}

/**
 * W6 as gradscope's `transformerTraining` states it (and PyTorch's nn.TransformerEncoder with norm_first): x [T, B,
 * in] time-major projected to dModel, batch-major from there, plus sinusoidal positions; per layer
 * x += Wo attention(LN(x)) with Q, K, V from one [D, 3D] product and `heads` heads (batched products, scale
 * 1 / sqrt(dModel / heads)), then x += W2 gelu(W1 LN(x)) with the exact (erf) GELU; a final LN, the mean over the
 * sequence, a linear head, mean softmax cross-entropy, SGD. LayerNorms have learnable scale and shift (eps 1e-5).
 * Xavier-uniform weights, zero biases. Weights are stored [in, out]; `weights` as in `convModel`.
 */
export function transformerModel(spec, weights) {
  const s = spec.shapes.transformer;
  const { dModel: D, heads: N, ffWidth: F, seq: T, batch: B } = s;
  const dh = D / N;
  const rng = makeRandom(spec.seed);
  let given = weights;
  if (!given) {
    const dense = (i, o) => {
      const limit = Math.sqrt(6 / (i + o));
      return { w: rng.fillUniform(i * o, -limit, limit), b: new Float32Array(o) };
    };
    const norm = () => ({ g: new Float32Array(D).fill(1), b: new Float32Array(D) });
    const layers = [];
    for (let l = 0; l < s.layers; l++) {
      layers.push({
        norm1: norm(),
        qkv: dense(D, 3 * D),
        out: dense(D, D),
        norm2: norm(),
        up: dense(D, F),
        down: dense(F, D),
      });
    }
    const params = { embed: dense(s.input, D), layers, finalNorm: norm(), head: dense(D, s.classes) };
    const x = rng.fillNormal(T * B * s.input);
    given = { params, x, labels: rng.labels(B, s.classes) };
  }
  const arr = (values, shape) => np.array(values).reshape(shape);
  const dense = ({ w, b }, i, o) => ({ w: arr(w, [i, o]), b: arr(b, [o]) });
  const norm = ({ g, b }) => ({ g: arr(g, [D]), b: arr(b, [D]) });
  const p0 = given.params;
  const params = {
    embed: dense(p0.embed, s.input, D),
    layers: p0.layers.map((l) => ({
      norm1: norm(l.norm1),
      qkv: dense(l.qkv, D, 3 * D),
      out: dense(l.out, D, D),
      norm2: norm(l.norm2),
      up: dense(l.up, D, F),
      down: dense(l.down, F, D),
    })),
    finalNorm: norm(p0.finalNorm),
    head: dense(p0.head, D, s.classes),
  };
  const x = arr(given.x, [T * B, s.input]);
  const y = arr(oneHot(given.labels, s.classes), [B, s.classes]);
  const positions = arr(sinusoidal(T, D), [T, D]);
  const affine = (h, l) => np.dot(h, l.w).add(l.b);
  const layerNorm = (h, n) => nn.standardize(h, -1, { epsilon: 1e-5 }).mul(n.g).add(n.b);
  const loss = (p, xs, ys, pe) => {
    // [T B, in] -> [T, B, D] -> batch-major [B T, D] rows for every product below.
    let h = affine(xs, p.embed)
      .reshape([T, B, D])
      .transpose([1, 0, 2])
      .add(pe)
      .reshape([B * T, D]);
    for (const l of p.layers) {
      const qkv = affine(layerNorm(h.ref, l.norm1), l.qkv);
      // Heads [B, N, T, dh]; softmax(Q Kᵀ / sqrt(dh)) V (Vaswani et al. 2017, eq. 1) as batched products.
      const [q, k, v] = np.split(qkv, 3, 1).map((t) => t.reshape([B, T, N, dh]).transpose([0, 2, 1, 3]));
      const scores = np.matmul(q, k.transpose([0, 1, 3, 2])).mul(1 / Math.sqrt(dh));
      const heads = np.matmul(nn.softmax(scores, -1), v);
      const context = heads.transpose([0, 2, 1, 3]).reshape([B * T, D]);
      h = h.add(affine(context, l.out));
      const hidden = nn.gelu(affine(layerNorm(h.ref, l.norm2), l.up), { approximate: false });
      h = h.add(affine(hidden, l.down));
    }
    const pooled = layerNorm(h, p.finalNorm).reshape([B, T, D]).mean(1);
    return crossEntropy(affine(pooled, p.head), ys, B);
  };
  return sgdStep(loss, params, [x, y, positions], s.learningRate);
}

/** W3: jit-compiled products; the transposes are views jax-js folds into the product. */
function product(spec, shape, kind) {
  const rng = makeRandom(spec.seed);
  const { m, k, n } = shape;
  const a = np.array(rng.fillNormal(m * k)).reshape([m, k]);
  const b = np.array(rng.fillNormal(k * n)).reshape([k, n]);
  const dc = np.array(rng.fillNormal(m * n)).reshape([m, n]);
  const fns = {
    NN: [jit((p, q) => np.dot(p, q)), a, b],
    NT: [jit((p, q) => np.dot(p, q.transpose())), dc, b],
    TN: [jit((p, q) => np.dot(p.transpose(), q)), a, dc],
  };
  const [fn, p, q] = fns[kind];
  return async () => {
    const out = fn(p.ref, q.ref);
    await out.blockUntilReady();
    out.dispose();
  };
}

/** Runs when started as a peer (`node jax-peer.mjs '<RunSpec>'`); the bench test imports the models instead. */
export async function startWasm() {
  const devices = await init('wasm');
  if (!devices.includes('wasm'))
    throw new Error(`jax-js could not start its wasm backend (got ${devices.join(', ')})`);
  defaultDevice('wasm');
}

const builders = { W1: mlp, W2: lstm, W5: convModel, W6: transformerModel };

const formulation = process.argv[3] ?? 'im2col';
const startedAsPeer =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (startedAsPeer) {
  runPeer('jax-js', async (spec) => {
    await startWasm();
    const memory = new MemoryProbe();
    const notes = ['weights stored [in, out]'];
    if (spec.workload === 'W3') {
      const { products, iterations } = await timeProducts(spec, ['NN', 'NT', 'TN'], (shape, kind) =>
        product(spec, shape, kind),
      );
      return { version, products, iterations, memory: memory.result(), notes };
    }
    const build = builders[spec.workload];
    if (!build) throw new Error(`the jax-js peer runs W1, W2, W3, W5 and W6, not ${spec.workload}`);
    if (spec.workload === 'W2')
      notes.push('the time loop is unrolled in JavaScript under jit (jax-js has no scan)');
    if (spec.workload === 'W5') {
      notes.push(
        formulation === 'lax-conv'
          ? 'lax.conv (NCHW, kernels [out, in, 3, 3])'
          : 'conv as im2col (nine shifted views, stacked) + np.matmul: about 7x faster than lax.conv here',
      );
    }
    if (spec.workload === 'W6')
      notes.push(
        'attention as batched np.matmul + nn.softmax (nn.dotProductAttention needs Node 22: its einsum calls iterator helpers)',
        'nn.standardize for LayerNorm, exact (erf) GELU',
      );
    const step = spec.workload === 'W5' ? convModel(spec, undefined, formulation) : build(spec);
    const probe = new MemoryProbe();
    const { timing, iterations } = await timeSteps(spec, step, probe);
    return { version, steps: timing, iterations, memory: probe.result(), notes };
  });
}
