// TensorFlow.js peer: `node tfjs-peer.mjs '<RunSpec>' cpu|wasm`. Plain ops on tf.variable weights, a step is
// `optimizer.minimize` (forward, tape gradients, SGD update) with the loss read back. The wasm backend uses SIMD
// when the runtime has it (Node 20 does) and one thread.
import * as tf from '@tensorflow/tfjs';
import { makeRandom, MemoryProbe, oneHot, runPeer, timeProducts, timeSteps } from './common.mjs';

const backend = process.argv[3] ?? 'cpu';

function mlp(spec) {
  const s = spec.shapes.mlp;
  const rng = makeRandom(spec.seed);
  const widths = [s.input, ...new Array(s.depth).fill(s.width), s.classes];
  const layers = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const i = widths[l];
    const o = widths[l + 1];
    layers.push({
      w: tf.variable(tf.tensor2d(rng.fillNormal(i * o, 1 / Math.sqrt(i)), [i, o])),
      b: tf.variable(tf.zeros([o])),
    });
  }
  const x = tf.tensor2d(rng.fillNormal(s.batch * s.input), [s.batch, s.input]);
  const y = tf.tensor2d(oneHot(rng.labels(s.batch, s.classes), s.classes), [s.batch, s.classes]);
  const optimizer = tf.train.sgd(s.learningRate);
  const loss = () => {
    let h = x;
    layers.forEach((layer, l) => {
      h = tf.add(tf.matMul(h, layer.w), layer.b);
      if (l + 1 < layers.length) h = tf.tanh(h);
    });
    return tf.losses.softmaxCrossEntropy(y, h);
  };
  return () => {
    const cost = optimizer.minimize(loss, true);
    const value = cost.dataSync()[0];
    cost.dispose();
    return value;
  };
}

/** LSTM with PyTorch's gate order, the input projection of all steps as one product, head on the last h, MSE. */
function lstm(spec) {
  const s = spec.shapes.lstm;
  const H = s.hidden;
  const rng = makeRandom(spec.seed);
  const k = 1 / Math.sqrt(H);
  const v = (n, shape) => tf.variable(tf.tensor(rng.fillUniform(n, -k, k), shape));
  const wih = v(s.input * 4 * H, [s.input, 4 * H]);
  const whh = v(H * 4 * H, [H, 4 * H]);
  const bih = v(4 * H, [4 * H]);
  const bhh = v(4 * H, [4 * H]);
  const wout = v(H * s.output, [H, s.output]);
  const bout = tf.variable(tf.zeros([s.output]));
  const x = tf.tensor2d(rng.fillUniform(s.steps * s.batch * s.input, 0, 1), [s.steps * s.batch, s.input]);
  const y = tf.tensor2d(rng.fillUniform(s.batch * s.output, 0, 1), [s.batch, s.output]);
  const optimizer = tf.train.sgd(s.learningRate);
  const loss = () => {
    const projected = tf.add(tf.matMul(x, wih), bih).reshape([s.steps, s.batch, 4 * H]);
    const perStep = tf.unstack(projected, 0);
    let h = tf.zeros([s.batch, H]);
    let c = tf.zeros([s.batch, H]);
    for (let t = 0; t < s.steps; t++) {
      const gates = tf.add(tf.add(perStep[t], tf.matMul(h, whh)), bhh);
      const [gi, gf, gg, go] = tf.split(gates, 4, 1);
      c = tf.add(tf.mul(tf.sigmoid(gf), c), tf.mul(tf.sigmoid(gi), tf.tanh(gg)));
      h = tf.mul(tf.sigmoid(go), tf.tanh(c));
    }
    return tf.losses.meanSquaredError(y, tf.add(tf.matMul(h, wout), bout));
  };
  return () => {
    const cost = optimizer.minimize(loss, true);
    const value = cost.dataSync()[0];
    cost.dispose();
    return value;
  };
}

/** W5: 3x3 "same" conv layers with ReLU (NHWC, filters [3, 3, in, out]), flatten, linear head, softmax CE. */
function conv(spec) {
  const s = spec.shapes.conv;
  const rng = makeRandom(spec.seed);
  const filters = [];
  let channels = s.inChannels;
  for (const out of s.channels) {
    const fanIn = 9 * channels;
    filters.push({
      w: tf.variable(tf.tensor4d(rng.fillNormal(fanIn * out, Math.sqrt(2 / fanIn)), [3, 3, channels, out])),
      b: tf.variable(tf.zeros([out])),
    });
    channels = out;
  }
  const features = channels * s.size * s.size;
  const wout = tf.variable(tf.tensor2d(rng.fillNormal(features * s.classes, Math.sqrt(1 / features)), [features, s.classes]));
  const bout = tf.variable(tf.zeros([s.classes]));
  const x = tf.tensor4d(rng.fillNormal(s.batch * s.inChannels * s.size * s.size), [s.batch, s.size, s.size, s.inChannels]);
  const y = tf.tensor2d(oneHot(rng.labels(s.batch, s.classes), s.classes), [s.batch, s.classes]);
  const optimizer = tf.train.sgd(s.learningRate);
  const loss = () => {
    let h = x;
    for (const f of filters) h = tf.relu(tf.add(tf.conv2d(h, f.w, 1, 'same'), f.b));
    return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(tf.reshape(h, [s.batch, features]), wout), bout));
  };
  return () => {
    const cost = optimizer.minimize(loss, true);
    const value = cost.dataSync()[0];
    cost.dispose();
    return value;
  };
}

