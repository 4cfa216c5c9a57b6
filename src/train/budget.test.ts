import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/index.js';
import { GradscopeError } from '../util/errors.js';
import { applyMergePatch, type JsonObject } from '../doctor/findings.js';
import {
  BudgetError,
  checkMemoryBudget,
  estimateMemory,
  formatBytes,
  MAX_TENSOR_ELEMENTS,
  parseByteSize,
} from './budget.js';

const base: JsonObject = {
  task: { name: 'spirals' },
  model: { kind: 'mlp', depth: 4, width: 64 },
  train: { steps: 100, batchSize: 64 },
};
const config = (patch: JsonObject = {}) =>
  resolveConfig(applyMergePatch(base, patch), { defaultName: 'budget' });
const GiB = 1024 ** 3;

describe('memory budget', () => {
  it('grows with every field that sizes a run', () => {
    const small = estimateMemory(config()).bytes;
    for (const patch of [
      { train: { batchSize: 6400 } },
      { model: { width: 640 } },
      { model: { depth: 40 } },
      { train: { steps: 1_000_000 } },
      { task: { name: 'teacher', inputs: 10_000 } },
    ] as JsonObject[]) {
      assert.ok(estimateMemory(config(patch)).bytes > 2 * small, JSON.stringify(patch));
    }
    const lstm = (length: number) =>
      estimateMemory(
        config({
          task: { name: 'adding', length },
          model: { kind: 'lstm', hidden: 64, depth: null, width: null },
        }),
      ).bytes;
    assert.ok(lstm(5000) > 50 * lstm(50));
  });

  it('lets a default run through with room to spare', () => {
    const estimate = checkMemoryBudget(config(), 256 * 1024 ** 2);
    assert.ok(estimate.bytes < 64 * 1024 ** 2, formatBytes(estimate.bytes));
  });

  it("refuses the issue's runs, each naming the field to lower", () => {
    const cases: Array<[JsonObject, string]> = [
      [{ model: { width: 1e9 } }, 'model.width'],
      [{ model: { width: 1e6 } }, 'model.width'],
      [{ train: { batchSize: 1e7 } }, 'train.batchSize'],
      [{ task: { name: 'teacher', inputs: 1e9 } }, 'task.inputs'],
      [{ task: { name: 'teacher', size: 1e9 } }, 'task.size'],
      [{ train: { steps: 1e10 } }, 'train.steps'],
      [
        {
          task: { name: 'adding', length: 1e6 },
          model: { kind: 'lstm', hidden: 64, depth: null, width: null },
        },
        'task.length',
      ],
    ];
    for (const [patch, field] of cases) {
      assert.throws(
        () => checkMemoryBudget(config(patch), 8 * GiB),
        (error: unknown) =>
          error instanceof BudgetError && error.field === field && error.message.includes(`lower ${field}`),
        JSON.stringify(patch),
      );
    }
  });

  it('refuses a run over the limit by its estimate, and one tensor over the engine limit whatever the limit', () => {
    const wide = config({ train: { batchSize: 100_000 } });
    assert.throws(
      () => checkMemoryBudget(wide, 256 * 1024 ** 2),
      /over the limit of 256 MiB; lower train\.batchSize/,
    );
    assert.doesNotThrow(() => checkMemoryBudget(wide, 64 * GiB));
    const huge = config({ model: { width: 20_000 } });
    assert.ok(estimateMemory(huge).largestTensor > MAX_TENSOR_ELEMENTS);
    assert.throws(
      () => checkMemoryBudget(huge, 1024 * 1024 * GiB),
      (error: unknown) =>
        error instanceof GradscopeError &&
        error.path === 'model.width' &&
        error.value === 20_000 &&
        /^model\.width: 20000 makes one tensor of .* hold .* values, more than the engine's/.test(
          error.message,
        ),
    );
  });

  it('reads sizes as people write them', () => {
    assert.equal(parseByteSize('2GiB'), 2 * GiB);
    assert.equal(parseByteSize('2g'), 2 * GiB);
    assert.equal(parseByteSize('1.5 GB'), 1.5e9);
    assert.equal(parseByteSize('512MB'), 512e6);
    assert.equal(parseByteSize('4096'), 4096);
    for (const bad of ['', 'lots', '-1GB', '0', '1x', 'GB']) assert.equal(parseByteSize(bad), null, bad);
    assert.equal(formatBytes(1536), '1.50 KiB');
  });
});
