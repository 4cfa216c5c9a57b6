import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TASKS } from '../data/index.js';
import { TASK_NAMES, TASK_SPECS, resolveConfig } from './resolve.js';

/** Config resolution validates task fields itself (it stays free of the data layer); this keeps the two in step. */
describe('TASK_SPECS', () => {
  it('names the tasks the data layer has', () => {
    assert.deepEqual([...TASK_NAMES].sort(), Object.keys(TASKS).sort());
  });

  // csv's fields are strings and a boolean (src/data/csv.ts checks them); its own test is below.
  for (const name of TASK_NAMES.filter((n) => n !== 'csv')) {
    it(`${name}: the same fields, minimums and defaults as src/data`, () => {
      const entry = TASKS[name];
      const spec = TASK_SPECS[name];
      const ours = [...Object.keys(spec.numbers), ...(spec.mode === undefined ? [] : ['mode'])].sort();
      assert.deepEqual(ours, Object.keys(entry.fields).sort());
      for (const [key, field] of Object.entries(entry.fields)) {
        if (field.kind === 'integer') {
          const mine = spec.numbers[key as keyof typeof spec.numbers];
          assert.deepEqual(
            { min: mine?.min, fallback: mine?.fallback },
            { min: field.min, fallback: field.default },
            key,
          );
          assert.equal(field.max, Infinity, `${key} has a maximum that config resolution does not check`);
        } else {
          assert.equal(spec.mode, field.default, key);
        }
      }
      const resolved = resolveConfig({ task: { name } }, { defaultName: 'x' }).task;
      assert.deepEqual(resolved, entry.resolve({ name }));
    });
  }
});

describe('task csv', () => {
  it('resolves to what src/data resolves, defaults filled', () => {
    const task = { name: 'csv', path: 'x.csv', target: 'y', kind: 'regression' } as const;
    const resolved = resolveConfig({ task }, { defaultName: 'x' }).task;
    assert.deepEqual(resolved, { ...task, standardize: false, split: 0.2 });
    assert.deepEqual(resolved, TASKS.csv.resolve(task));
  });
});
