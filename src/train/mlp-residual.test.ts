/**
 * `model.residual` as an object: each form of the MLP's residual block, built from a config, against the same
 * network written out by hand with the ops (forward and backward, float64); ReZero and Fixup blocks are the
 * identity at initialisation; and the config's refusals.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backward } from '../autograd/tape.js';
import { ConfigError } from '../config/errors.js';
import { resolveConfig } from '../config/resolve.js';
import type { MlpResidualConfig, ResolvedConfig } from '../config/types.js';
import { createTask } from '../data/index.js';
import { Mlp } from '../nn/index.js';
import * as op from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { assertClose } from '../testing/fixtures.js';
import { buildModel } from './build.js';

const INPUTS = 4;
const WIDTH = 6;

function config(residual: unknown, model: Record<string, unknown> = {}): ResolvedConfig {
  return resolveConfig(
    {
      task: { name: 'teacher', inputs: INPUTS, classes: 3, size: 50 },
      model: { hidden: [WIDTH, WIDTH, WIDTH], activation: 'tanh', bias: { normal: 0.1 }, residual, ...model },
    },
    { defaultName: 'residual-test' },
  );
}

function build(c: ResolvedConfig): Mlp {
  const model = buildModel(c.model, createTask(c.task, c.seed), new Rng(3), { dtype: 'float64' });
  assert.ok(model instanceof Mlp);
  return model;
}

type P = Record<string, Tensor>;
const linear = (h: Tensor, p: P, name: string): Tensor =>
  op.linear(h, p[`${name}.weight`]!, p[`${name}.bias`]!);
const layerNorm = (h: Tensor, p: P, name: string): Tensor =>
  op.normalize(h, p[`${name}.weight`]!, p[`${name}.bias`]!, 'layer', 1e-5).y;
const t = op.tanh;
const scalar = (p: P, name: string): Tensor => p[name]!;
const constant = (a: number): Tensor => new Tensor(Float64Array.from([a]), [1]);

/** One hidden block i, written by hand; the whole net wraps it in the plain first layer and the output layer. */
type Block = (x: Tensor, p: P, i: number) => Tensor;

const forms: Array<[string, unknown, Block, Record<string, unknown>?]> = [
  [
    'true: x + phi(W x + b), the layer keeps its names',
    true,
    (x, p, i) => op.add(x, t(linear(x, p, `layers.${i}`))),
  ],
  [
    'activated, 2 layers: x + phi(W1 phi(W0 x + b0) + b1)',
    { form: 'activated', layers: 2 },
    (x, p, i) => op.add(x, t(linear(t(linear(x, p, `layers.${i}.branch.0`)), p, `layers.${i}.branch.1`))),
  ],
  [
    'post, 1 layer: phi(x + W x + b) (He et al. 2016a)',
    { form: 'post' },
    (x, p, i) => t(op.add(x, linear(x, p, `layers.${i}.branch.0`))),
  ],
  [
    'post, 2 layers: phi(x + W1 phi(W0 x + b0) + b1)',
    { form: 'post', layers: 2 },
    (x, p, i) => t(op.add(x, linear(t(linear(x, p, `layers.${i}.branch.0`)), p, `layers.${i}.branch.1`))),
  ],
  [
    'linear-out, 1 layer: x + W phi(x) + b (signal propagation)',
    { form: 'linear-out' },
    (x, p, i) => op.add(x, linear(t(x), p, `layers.${i}.branch.0`)),
  ],
  [
    'pre, 2 layers with layer norm: x + W1 phi(N(W0 phi(N(x)) + b0)) + b1 (He et al. 2016b)',
    { form: 'pre', layers: 2 },
    (x, p, i) => {
      const b = `layers.${i}.branch`;
      const h = linear(t(layerNorm(x, p, `${b}.0.prenorm`)), p, `${b}.0`);
      return op.add(x, linear(t(layerNorm(h, p, `${b}.1.prenorm`)), p, `${b}.1`));
    },
    { norm: 'layer' },
  ],
  [
    'a constant scale: x + 0.5 phi(W x + b)',
    { scale: 0.5 },
    (x, p, i) => op.add(x, op.mul(t(linear(x, p, `layers.${i}.branch.0`)), constant(0.5))),
  ],
  [
    'rezero (alpha moved off 0): x + alpha W phi(x) + b',
    { form: 'linear-out', scale: 'rezero' },
    (x, p, i) => op.add(x, op.mul(linear(t(x), p, `layers.${i}.branch.0`), scalar(p, `layers.${i}.scale`))),
  ],
  [
    'fixup, 2 layers (last layer moved off 0): x + m (W1 phi(W0 x + b0) + b1)',
    { form: 'linear-out', layers: 2, fixup: true },
    (x, p, i) => {
      const b = `layers.${i}.branch`;
      const f = linear(t(linear(t(x), p, `${b}.0`)), p, `${b}.1`);
      return op.add(x, op.mul(f, scalar(p, `layers.${i}.scale`)));
    },
  ],
];

const project = (y: Tensor): Tensor =>
  op.sum(
    op.mul(
      y,
      new Tensor(
        Float64Array.from({ length: y.size }, (_, i) => Math.sin(0.7 * i + 1)),
        y.shape,
      ),
    ),
  );

