import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertClose,
  FixtureError,
  fixtureTensor,
  listFixtures,
  loadFixture,
  MAKE_FIXTURES_COMMAND,
  tensor,
  validateFixture,
  type Fixture,
} from './fixtures.js';

const ACTIVATIONS = [
  'sigmoid',
  'tanh',
  'relu',
  'leaky-relu',
  'prelu',
  'elu',
  'selu',
  'gelu',
  'softplus',
  'linear',
];
const OPTIMIZERS = ['sgd', 'sgd-momentum', 'sgd-nesterov', 'adagrad', 'rmsprop', 'adam', 'adamw', 'adam-l2'];
const RECURRENT = ['rnn-tanh', 'rnn-relu', 'lstm', 'lstm-2layer', 'gru'];
const EXPECTED = [
  ...ACTIVATIONS.map((a) => `dense-${a}`),
  'loss-cross-entropy',
  'loss-cross-entropy-large-logits',
  'loss-bce',
  'loss-bce-with-logits',
  'loss-mse',
  'log-softmax',
  'softmax',
  'batchnorm1d-train',
  'batchnorm1d-eval',
  'layernorm',
  ...OPTIMIZERS.map((o) => `optim-${o}`),
  ...RECURRENT,
  'grad-accumulate',
];

const data = (fx: Fixture, name: string): number[] => fixtureTensor(fx, name).data;
const scalar = (fx: Fixture, name: string): number => {
  const entry = fixtureTensor(fx, name);
  assert.deepEqual(entry.shape, [], `${fx.name} ${name} should be a scalar`);
  return entry.data[0] as number;
};

describe('fixture files', () => {
  it('include every fixture the oracle tests rely on', () => {
    const names = listFixtures();
    for (const name of EXPECTED) assert.ok(names.includes(name), `missing fixtures/${name}.json`);
  });

  for (const name of listFixtures()) {
    it(`${name} parses, and every tensor's data length is the product of its shape`, () => {
      const fx = loadFixture(name);
      assert.equal(fx.name, name);
      assert.ok(fx.description.length > 40, 'the description should say what was computed');
      assert.match(fx.torch, /^\d+\.\d+/);
      assert.ok(Object.keys(fx.tensors).length > 0);
      for (const [key, t] of Object.entries(fx.tensors)) {
        assert.equal(
          t.data.length,
          t.shape.reduce((n, d) => n * d, 1),
          `${name} ${key}`,
        );
        assert.ok(t.data.every(Number.isFinite), `${name} ${key} holds a non-finite value`);
        // grad.<name> has the shape of <name> (grad.p.step1 pairs with p.step1 in optimiser fixtures).
        if (key.startsWith('grad.')) {
          const primal = fx.tensors[key.slice('grad.'.length)];
          assert.ok(primal, `${name}: ${key} has no matching tensor ${key.slice('grad.'.length)}`);
          assert.deepEqual(t.shape, primal.shape, `${name}: ${key} shape`);
        }
      }
      if (!name.startsWith('optim-')) scalar(fx, 'loss');
    });
  }
});

describe('loader', () => {
  it('names the file and the command when a fixture is missing', () => {
    assert.throws(
      () => loadFixture('no-such-fixture'),
      (error: unknown) =>
        error instanceof FixtureError &&
        error.code === 'missing-fixture' &&
        error.message.includes('no-such-fixture.json') &&
        error.message.includes(MAKE_FIXTURES_COMMAND),
    );
  });

  it('rejects a tensor whose data does not fit its shape, naming the path', () => {
    const bad = {
      name: 'x',
      description: 'd',
      torch: '1.13',
      tensors: { w: { shape: [2, 3], data: [1, 2] } },
    };
    assert.throws(
      () => validateFixture(bad, 'bad.json'),
      (error: unknown) =>
        error instanceof FixtureError &&
        error.code === 'malformed-fixture' &&
        error.message.includes("tensors['w'].data") &&
        error.message.includes('bad.json'),
    );
  });

  it('builds engine tensors in float64 by default and float32 on request', () => {
    const fx = loadFixture('dense-tanh');
    const w = tensor(fx, 'layers.0.weight');
    assert.deepEqual([...w.shape], [6, 5]);
    assert.equal(w.dtype, 'float64');
    assert.deepEqual(Array.from(w.data), data(fx, 'layers.0.weight'));
    assert.equal(tensor(fx, 'x', 'float32').dtype, 'float32');
    assert.deepEqual([...tensor(fx, 'loss').shape], []);
    assert.throws(
      () => tensor(fx, 'nope'),
      (error: unknown) =>
        error instanceof FixtureError && error.code === 'missing-tensor' && error.message.includes('grad.x'),
    );
  });
});

