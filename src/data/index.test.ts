import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/resolve.js';
import type { TaskConfig } from '../config/types.js';
import { GradscopeError } from '../util/errors.js';
import { Rng } from '../tensor/rng.js';
import { TASKS, TASK_NAMES, createTask, resolveTaskConfig, type Batch, type Task } from './index.js';

/** Small settings so the whole suite stays fast; each still exercises the task's real code path. */
const SMALL: Record<string, TaskConfig> = {
  spirals: { name: 'spirals', size: 200 },
  xor: { name: 'xor' },
  teacher: { name: 'teacher', inputs: 8, classes: 3, size: 300 },
  mnist: { name: 'mnist' },
  images: { name: 'images', size: 40 },
  adding: { name: 'adding', length: 12 },
  copy: { name: 'copy', length: 5 },
  'seq-mnist': { name: 'seq-mnist' },
  'char-lm': { name: 'char-lm', length: 16 },
  reverse: { name: 'reverse', length: 4, classes: 5 },
  sort: { name: 'sort', length: 4, classes: 5 },
  translate: { name: 'translate', length: 4, classes: 5 },
  csv: { name: 'csv', path: 'fixtures/csv/scaled.csv', target: 'label', kind: 'classification' },
};

function small(name: string): TaskConfig {
  const cfg = SMALL[name];
  assert.ok(cfg, `no small config for ${name}`);
  return cfg;
}

/** The shapes a batch of `n` must have, from the task's declared facts alone. */
function checkBatch(task: Task, batch: Batch, n: number): void {
  const steps = task.sequence?.length;
  const expectedX = steps === undefined ? [n, task.inputSize] : [steps, n, task.inputSize];
  assert.deepEqual(batch.x.shape, expectedX, `${task.name} x shape`);
  assert.equal(batch.x.dtype, 'float32', `${task.name} x dtype`);
  assert.equal(batch.y.dtype, 'float32', `${task.name} y dtype`);
  const every = task.sequence?.scored === 'every';
  const expectedY = every ? [steps ?? 0, n, task.outputSize] : [n, task.outputSize];
  assert.deepEqual(batch.y.shape, expectedY, `${task.name} y shape`);
  for (const value of batch.x.data) assert.ok(Number.isFinite(value), `${task.name} x holds ${value}`);

  if (task.loss === 'mse') {
    assert.equal(batch.labels, null, `${task.name}: mse tasks have no labels`);
    return;
  }
  const labels = batch.labels;
  assert.ok(labels instanceof Int32Array, `${task.name}: labels must be an Int32Array`);
  assert.equal(labels.length, every ? (steps ?? 0) * n : n, `${task.name} labels length`);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    assert.ok(label >= 0 && label < task.outputSize, `${task.name}: label ${label} out of range`);
    // y is the one-hot of labels, row for row.
    for (let c = 0; c < task.outputSize; c++) {
      assert.equal(
        batch.y.data[i * task.outputSize + c],
        c === label ? 1 : 0,
        `${task.name} y one-hot at ${i}`,
      );
    }
  }
}

