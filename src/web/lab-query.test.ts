import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_PRESET, DEFAULT_SMOOTHING, linkQuery, parseLabQuery, stateQuery } from './lab-query.js';

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
      runs: [],
      view: null,
      smoothing: DEFAULT_SMOOTHING,
      log: false,
      metric: 'loss',
      histogram: null,
      histogramOf: 'weight',
    });
  });

  it('reads and writes the distributions panel’s tensor and kind', () => {
    const { options, problems } = parseLabQuery('?hist=layers.3.weight_hh&histOf=grad');
    assert.deepEqual(problems, []);
    assert.deepEqual([options.histogram, options.histogramOf], ['layers.3.weight_hh', 'grad']);
    const query = stateQuery({
      preset: null,
      runs: [],
      view: null,
      smoothing: DEFAULT_SMOOTHING,
      log: false,
      histogram: 'dense_1/kernel_0',
      histogramOf: 'grad',
    });
    assert.equal(query, '?hist=dense_1%2Fkernel_0&histOf=grad');
    const back = parseLabQuery(query).options;
    assert.deepEqual([back.histogram, back.histogramOf], ['dense_1/kernel_0', 'grad']);
    const bad = parseLabQuery('?hist=%3Cimg%3E&histOf=bias');
    assert.deepEqual([bad.options.histogram, bad.options.histogramOf], [null, 'weight']);
    assert.equal(bad.problems.length, 2);
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

  it('reads the runs shown, the viewed run, smoothing and log scale; rejects paths as run names', () => {
    const { options, problems } = parseLabQuery('?runs=a,b.1,a,../etc,x%2Fy&view=b.1&smooth=0.9&log=1');
    assert.deepEqual(
      [options.runs, options.view, options.smoothing, options.log],
      [['a', 'b.1'], 'b.1', 0.9, true],
    );
    assert.equal(problems.length, 2);
    assert.ok(
      problems.every((p) => /^runs=.* is ignored: a run name is/.test(p)),
      problems.join('\n'),
    );
    assert.match(
      parseLabQuery('?metric=accuracy').problems[0] ?? '',
      /metric=accuracy .*expected loss, gradNorm/,
    );
    const bad = parseLabQuery('?smooth=1&view=..');
    assert.equal(bad.options.smoothing, DEFAULT_SMOOTHING);
    assert.equal(bad.options.view, null);
    assert.equal(bad.problems.length, 2);
  });

  it('writes the whole state into an address that reads back the same', () => {
    const state = {
      preset: 'deep-sigmoid',
      runs: ['run-1', 'run-2'],
      view: 'run-2',
      smoothing: 0.25,
      log: true,
      metric: 'gradNorm' as const,
    };
    const back = parseLabQuery(stateQuery(state)).options;
    assert.deepEqual(
      [back.preset, back.runs, back.view, back.smoothing, back.log, back.metric],
      [state.preset, state.runs, state.view, 0.25, true, 'gradNorm'],
    );
    assert.equal(
      stateQuery({
        preset: null,
        configText: '{ "seed": 1 }',
        runs: [],
        view: null,
        smoothing: DEFAULT_SMOOTHING,
        log: false,
      }),
      '?config=%7B%22seed%22%3A1%7D',
    );
  });
});