describe('MLP residual forms from the config against hand-written references (float64)', () => {
  for (const [name, residual, block, model] of forms) {
    it(name, () => {
      const net = build(config(residual, model));
      // Move zero-initialised scales and Fixup's zero layers off 0 so every gradient is exercised.
      const rng = new Rng(11);
      for (const { name: n, tensor } of net.namedParameters()) {
        if (tensor.data.every((v) => v === 0) && !n.endsWith('bias')) {
          for (let k = 0; k < tensor.size; k++) tensor.data[k] = 0.3 * rng.normal();
        }
      }
      const x = Tensor.randn([5, INPUTS], new Rng(9), { dtype: 'float64' });
      const xNet = x.detach();
      xNet.requiresGrad = true;
      const y = net.forward(xNet);
      backward(project(y));
      const p: P = {};
      for (const { name: n, tensor } of net.namedParameters()) {
        const leaf = tensor.detach();
        leaf.requiresGrad = true;
        p[n] = leaf;
      }
      const xRef = x.detach();
      xRef.requiresGrad = true;
      // The first layer changes width, so it is a plain Dense (with the model's norm).
      const z0 = linear(xRef, p, 'layers.0');
      let h = t(model?.['norm'] === 'layer' ? layerNorm(z0, p, 'layers.0.norm') : z0);
      h = block(h, p, 1);
      h = block(h, p, 2);
      const yRef = linear(h, p, 'layers.3');
      backward(project(yRef));
      assertClose(y.data, yRef.data, { what: `${name} y`, rtol: 1e-12, atol: 1e-12 });
      assertClose(xNet.grad!, xRef.grad!, { what: `${name} dx`, rtol: 1e-10, atol: 1e-12 });
      const names = net.namedParameters().map((q) => q.name);
      assert.deepEqual(Object.keys(p).sort(), [...names].sort());
      for (const { name: n, tensor } of net.namedParameters()) {
        assertClose(tensor.grad!, p[n]!.grad!, { what: `${name} d ${n}`, rtol: 1e-10, atol: 1e-12 });
      }
    });
  }
});

describe('MLP residual blocks at initialisation', () => {
  const cases: Array<[string, unknown]> = [
    ['rezero', { form: 'linear-out', scale: 'rezero' }],
    ['skipinit', { form: 'activated', layers: 2, scale: 'skipinit' }],
    ['fixup (linear-out, 2 layers)', { form: 'linear-out', layers: 2, fixup: true }],
    ['fixup (activated, 1 layer)', { fixup: true }],
  ];
  for (const [name, residual] of cases) {
    it(`a ${name} block is the identity`, () => {
      const net = build(config(residual));
      const x = Tensor.randn([5, INPUTS], new Rng(2), { dtype: 'float64' });
      const first = net.blocks[0]!.forward(x);
      let h = first;
      for (const i of [1, 2]) {
        const y = net.blocks[i]!.forward(h);
        assert.deepEqual(y.toArray(), h.toArray(), `block ${i}`);
        h = y;
      }
    });
  }
  it('true resolves to the activated form and builds the layer-named shorthand, bit for bit as before', () => {
    const resolved = config(true).model;
    assert.ok(resolved.kind === 'mlp');
    const expected: MlpResidualConfig = { form: 'activated', layers: 1, scale: 1, fixup: false };
    assert.deepEqual(resolved.residual, expected);
    // The object form of the same block is the same network with the same names.
    const a = build(config(true));
    const b = build(config({}));
    assert.deepEqual(
      a.namedParameters().map((q) => q.name),
      b.namedParameters().map((q) => q.name),
    );
    assert.ok(a.namedParameters().some((q) => q.name === 'layers.1.weight'));
    // A resolved config resolves to itself.
    const again = resolveConfig(JSON.parse(JSON.stringify(config({ form: 'pre', layers: 2 }))), {
      defaultName: 'x',
    });
    assert.deepEqual(again.model, config({ form: 'pre', layers: 2 }).model);
  });
});

describe('MLP residual config refusals', () => {
  const refusals: Array<[string, unknown, Record<string, unknown>, string, string]> = [
    ['unequal widths', { form: 'pre' }, { hidden: [6, 8] }, 'model.residual', 'equal hidden widths'],
    ['an unknown form', { form: 'prenorm' }, {}, 'model.residual.form', 'activated|post|pre|linear-out'],
    ['3 layers', { layers: 3 }, {}, 'model.residual.layers', 'in [1, 2]'],
    ['a negative scale', { scale: -1 }, {}, 'model.residual.scale', 'rezero'],
    ['an unknown scale name', { scale: 'rezer0' }, {}, 'model.residual.scale', 'skipinit'],
    ['an unknown key', { forms: 'pre' }, {}, 'model.residual.forms', 'form'],
    ['linear-out with a norm', { form: 'linear-out' }, { norm: 'batch' }, 'model.residual.form', '"pre"'],
    ['fixup with rezero', { fixup: true, scale: 'rezero' }, {}, 'model.residual.scale', 'never trains'],
    ['a number', 1, {}, 'model.residual', 'true or false'],
  ];
  for (const [name, residual, model, path, says] of refusals) {
    it(`refuses ${name}, naming ${path}`, () => {
      assert.throws(
        () => config(residual, model),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.equal(error.path, path, error.message);
          assert.ok(error.message.includes(says), error.message);
          return true;
        },
      );
    });
  }
});