describe('every task', () => {
  it('has a complete registry', () => {
    assert.deepEqual(
      [...TASK_NAMES].sort(),
      [
        'adding',
        'copy',
        'mnist',
        'seq-mnist',
        'spirals',
        'teacher',
        'xor',
        'csv',
        'images',
        'char-lm',
        'reverse',
        'sort',
        'translate',
      ].sort(),
    );
    for (const name of TASK_NAMES) assert.equal(TASKS[name].name, name);
  });

  for (const name of TASK_NAMES) {
    describe(name, () => {
      it('declares consistent facts and a baseline', () => {
        const task = createTask(small(name), 0);
        assert.equal(task.name, name);
        assert.ok(Number.isInteger(task.inputSize) && task.inputSize >= 1);
        assert.ok(Number.isInteger(task.outputSize) && task.outputSize >= 1);
        assert.ok(task.baseline.loss > 0 && Number.isFinite(task.baseline.loss));
        assert.ok(task.baseline.description.length > 10);
        if (task.loss === 'cross-entropy') {
          const accuracy = task.baseline.accuracy;
          assert.ok(
            accuracy !== undefined && accuracy > 0 && accuracy < 1,
            `${name} baseline accuracy ${accuracy}`,
          );
        } else {
          assert.equal(task.baseline.accuracy, undefined);
        }
        if (task.loss === 'cross-entropy' && task.sequence?.scored !== 'every') {
          assert.equal(task.baseline.loss, Math.log(task.outputSize));
        }
      });

      it('builds batches and an eval set of the declared shapes', () => {
        const task = createTask(small(name), 0);
        checkBatch(task, task.trainBatch(7, new Rng(3)), 7);
        const evalSet = task.evalSet();
        checkBatch(task, evalSet, evalSet.x.shape[task.sequence === null ? 0 : 1] ?? 0);
        assert.equal(task.evalSet(), evalSet, 'the eval set is cached');
      });

      it('is deterministic: same seed and rng state give identical batches', () => {
        const a = createTask(small(name), 5).trainBatch(6, new Rng(11));
        const b = createTask(small(name), 5).trainBatch(6, new Rng(11));
        assert.deepEqual(a.x.data, b.x.data);
        assert.deepEqual(a.y.data, b.y.data);
        assert.deepEqual(a.labels, b.labels);
        assert.deepEqual(
          createTask(small(name), 5).evalSet().x.data,
          createTask(small(name), 5).evalSet().x.data,
        );
      });

      it('draws different batches from different rng states', () => {
        const task = createTask(small(name), 5);
        const rng = new Rng(11);
        const first = task.trainBatch(6, rng);
        const second = task.trainBatch(6, rng);
        assert.notDeepEqual(first.x.data, second.x.data);
      });

      it('rejects a bad batch size', () => {
        const task = createTask(small(name), 0);
        assert.throws(() => task.trainBatch(0, new Rng(0)), /positive integer batch size, got 0/);
        assert.throws(() => task.trainBatch(2.5, new Rng(0)), /positive integer batch size, got 2.5/);
      });
    });
  }

  it('draws a different eval set from a different seed (seeded tasks)', () => {
    for (const name of ['spirals', 'xor', 'teacher', 'adding', 'copy']) {
      const a = createTask(small(name), 1).evalSet();
      const b = createTask(small(name), 2).evalSet();
      assert.notDeepEqual(a.x.data, b.x.data, name);
    }
  });

  it('draws different training data from a different seed where the task owns a pool', () => {
    for (const name of ['spirals', 'teacher']) {
      const a = createTask(small(name), 1).trainBatch(8, new Rng(0));
      const b = createTask(small(name), 2).trainBatch(8, new Rng(0));
      assert.notDeepEqual(a.x.data, b.x.data, name);
    }
  });

  it('keeps the mnist split fixed whatever the seed', () => {
    const a = createTask({ name: 'mnist' }, 1).evalSet();
    const b = createTask({ name: 'mnist' }, 2).evalSet();
    assert.deepEqual(a.labels, b.labels);
    assert.deepEqual(a.x.data.subarray(0, 784 * 20), b.x.data.subarray(0, 784 * 20));
  });
});

