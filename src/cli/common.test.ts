/** `--set` and `--patch`: edits of the raw config before validation, and their errors (exit 2, naming what is wrong). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gradscope, tempDir } from '../testing/cli.js';
import { UsageError } from './args.js';
import { applyOverridesToRaw, loadConfig } from './common.js';

describe('applyOverridesToRaw', () => {
  it('sets nested paths, creating objects, parsing JSON values and taking the rest as strings', () => {
    const raw = { model: { depth: 20 }, optimizer: { name: 'sgd' } };
    const out = applyOverridesToRaw(raw, {
      sets: [
        'model.depth=4',
        'model.activation=relu',
        'model.hidden=[64,32]',
        'clip.max=1',
        'model.residual=true',
      ],
    });
    assert.deepEqual(out, {
      model: { depth: 4, activation: 'relu', hidden: [64, 32], residual: true },
      optimizer: { name: 'sgd' },
      clip: { max: 1 },
    });
    assert.deepEqual(raw, { model: { depth: 20 }, optimizer: { name: 'sgd' } }, 'the input is not changed');
  });

  it('applies the merge patch first, then the sets in order', () => {
    const out = applyOverridesToRaw(
      { clip: { name: 'agc', factor: 0.01 } },
      { patch: '{"clip": {"name": "norm", "factor": null, "max": 5}}', sets: ['clip.max=1', 'clip.max=2'] },
    );
    assert.deepEqual(out, { clip: { name: 'norm', max: 2 } });
  });

  it('refuses malformed flags, naming the flag, the path and the value', () => {
    assert.throws(
      () => applyOverridesToRaw({}, { sets: ['depth'] }),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, /--set needs path=value, got "depth"/);
        return true;
      },
    );
    assert.throws(() => applyOverridesToRaw({}, { sets: ['a..b=1'] }), /--set needs path=value/);
    assert.throws(
      () => applyOverridesToRaw({ model: { depth: 20 } }, { sets: ['model.depth.x=1'] }),
      /--set model\.depth\.x=1: model\.depth is 20, not an object/,
    );
    assert.throws(() => applyOverridesToRaw({}, { patch: '{nope' }), /--patch is not JSON/);
    assert.throws(() => applyOverridesToRaw({}, { patch: '[1]' }), /--patch must be a JSON object/);
  });

  it('leaves unknown fields and wrong types to the config schema, which names them', () => {
    assert.throws(
      () => loadConfig('deep-sigmoid', { sets: ['model.activaton=relu'] }),
      /model\.activaton.*did you mean "activation"/,
    );
    assert.throws(
      () => loadConfig('deep-sigmoid', { sets: ['model.depth="abc"'] }),
      /model\.depth: "abc" is not accepted/,
    );
  });
});

describe('--set and --patch on the command line', () => {
  it('run writes the edited config; a typo exits 2 naming the field', () => {
    const dir = tempDir();
    const out = join(dir, 'run');
    const r = gradscope([
      'run',
      'deep-sigmoid',
      '--steps',
      '2',
      '--set',
      'model.depth=3',
      '--set',
      'optimizer.learningRate=0.05',
      '--patch',
      '{"model": {"activation": "tanh"}}',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as {
      model: { hidden: number[]; activation: string };
      optimizer: { learningRate: number };
    };
    assert.equal(config.model.hidden.length, 3);
    assert.equal(config.model.activation, 'tanh');
    assert.equal(config.optimizer.learningRate, 0.05);
    const bad = gradscope([
      'run',
      'deep-sigmoid',
      '--steps',
      '2',
      '--set',
      'model.activaton=relu',
      '--out',
      join(dir, 'x'),
    ]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /model\.activaton.*did you mean "activation"/);
    const badPatch = gradscope(['preflight', 'deep-sigmoid', '--patch', '{"optimizer": 1}']);
    assert.equal(badPatch.status, 2);
    assert.match(badPatch.stderr, /optimizer/);
  });
});