/**
 * W6: a Pre-LN Transformer encoder written with tfjs ops: features -> dModel plus sinusoidal positions, per layer
 * x += Wo softmax(Q Kᵀ / sqrt(dh)) V over LN(x) (heads split by reshape/transpose) and x += W2 gelu(W1 LN(x)),
 * final LN, mean over the sequence, linear head, softmax CE. LayerNorm without affine parameters (tf.moments);
 * GELU in its tanh form (tfjs has no erf-based gelu op).
 */
function transformer(spec) {
  const s = spec.shapes.transformer;
  const { dModel: D, heads: Hn, ffWidth: F, seq: T, batch: B } = s;
  const dh = D / Hn;
  const rng = makeRandom(spec.seed);
  const dense = (i, o) => ({
    w: tf.variable(tf.tensor2d(rng.fillUniform(i * o, -Math.sqrt(6 / (i + o)), Math.sqrt(6 / (i + o))), [i, o])),
    b: tf.variable(tf.zeros([o])),
  });
  const apply = (l, h) => tf.add(tf.matMul(h, l.w), l.b);
  const embed = dense(s.input, D);
  const layers = [];
  for (let l = 0; l < s.layers; l++) {
    layers.push({ q: dense(D, D), k: dense(D, D), v: dense(D, D), o: dense(D, D), f1: dense(D, F), f2: dense(F, D) });
  }
  const head = dense(D, s.classes);
  const pe = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < D; i += 2) {
      const angle = t / Math.pow(10000, i / D);
      pe[t * D + i] = Math.sin(angle);
      if (i + 1 < D) pe[t * D + i + 1] = Math.cos(angle);
    }
  }
  const positions = tf.tensor3d(pe, [1, T, D]);
  const x = tf.tensor3d(rng.fillNormal(B * T * s.input), [B, T, s.input]);
  const y = tf.tensor2d(oneHot(rng.labels(B, s.classes), s.classes), [B, s.classes]);
  const optimizer = tf.train.sgd(s.learningRate);
  const norm = (h) => {
    const { mean, variance } = tf.moments(h, -1, true);
    return tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5)));
  };
  const gelu = (h) =>
    tf.mul(tf.mul(h, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(h, tf.mul(tf.pow(h, 3), 0.044715)), Math.sqrt(2 / Math.PI)))));
  const splitHeads = (h) => tf.transpose(tf.reshape(h, [B, T, Hn, dh]), [0, 2, 1, 3]);
  const loss = () => {
    let h = tf.add(tf.reshape(apply(embed, tf.reshape(x, [B * T, s.input])), [B, T, D]), positions);
    for (const l of layers) {
      const n = tf.reshape(norm(h), [B * T, D]);
      const q = splitHeads(apply(l.q, n));
      const k = splitHeads(apply(l.k, n));
      const v = splitHeads(apply(l.v, n));
      const weights = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh)));
      const context = tf.reshape(tf.transpose(tf.matMul(weights, v), [0, 2, 1, 3]), [B * T, D]);
      h = tf.add(h, tf.reshape(apply(l.o, context), [B, T, D]));
      const n2 = tf.reshape(norm(h), [B * T, D]);
      h = tf.add(h, tf.reshape(apply(l.f2, gelu(apply(l.f1, n2))), [B, T, D]));
    }
    return tf.losses.softmaxCrossEntropy(y, apply(head, tf.mean(norm(h), 1)));
  };
  return () => {
    const cost = optimizer.minimize(loss, true);
    const value = cost.dataSync()[0];
    cost.dispose();
    return value;
  };
}

function product(spec, shape, kind) {
  const rng = makeRandom(spec.seed);
  const { m, k, n } = shape;
  const a = tf.tensor2d(rng.fillNormal(m * k), [m, k]);
  const b = tf.tensor2d(rng.fillNormal(k * n), [k, n]);
  const dc = tf.tensor2d(rng.fillNormal(m * n), [m, n]);
  const run = {
    NN: () => tf.matMul(a, b, false, false),
    NT: () => tf.matMul(dc, b, false, true),
    TN: () => tf.matMul(a, dc, true, false),
  }[kind];
  return () => run().dispose();
}

runPeer(`tfjs-${backend}`, async (spec) => {
  if (backend === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
  } else if (backend !== 'cpu') {
    throw new Error(`unknown TensorFlow.js backend "${backend}"; use cpu or wasm`);
  }
  if (!(await tf.setBackend(backend)))
    throw new Error(`TensorFlow.js could not start its ${backend} backend`);
  await tf.ready();
  let simd = '';
  if (backend === 'wasm') {
    const features = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
    simd = `, ${features}, ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'threads available' : 'one thread'}`;
  }
  const version = `@tensorflow/tfjs ${tf.version.tfjs}, ${backend}${simd}`;
  const notes = ['weights stored [in, out]'];
  if (spec.workload === 'W3') {
    const probe = new MemoryProbe();
    const { products, iterations } = await timeProducts(spec, ['NN', 'NT', 'TN'], (shape, kind) =>
      product(spec, shape, kind),
    );
    return { version, products, iterations, memory: probe.result(), notes };
  }
  const builders = { W1: mlp, W2: lstm, W5: conv, W6: transformer };
  const build = builders[spec.workload];
  if (!build) throw new Error(`the TensorFlow.js peer runs W1, W2, W3, W5 and W6, not ${spec.workload}`);
  if (spec.workload === 'W5') notes.push('NHWC images, filters [3, 3, in, out]');
  if (spec.workload === 'W6') notes.push('LayerNorm without affine parameters; tanh-form GELU; Q, K, V as three products');
  const step = build(spec);
  const probe = new MemoryProbe();
  const { timing, iterations } = await timeSteps(spec, step, probe);
  return { version, steps: timing, iterations, memory: probe.result(), notes };
});
