import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, editDistance, nearest, oneOf, showValue } from './errors.js';

describe('editDistance', () => {
  it('counts insertions, deletions and substitutions', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('abc', ''), 3);
    assert.equal(editDistance('same', 'same'), 0);
  });

  it('counts a swap of neighbours as one edit (Damerau)', () => {
    assert.equal(editDistance('tahn', 'tanh'), 1);
    assert.equal(editDistance('ab', 'ba'), 1);
  });

  it('is symmetric', () => {
    for (const [a, b] of [
      ['activation', 'actvation'],
      ['momentum', 'moment'],
      ['xavier', 'he-normal'],
    ] as const) {
      assert.equal(editDistance(a, b), editDistance(b, a));
    }
  });
});

describe('nearest', () => {
  const activations = ['sigmoid', 'tanh', 'relu', 'leaky-relu'];

  it('suggests the closest spelling within a third of the length', () => {
    assert.equal(nearest('sigmod', activations), 'sigmoid');
    assert.equal(nearest('tahn', activations), 'tanh');
    assert.equal(nearest('actvation', ['kind', 'activation', 'init']), 'activation');
  });

  it('suggests nothing when nothing is close', () => {
    assert.equal(nearest('banana', activations), undefined);
    assert.equal(nearest('', activations), undefined);
    assert.equal(nearest('zz', ['kind', 'init']), undefined);
  });

  it('ignores case and separators', () => {
    assert.equal(nearest('batch_size', ['steps', 'batchSize']), 'batchSize');
    assert.equal(nearest('LEAKY_RELU', activations), 'leaky-relu');
  });

  it('uses aliases only when the aliased name is a candidate', () => {
    assert.equal(nearest('lr', ['name', 'learningRate'], { lr: 'learningRate' }), 'learningRate');
    assert.equal(nearest('lr', ['name', 'steps'], { lr: 'learningRate' }), undefined);
  });

  it('completes prefixes and recognises a name followed by a suffix', () => {
    assert.equal(nearest('xavier', ['he-normal', 'xavier-uniform', 'xavier-normal']), 'xavier-uniform');
    assert.equal(nearest('batchnorm', ['none', 'batch', 'layer']), 'batch');
  });

  it('breaks ties by candidate order', () => {
    assert.equal(nearest('lstn', ['lstm', 'lstx']), 'lstm');
    assert.equal(nearest('lstn', ['lstx', 'lstm']), 'lstx');
  });
});

describe('ConfigError', () => {
  it('reads path: value, what is accepted and the suggestion', () => {
    const error = new ConfigError({
      code: 'invalid_value',
      path: 'model.activation',
      value: 'sigmod',
      accepted: oneOf(['sigmoid', 'tanh', 'relu']),
      suggestion: 'sigmoid',
    });
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'GradscopeError');
    assert.equal(
      error.message,
      'model.activation: "sigmod" is not accepted; expected one of sigmoid|tanh|relu; did you mean "sigmoid"?',
    );
    assert.equal(error.code, 'invalid_value');
    assert.equal(error.path, 'model.activation');
    assert.equal(error.value, 'sigmod');
    assert.equal(error.accepted, 'one of sigmoid|tanh|relu');
    assert.equal(error.suggestion, 'sigmoid');
    assert.equal(error.hint, undefined);
  });

  it('words unknown and missing keys, and ends with the hint', () => {
    const unknown = new ConfigError({
      code: 'unknown_key',
      path: 'seeed',
      value: 'seeed',
      accepted: 'one of seed',
    });
    assert.equal(unknown.message, 'seeed: unknown key "seeed"; expected one of seed');
    const missing = new ConfigError({
      code: 'missing',
      path: 'clip.max',
      value: undefined,
      accepted: 'a number > 0',
      hint: 'clip "norm" needs it',
    });
    assert.equal(missing.message, 'clip.max: missing; expected a number > 0; clip "norm" needs it');
  });

  it('names the whole config "config"', () => {
    const error = new ConfigError({ code: 'invalid_value', path: '', value: 3, accepted: 'a JSON object' });
    assert.equal(error.message, 'config: 3 is not accepted; expected a JSON object');
  });
});

describe('showValue', () => {
  it('spells out what JSON cannot', () => {
    assert.equal(showValue(Number.NaN), 'NaN');
    assert.equal(showValue(-Infinity), '-Infinity');
    assert.equal(showValue(undefined), 'undefined');
    assert.equal(showValue('0.1'), '"0.1"');
    assert.equal(showValue(null), 'null');
    assert.equal(showValue([1, 2]), '[1,2]');
  });

  it('shortens long values', () => {
    const shown = showValue({ hidden: new Array(100).fill(64) });
    assert.ok(shown.length <= 60);
    assert.ok(shown.endsWith('...'));
  });
});
