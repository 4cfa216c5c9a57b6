// jax-js peer (@jax-js/jax, wasm backend): each training step is one `jit`-compiled function that computes the
// loss, its gradient (valueAndGrad) and the SGD update, so jax-js can fuse element-wise chains into its generated
// WebAssembly kernels. Arrays follow jax-js's reference counting: a function consumes its arguments, `.ref` keeps
// one alive. Node needs `init('wasm')` first; it then runs single-threaded.
import { createRequire } from 'node:module';
import { defaultDevice, init, jit, nn, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
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
  let params = [];
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
  const lr = s.learningRate;
  const update = jit((p, xs, ys) => {
    const [value, grads] = valueAndGrad(loss)(tree.ref(p), xs, ys);
    return [tree.map((w, g) => w.sub(g.mul(lr)), p, grads), value];
  });
  return () => {
    const [next, value] = update(params, x.ref, y.ref);
    params = next;
    return value.item();
  };
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
  let params = {
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
  const lr = s.learningRate;
  const update = jit((p, xs, ys) => {
    const [value, grads] = valueAndGrad(loss)(tree.ref(p), xs, ys);
    return [tree.map((w, g) => w.sub(g.mul(lr)), p, grads), value];
  });
  return () => {
    const [next, value] = update(params, x.ref, y.ref);
    params = next;
    return value.item();
  };
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

runPeer('jax-js', async (spec) => {
  const devices = await init('wasm');
  if (!devices.includes('wasm'))
    throw new Error(`jax-js could not start its wasm backend (got ${devices.join(', ')})`);
  defaultDevice('wasm');
  const memory = new MemoryProbe();
  const notes = ['weights stored [in, out]'];
  if (spec.workload === 'W3') {
    const { products, iterations } = await timeProducts(spec, ['NN', 'NT', 'TN'], (shape, kind) =>
      product(spec, shape, kind),
    );
    return { version, products, iterations, memory: memory.result(), notes };
  }
  if (spec.workload === 'W2')
    notes.push('the time loop is unrolled in JavaScript under jit (jax-js has no scan)');
  const step = spec.workload === 'W1' ? mlp(spec) : lstm(spec);
  const probe = new MemoryProbe();
  const { timing, iterations } = await timeSteps(spec, step, probe);
  return { version, steps: timing, iterations, memory: probe.result(), notes };
});
