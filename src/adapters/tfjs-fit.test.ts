/** The fit watcher on real `model.fit` / `fitDataset` runs (the cpu backend of the `@tensorflow/tfjs` devDependency). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { watchFit, type TfFitModelLike } from './tfjs.js';

await tf.setBackend('cpu');

/** `depth` hidden layers of 32 units, seeded so that two builds hold the same initial weights. */
function deepModel(activation: 'sigmoid' | 'relu', depth: number, learningRate = 0.1): tf.Sequential {
  const init = (seed: number) =>
    activation === 'relu' ? tf.initializers.heNormal({ seed }) : tf.initializers.glorotUniform({ seed });
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [8], units: 32, activation, kernelInitializer: init(1) }));
  for (let i = 0; i < depth - 1; i++)
    model.add(tf.layers.dense({ units: 32, activation, kernelInitializer: init(i + 2) }));
  model.add(tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: init(100) }));
  model.compile({ optimizer: tf.train.sgd(learningRate), loss: 'categoricalCrossentropy' });
  return model;
}

function data(): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = tf.randomNormal([128, 8], 0, 1, 'float32', 7) as tf.Tensor2D;
  const labels = tf.tidy(() => tf.greater(tf.sum(x.slice([0, 0], [128, 4]), 1), 0).toInt());
  return { x, y: tf.oneHot(labels as tf.Tensor1D, 2).toFloat() as tf.Tensor2D };
}

const asWatched = (model: tf.Sequential): TfFitModelLike => model as unknown as TfFitModelLike;

describe('watchFit: TensorFlow.js model.fit', () => {
  it('diagnoses a 16-layer sigmoid model trained with fit as vanishing, with activations and the learning rate', async () => {
    const model = deepModel('sigmoid', 16);
    const { x, y } = data();
    const watcher = watchFit(asWatched(model), { every: 5 });
    await model.fit(x, y, { epochs: 10, batchSize: 32, shuffle: false, verbose: 0 });
    watcher.stop();
    const records = watcher.records;
    assert.deepEqual(
      records.map((r) => r.step).slice(0, 4),
      [1, 5, 10, 15],
      'step 1, then every 5th of the 40 optimiser steps',
    );
    assert.equal(records[records.length - 1]?.step, 40);
    const first = records[0]!;
    assert.equal(first.lr, 0.1);
    assert.equal(first.activations.length, 17, 'every layer, the softmax output included');
    assert.ok(first.activations.slice(0, 16).every((a) => a.dead === 0 && a.std >= 0 && a.saturated <= 1));
    assert.ok(records.every((r) => Number.isFinite(r.loss) && r.loss > 0));
    assert.ok(
      first.params.every((p) => Number.isFinite(p.updateRatio)),
      'exact updates from step 1 on',
    );
    const { verdict, findings } = watcher.diagnose();
    assert.equal(verdict, 'vanishing');
    assert.ok(findings.some((f) => f.code === 'vanishing_gradient'));
  });

  it('records the loss and gradients tfjs computes itself', async () => {
    const model = deepModel('relu', 4);
    const { x, y } = data();
    // The first batch at the initial weights, computed directly.
    const xb = x.slice([0, 0], [32, 8]);
    const yb = y.slice([0, 0], [32, 2]);
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.metrics.categoricalCrossentropy(yb, model.predict(xb) as tf.Tensor)) as tf.Scalar,
    );
    const loss = value.dataSync()[0] as number;
    const norms = Object.fromEntries(
      Object.entries(grads).map(([k, g]) => [k, tf.norm(g).dataSync()[0] as number]),
    );
    const watcher = watchFit(asWatched(model), { every: 2 });
    await model.fit(x, y, { epochs: 1, batchSize: 32, shuffle: false, verbose: 0 });
    watcher.stop();
    const first = watcher.records[0]!;
    assert.ok(Math.abs(first.loss - loss) < 1e-5 * loss, `${first.loss} vs ${loss}`);
    for (const p of first.params) {
      const expected = norms[p.name] as number;
      assert.ok(
        Math.abs(p.gradNorm - expected) <= 1e-5 * expected + 1e-9,
        `${p.name}: ${p.gradNorm} vs ${expected}`,
      );
    }
    assert.deepEqual(
      watcher.records.map((r) => r.step),
      [1, 2, 4],
    );
  });

  it('leaves the training bit-identical to an unwatched fit, and stop() puts everything back', async () => {
    const { x, y } = data();
    const plain = deepModel('sigmoid', 6);
    const watched = deepModel('sigmoid', 6);
    await plain.fit(x, y, { epochs: 3, batchSize: 16, shuffle: false, verbose: 0 });
    const watcher = watchFit(asWatched(watched), { every: 1 });
    const history = await watched.fit(x, y, { epochs: 3, batchSize: 16, shuffle: false, verbose: 0 });
    watcher.stop();
    assert.equal(watcher.records.length, 24);
    const a = plain.getWeights().map((w) => Array.from(w.dataSync()));
    const b = watched.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(b, a, 'same weights, bit for bit');
    assert.equal(history.history['loss']?.length, 3);
    const optimizer = watched.optimizer as unknown as Record<string, unknown>;
    assert.equal(Object.hasOwn(optimizer, 'applyGradients'), false);
    assert.equal(Object.hasOwn(optimizer, 'computeGradients'), false);
    assert.equal(Object.hasOwn(watched.layers[0] as object, 'apply'), false);
  });

  it('watches fitDataset too', async () => {
    const model = deepModel('relu', 3);
    const { x, y } = data();
    const dataset = tf.data.zip({ xs: tf.data.array(x.unstack()), ys: tf.data.array(y.unstack()) }).batch(32);
    const seen: number[] = [];
    const watcher = watchFit(asWatched(model), { every: 3, onRecord: (r) => seen.push(r.step) });
    await model.fitDataset(dataset as never, { epochs: 2, verbose: 0 });
    watcher.stop();
    assert.deepEqual(seen, [1, 3, 6]);
    assert.equal(watcher.records[0]?.activations.length, 4);
  });

  it('refuses a model that is not compiled', () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [2], units: 1 }));
    assert.throws(() => watchFit(asWatched(model)), /needs a compiled model: call model\.compile/);
  });
});
