import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/index.js';
import { Rng } from '../tensor/rng.js';
import { GradscopeError } from '../util/errors.js';
import { captureModelState, restoreModelState } from './model-state.js';
import { TrainingSession } from './session.js';

const session = (model: object, task: object = { name: 'spirals' }) =>
  new TrainingSession(
    resolveConfig({ seed: 1, task, model, train: { steps: 10, batchSize: 8 } }, { defaultName: 'state' }),
  );

describe('model state', () => {
  it('Rng.getState / setState continue the same stream, the cached normal included', () => {
    const rng = new Rng(7);
    rng.normal();
    const state = rng.getState();
    const expected = [rng.normal(), rng.next(), rng.normal()];
    const other = new Rng(99);
    other.setState(state);
    assert.deepEqual([other.normal(), other.next(), other.normal()], expected);
    assert.throws(() => other.setState({ words: [1, 2], spareNormal: null }), /four integer words/);
  });

  it("finds dropout's generators and batch norm's running statistics, and restores them", () => {
    const a = session({ kind: 'mlp', depth: 2, width: 8, norm: 'batch', dropout: 0.2 });
    const b = session({ kind: 'mlp', depth: 2, width: 8, norm: 'batch', dropout: 0.2 });
    for (let i = 0; i < 3; i++) a.step();
    const state = captureModelState(a.model);
    assert.equal(state.rngs.length, 2, 'one dropout generator per hidden layer');
    assert.equal(state.arrays.length, 4, 'running mean and variance of two batch norms');
    assert.notDeepEqual(captureModelState(b.model), state);
    restoreModelState(b.model, state);
    assert.deepEqual(captureModelState(b.model), state);
  });

  it('refuses the state of another model before changing anything', () => {
    const a = session({ kind: 'mlp', depth: 2, width: 8, dropout: 0.2 });
    const b = session({ kind: 'mlp', depth: 2, width: 8 });
    const before = captureModelState(b.model);
    assert.throws(
      () => restoreModelState(b.model, captureModelState(a.model)),
      (e: unknown) =>
        e instanceof GradscopeError && e.code === 'size_mismatch' && /^model state: /.test(e.message),
    );
    assert.deepEqual(captureModelState(b.model), before);
    const lstm = session({ kind: 'lstm', hidden: 4 }, { name: 'adding', length: 5 });
    assert.throws(() => b.restore(lstm.captureState(), []), /the model's parameters are layers\.0\.weight/);
  });
});
