import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_PRESET, linkQuery, parseLabQuery } from './lab-query.js';

describe('lab address options', () => {
  it('reads preset, steps, seed, autorun, fix and speed', () => {
    const { options, problems } = parseLabQuery(
      '?preset=adding-rnn&steps=60&seed=3&autorun=1&fix=2&speed=slow',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(options, {
      preset: 'adding-rnn',
      configText: null,
      steps: 60,
      seed: 3,
      autorun: true,
      fix: 2,
      speed: 'slow',
    });
  });

  it('defaults, and reports (then ignores) values it cannot use', () => {
    assert.equal(parseLabQuery('').options.preset, DEFAULT_PRESET);
    assert.equal(parseLabQuery('?autorun=0').options.autorun, false);
    const { options, problems } = parseLabQuery('?steps=-4&speed=warp&fix=x');
    assert.deepEqual([options.steps, options.fix, options.speed], [null, null, 'fast']);
    assert.equal(problems.length, 3);
    assert.ok(problems.some((p) => /^steps=-4 .*whole number/.test(p)));
  });

  it('links carry the config compactly and read back', () => {
    const text = '{\n  "seed": 2,\n  "model": { "activation": "tanh" }\n}';
    const query = linkQuery(text);
    const back = parseLabQuery(query).options.configText;
    assert.deepEqual(JSON.parse(back ?? ''), JSON.parse(text));
    assert.ok(!(back ?? '').includes('\n'));
  });
});
