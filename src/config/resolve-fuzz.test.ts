/**
 * Property-based tests of the config resolver (issue 11): any JSON value, and presets mutated at random paths,
 * either resolve to a config that resolves to itself, or fail with a `GradscopeError` whose message is one line
 * naming a path; never another exception. Seeded and bounded here; for a longer run by hand:
 * `GRADSCOPE_FUZZ_RUNS=5000 node --test dist/config/resolve-fuzz.test.js`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GradscopeError } from '../util/errors.js';
import { PRESETS } from './presets.js';
import { parseConfigText, resolveConfig } from './resolve.js';

const RUNS = Number(process.env['GRADSCOPE_FUZZ_RUNS'] ?? 300);
const SEED = 7;

/** Resolves `raw`, checks the outcome is one of the two allowed, and says which. */
function outcome(raw: unknown): 'resolved' | 'refused' {
  try {
    const config = resolveConfig(raw, { defaultName: 'fuzz' });
    // A resolved config is its own fixed point: what a run writes to config.json reads back unchanged.
    assert.deepEqual(resolveConfig(JSON.parse(JSON.stringify(config)), { defaultName: 'other' }), config);
    return 'resolved';
  } catch (error) {
    if (!(error instanceof GradscopeError)) throw error;
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    assert.ok(error.message.length > 10 && error.message.length < 2000, error.message);
    return 'refused';
  }
}

/** Values a user might type at a field: numbers at the edges, strings near the names, objects, arrays. */
const fieldValue = fc.oneof(
  fc.constantFrom(
    0,
    -1,
    1,
    0.5,
    1.5,
    1e9,
    -1e-9,
    2 ** 32,
    NaN,
    'relu',
    'adam',
    'norm',
    'batch',
    true,
    null,
    '',
  ),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 12 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const KEYS = ['name', 'seed', 'task', 'model', 'optimizer', 'schedule', 'clip', 'guard', 'train', 'monitor'];
const SUBKEYS = [
  'name',
  'kind',
  'depth',
  'width',
  'hidden',
  'activation',
  'init',
  'bias',
  'norm',
  'residual',
  'dropout',
  'learningRate',
  'momentum',
  'max',
  'eps',
  'steps',
  'batchSize',
  'bptt',
  'every',
  'length',
  'layers',
  'checkpointEvery',
  'guardPatience',
  'warmupSteps',
  'factor',
  'percentile',
];

describe('resolveConfig under fuzzing', () => {
  it('any JSON value resolves or is refused with one line', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (raw) => {
        outcome(raw);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('presets with one or two fields changed at random resolve or are refused with one line', (t) => {
    const counts = { resolved: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.constantFrom(...PRESETS),
        fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.option(fc.constantFrom(...SUBKEYS)), fieldValue), {
          minLength: 1,
          maxLength: 2,
        }),
        (preset, edits) => {
          const raw = structuredClone(preset.config) as Record<string, unknown>;
          for (const [key, sub, value] of edits) {
            if (sub === null) raw[key] = value;
            else {
              const section = raw[key];
              raw[key] = {
                ...(typeof section === 'object' && section !== null ? section : {}),
                [sub]: value,
              };
            }
          }
          counts[outcome(raw)]++;
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    t.diagnostic(`${RUNS} mutated presets: ${counts.resolved} resolved, ${counts.refused} refused`);
    // Both outcomes occur, so the property is exercised on both sides.
    assert.ok(counts.resolved > 0 && counts.refused > 0, JSON.stringify(counts));
  });

  it('any text is parsed or refused with one line naming the file', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.json({ maxDepth: 3 })), (text) => {
        try {
          outcome(parseConfigText(text, 'fuzz.json'));
        } catch (error) {
          if (!(error instanceof GradscopeError)) throw error;
          assert.ok(!error.message.includes('\n'), error.message);
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
