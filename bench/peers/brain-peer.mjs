// brain.js peer (1.6.1). brain.js trains one sample at a time (no batches), so a "step" here is one pass of
// per-sample updates over a batch's worth of samples (64 for W1, 32 for W2): steps/s = samples/s / batch, the
// scaling issue 5 uses. Its API fixes parts of each workload, listed in `notes`.
import { createRequire } from 'node:module';
import { makeRandom, MemoryProbe, oneHot, runPeer, timeSteps } from './common.mjs';

const require = createRequire(import.meta.url);
const brain = require('brain.js');
const version = `brain.js ${require('brain.js/package.json').version}, per sample`;

function mlp(spec) {
  const s = spec.shapes.mlp;
  const rng = makeRandom(spec.seed);
  const net = new brain.NeuralNetwork({ hiddenLayers: new Array(s.depth).fill(s.width), activation: 'tanh' });
  const labels = rng.labels(s.batch, s.classes);
  const targets = oneHot(labels, s.classes);
  const samples = [];
  for (let r = 0; r < s.batch; r++) {
    samples.push({
      input: Array.from(rng.fillNormal(s.input)),
      output: Array.from(targets.subarray(r * s.classes, (r + 1) * s.classes)),
    });
  }
  // One short train() call sizes and initialises the net; the steps below call its per-sample update directly.
  net.train(samples.slice(0, 1), { iterations: 1, learningRate: s.learningRate, errorThresh: 0.000001 });
  net.trainOpts.momentum = 0; // plain SGD (train() refuses 0 as an option)
  return () => {
    let error = 0;
    for (const sample of samples) error += net.trainPattern(sample, true);
    return error / samples.length;
  };
}

function lstm(spec) {
  const s = spec.shapes.lstm;
  const rng = makeRandom(spec.seed);
  const net = new brain.recurrent.LSTMTimeStep({
    inputSize: s.input,
    hiddenLayers: [s.hidden],
    outputSize: s.input,
    learningRate: s.learningRate,
  });
  const sequences = [];
  for (let b = 0; b < s.batch; b++) {
    const sequence = [];
    for (let t = 0; t < s.steps; t++) sequence.push(Array.from(rng.fillUniform(s.input, 0, 1)));
    sequences.push(sequence);
  }
  net.train(sequences.slice(0, 1), { iterations: 1, learningRate: s.learningRate });
  return () => {
    let error = 0;
    for (const sequence of sequences) error += net.trainPattern(sequence, true);
    return error / sequences.length;
  };
}

runPeer('brain.js', async (spec) => {
  if (spec.workload === 'W3')
    throw new Error('brain.js has no matrix-product API to time (W3 is skipped for it)');
  const notes =
    spec.workload === 'W1'
      ? [
          'per-sample SGD: 64 updates per step instead of one batched update',
          'tanh on the output layer too and squared error instead of softmax cross-entropy (brain.js offers neither choice)',
        ]
      : [
          'per-sample: 32 sequences per step, one update each',
          'LSTMTimeStep predicts the next input at every step: an 8-wide head on every h instead of a 1-wide head on the last',
          'its update is RMSProp with gradient clipping (fixed in brain.js), not plain SGD',
        ];
  const step = spec.workload === 'W1' ? mlp(spec) : lstm(spec);
  const probe = new MemoryProbe();
  const { timing, iterations } = await timeSteps(spec, step, probe);
  return { version, steps: timing, iterations, memory: probe.result(), notes };
});
