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
  const step = spec.workload === 'W1' ? mlp(spec) : lstm(spec);
  const probe = new MemoryProbe();
  const { timing, iterations } = await timeSteps(spec, step, probe);
  return { version, steps: timing, iterations, memory: probe.result(), notes };
});
