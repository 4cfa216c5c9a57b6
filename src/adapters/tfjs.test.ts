/** The adapter on real TensorFlow.js models (the cpu backend of the `@tensorflow/tfjs` devDependency). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { TfjsMonitor } from './tfjs.js';

tf.setBackend('cpu');

function deepModel(
  activation: 'sigmoid' | 'relu',
  kernelInitializer: 'glorotUniform' | 'heNormal',
): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [8], units: 32, activation, kernelInitializer }));
  for (let i = 0; i < 14; i++) model.add(tf.layers.dense({ units: 32, activation, kernelInitializer }));
  model.add(tf.layers.dense({ units: 2 }));
  return model;
}

function train(model: tf.Sequential, steps: number): TfjsMonitor {
  const monitor = new TfjsMonitor(model, { every: 5 });
  const optimizer = tf.train.sgd(0.1);
  const x = tf.randomNormal([32, 8], 0, 1, 'float32', 1);
  const labels = tf.tensor1d(
    Array.from({ length: 32 }, (_, i) => i % 2),
    'int32',
  );
  const y = tf.oneHot(labels, 2);
  for (let step = 1; step <= steps; step++) {
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar,
    );
    if (monitor.shouldRecord(step)) monitor.record(step, value.dataSync()[0] as number, grads);
    optimizer.applyGradients(grads);
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
  }
  return monitor;
}

describe('TensorFlow.js adapter', () => {
  it('records per-layer gradients in run-log form, input side first', () => {
    const monitor = train(deepModel('relu', 'heNormal'), 6);
    const first = monitor.records[0]!;
    assert.equal(first.step, 1);
    assert.equal(first.params.length, 32);
    assert.deepEqual([first.params[0]!.layer, first.params[31]!.layer], [0, 15]);
    assert.ok(first.params.every((p) => Number.isFinite(p.gradNorm) && p.gradNorm > 0));
    assert.ok(Number.isNaN(first.params[0]!.updateRatio), 'no update before the first step');
    assert.ok(monitor.records[1]!.params[0]!.updateRatio > 0);
  });

  it('a 16-layer sigmoid tfjs model with Glorot init is diagnosed vanishing; ReLU + He is not', () => {
    const sick = train(deepModel('sigmoid', 'glorotUniform'), 30).diagnose();
    assert.equal(sick.verdict, 'vanishing');
    assert.ok(sick.findings.some((f) => f.code === 'vanishing_gradient'));
    const fixed = train(deepModel('relu', 'heNormal'), 30).diagnose();
    assert.notEqual(fixed.verdict, 'vanishing');
  });

  it('refuses a model without trainable weights', () => {
    assert.throws(() => new TfjsMonitor({ layers: [] }), /no trainable weights/);
  });
});