describe('assertClose', () => {
  it('passes within tolerance', () => {
    assertClose([1, 2, 3], [1, 2 + 1e-7, 3], { what: 'near' });
    assertClose([0], [1e-9], { what: 'atol' });
    assertClose([NaN, Infinity], [NaN, Infinity], { what: 'non-finite' });
  });

  it('names the index, both values and what when it fails', () => {
    assert.throws(
      () => assertClose(new Float64Array([1, 2, 3.5, 4]), [1, 2, 3, 4], { what: 'grad.x of dense-tanh' }),
      (error: unknown) =>
        error instanceof Error &&
        error.message.includes('grad.x of dense-tanh') &&
        error.message.includes('index 2') &&
        error.message.includes('3.5') &&
        error.message.includes('expected 3'),
    );
  });

  it('uses the given tolerances', () => {
    assertClose([1.001], [1], { what: 'loose', rtol: 1e-2 });
    assert.throws(() => assertClose([1 + 1e-9], [1], { what: 'tight', rtol: 0, atol: 0 }), /tight/);
  });

  it('fails on NaN, infinities and length mismatches', () => {
    assert.throws(() => assertClose([NaN], [1], { what: 'nan' }), /nan: mismatch at index 0/);
    assert.throws(() => assertClose([1], [NaN], { what: 'expected nan' }), /expected nan/);
    assert.throws(() => assertClose([-Infinity], [Infinity], { what: 'inf' }), /inf/);
    assert.throws(() => assertClose([1, 2], [1], { what: 'len' }), /len: length mismatch/);
  });
});

// The fixtures agree with the formulas their descriptions state (recomputed here in plain TypeScript), so a
// description can be trusted when an engine test disagrees with a fixture.
describe('fixtures match their descriptions', () => {
  it('grad-accumulate: grad.x = w * (2x + 1)', () => {
    const fx = loadFixture('grad-accumulate');
    const x = data(fx, 'x');
    const w = data(fx, 'w');
    assertClose(
      data(fx, 'grad.x'),
      x.map((v, i) => (w[i] as number) * (2 * v + 1)),
      { what: 'grad.x', rtol: 1e-12 },
    );
  });

  it('cross-entropy: loss = mean(logsumexp - picked logit), grad rows sum to 0', () => {
    for (const name of ['loss-cross-entropy', 'loss-cross-entropy-large-logits', 'dense-tanh']) {
      const fx = loadFixture(name);
      const logits = fixtureTensor(fx, name.startsWith('dense') ? 'out' : 'x');
      const [rows, cols] = logits.shape as [number, number];
      const target = data(fx, 'target');
      let total = 0;
      for (let r = 0; r < rows; r++) {
        const row = logits.data.slice(r * cols, (r + 1) * cols);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
        total += lse - (row[target[r] as number] as number);
      }
      assertClose([scalar(fx, 'loss')], [total / rows], { what: `${name} loss`, rtol: 1e-12 });
      if (name.startsWith('loss')) {
        const grad = data(fx, 'grad.x');
        for (let r = 0; r < rows; r++) {
          const sum = grad.slice(r * cols, (r + 1) * cols).reduce((s, v) => s + v, 0);
          assertClose([sum], [0], { what: `${name} grad row ${r} sum`, atol: 1e-12 });
        }
      }
    }
  });

  it('mse: loss = mean((x - target)^2)', () => {
    const fx = loadFixture('loss-mse');
    const x = data(fx, 'x');
    const t = data(fx, 'target');
    const mse = x.reduce((s, v, i) => s + (v - (t[i] as number)) ** 2, 0) / x.length;
    assertClose([scalar(fx, 'loss')], [mse], { what: 'mse loss', rtol: 1e-12 });
  });

  it('sgd: p.step1 = p - 0.1 * grad', () => {
    const fx = loadFixture('optim-sgd');
    const p = data(fx, 'p');
    const g = data(fx, 'grad.p.step1');
    assertClose(
      data(fx, 'p.step1'),
      p.map((v, i) => v - 0.1 * (g[i] as number)),
      { what: 'p.step1', rtol: 1e-12 },
    );
  });

  it('batchnorm1d-train: running_var moves towards the UNBIASED batch variance', () => {
    const fx = loadFixture('batchnorm1d-train');
    const [n, features] = fixtureTensor(fx, 'x').shape as [number, number];
    const x = data(fx, 'x');
    const before = data(fx, 'running_var.before');
    const expected = before.map((v, f) => {
      let mean = 0;
      for (let b = 0; b < n; b++) mean += x[b * features + f] as number;
      mean /= n;
      let ss = 0;
      for (let b = 0; b < n; b++) ss += ((x[b * features + f] as number) - mean) ** 2;
      return 0.9 * v + 0.1 * (ss / (n - 1));
    });
    assertClose(data(fx, 'running_var.after'), expected, { what: 'running_var.after', rtol: 1e-12 });
  });

  it('recurrent: the last step gets only its direct gradient, timeGrad[T-1] = ||w[T-1]||', () => {
    for (const name of RECURRENT) {
      const fx = loadFixture(name);
      const [steps, batch, hidden] = fixtureTensor(fx, 'w').shape as [number, number, number];
      assert.deepEqual(fixtureTensor(fx, 'timeGrad').shape, [steps]);
      assert.deepEqual(fixtureTensor(fx, 'out').shape, [steps, batch, hidden]);
      const lastW = data(fx, 'w').slice((steps - 1) * batch * hidden);
      const norm = Math.sqrt(lastW.reduce((s, v) => s + v * v, 0));
      assertClose([data(fx, 'timeGrad')[steps - 1] as number], [norm], {
        what: `${name} timeGrad[T-1]`,
        rtol: 1e-12,
      });
    }
  });
});