describe('task config', () => {
  function rejects(cfg: unknown, code: string, path: string, message: RegExp): void {
    assert.throws(
      () => createTask(cfg as TaskConfig, 0),
      (error: unknown) => {
        assert.ok(error instanceof GradscopeError, `expected a GradscopeError, got ${String(error)}`);
        assert.equal(error.code, code);
        assert.equal(error.path, path);
        assert.match(error.message, message);
        return true;
      },
    );
  }

  it('fills in defaults', () => {
    assert.deepEqual(resolveTaskConfig({ name: 'teacher', classes: 4 }), {
      name: 'teacher',
      inputs: 32,
      classes: 4,
      size: 10000,
    });
    assert.deepEqual(resolveTaskConfig({ name: 'adding' }), { name: 'adding', length: 50 });
    assert.deepEqual(resolveTaskConfig({ name: 'copy' }), { name: 'copy', length: 50 });
    assert.deepEqual(resolveTaskConfig({ name: 'seq-mnist' }), { name: 'seq-mnist', mode: 'row' });
    assert.deepEqual(resolveTaskConfig({ name: 'spirals' }), { name: 'spirals', size: 2000 });
    assert.deepEqual(resolveTaskConfig({ name: 'xor' }), { name: 'xor' });
    const adding = createTask({ name: 'adding' }, 0);
    assert.equal(adding.sequence?.length, 50);
    assert.equal(createTask({ name: 'copy' }, 0).sequence?.length, 70);
    assert.equal(createTask({ name: 'seq-mnist', mode: 'pixel' }, 0).sequence?.length, 784);
  });

  it('resolves every task exactly as resolveConfig does (one parser, the schema)', () => {
    for (const name of TASK_NAMES) {
      const cfg = small(name);
      assert.deepEqual(resolveTaskConfig(cfg), resolveConfig({ task: cfg }, { defaultName: 'x' }).task, name);
    }
  });

  it('names an unknown task, suggests the closest and lists the accepted ones', () => {
    rejects(
      { name: 'spiralz' },
      'invalid_value',
      'task.name',
      /^task\.name: "spiralz" is not accepted; expected one of spirals\|xor\|teacher\|mnist\|images\|adding\|copy\|seq-mnist\|char-lm\|reverse\|sort\|translate\|csv; did you mean "spirals"\?$/,
    );
    rejects({ name: 'seqmnist' }, 'invalid_value', 'task.name', /did you mean "seq-mnist"/);
    rejects(
      { name: 'imagenet' },
      'invalid_value',
      'task.name',
      /^task\.name: "imagenet" is not accepted; expected one of spirals\|[^;]*$/,
    );
  });

  it('requires a name', () => {
    rejects({}, 'missing', 'task.name', /^task\.name: missing; expected one of spirals/);
    rejects({ name: 3 }, 'invalid_value', 'task.name', /3 is not accepted/);
  });

  it('rejects bad integer fields, naming the field, the value and the accepted range', () => {
    rejects(
      { name: 'adding', length: 1.5 },
      'invalid_value',
      'task.length',
      /^task\.length: 1\.5 is not accepted; expected an integer >= 2/,
    );
    rejects(
      { name: 'adding', length: 1 },
      'invalid_value',
      'task.length',
      /1 is not accepted; expected an integer >= 2/,
    );
    rejects(
      { name: 'copy', length: 0 },
      'invalid_value',
      'task.length',
      /0 is not accepted; expected an integer >= 1/,
    );
    rejects(
      { name: 'adding', length: '50' },
      'invalid_value',
      'task.length',
      /"50" is not accepted.*without quotes: 50/,
    );
    rejects({ name: 'teacher', classes: 1 }, 'invalid_value', 'task.classes', /expected an integer >= 2/);
    rejects({ name: 'teacher', inputs: -3 }, 'invalid_value', 'task.inputs', /-3 is not accepted/);
    rejects({ name: 'teacher', size: Number.NaN }, 'invalid_value', 'task.size', /NaN is not accepted/);
    rejects({ name: 'spirals', size: 1 }, 'invalid_value', 'task.size', /expected an integer >= 2/);
  });

  it('rejects a bad choice', () => {
    rejects(
      { name: 'seq-mnist', mode: 'column' },
      'invalid_value',
      'task.mode',
      /^task\.mode: "column" is not accepted; expected one of row\|pixel/,
    );
  });

  it('rejects fields of other tasks and unknown keys, with the nearest valid key', () => {
    rejects(
      { name: 'spirals', length: 3 },
      'not_applicable',
      'task.length',
      /not to task "spirals"; expected a key of task "spirals": name\|size/,
    );
    rejects({ name: 'mnist', mode: 'row' }, 'not_applicable', 'task.mode', /a key of task "mnist": name$/);
    rejects({ name: 'copy', lenght: 3 }, 'unknown_key', 'task.lenght', /did you mean "length"\?/);
    rejects({ name: 'teacher', clases: 3 }, 'unknown_key', 'task.clases', /did you mean "classes"\?/);
  });

  it("a factory refuses another task's config, and a non-finite seed", () => {
    assert.throws(
      () => TASKS.spirals.create({ name: 'xor' }, 0),
      /task\.name: "xor" is not accepted; expected "spirals"/,
    );
    assert.throws(
      () => createTask({ name: 'xor' }, Number.NaN),
      /seed: NaN is not accepted; expected a finite number$/,
    );
  });
});
