/** `gradscope run` and `compare` as a careless or hostile user drives them (issue 11): names, paths, budgets. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gradscope, tempDir } from '../../testing/cli.js';

const TINY = {
  task: { name: 'xor' },
  model: { kind: 'mlp', depth: 1, width: 4 },
  train: { steps: 3, batchSize: 8 },
  monitor: { every: 1 },
};

function configFile(dir: string, file: string, config: object): string {
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/** stderr is one line: the message, never a stack trace. */
function oneLine(stderr: string): void {
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

describe('gradscope run: names and output paths', () => {
  it('a name that is a path is refused before anything is written (compare --out, and runs/ by default)', () => {
    const dir = tempDir();
    const victim = join(dir, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'config.json'), 'mine');
    const bad = configFile(dir, 'bad.json', { ...TINY, name: '../../victim' });
    const compare = gradscope(['compare', bad, '--out', join(dir, 'cmpout', 'a')], { cwd: dir });
    assert.equal(compare.status, 2, compare.stderr);
    oneLine(compare.stderr);
    assert.match(compare.stderr, /name/);
    assert.equal(readFileSync(join(victim, 'config.json'), 'utf8'), 'mine');
    const run = gradscope(['run', bad], { cwd: dir });
    assert.equal(run.status, 2, run.stderr);
    assert.ok(!existsSync(join(dir, 'runs')));
  });

  it('runs named "NaN" and "Infinity" complete: the name stays text in summary.json and the report', () => {
    const dir = tempDir();
    for (const name of ['NaN', 'Infinity']) {
      const file = configFile(dir, `${name}.json`, { ...TINY, name });
      const r = gradscope(['run', file, '--json'], { cwd: dir });
      assert.equal(r.status, 0, r.stderr);
      const summary = JSON.parse(readFileSync(join(dir, 'runs', name, 'summary.json'), 'utf8')) as {
        name: unknown;
      };
      assert.equal(summary.name, name);
      assert.ok(existsSync(join(dir, 'runs', name, 'report.html')));
    }
  });

  it('--out under /proc, /sys or /dev, or an existing file, is refused at once with exit 2', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a-file'), 'x');
    for (const out of ['/proc/self/x', '/sys/kernel/x', '/dev/zero', join(dir, 'a-file')]) {
      const r = gradscope(['run', configFile(dir, 'tiny.json', TINY), '--out', out], { cwd: dir });
      assert.equal(r.status, 2, `${out}: ${r.stderr}`);
      oneLine(r.stderr);
      assert.match(r.stderr, new RegExp(out.replace(/[/.]/g, '\\$&')));
    }
  });

  it('compare refuses a run directory that is a symlink leading out of --out, before training any run', () => {
    const dir = tempDir();
    const out = join(dir, 'cmp');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(out);
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(out, 'second'));
    const first = configFile(dir, 'first.json', { ...TINY, name: 'first' });
    const second = configFile(dir, 'second.json', { ...TINY, name: 'second' });
    const r = gradscope(['compare', first, second, '--out', out], { cwd: dir });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /symlink to .*outside the output folder/);
    assert.deepEqual(readdirSync(elsewhere), []);
    assert.ok(!existsSync(join(out, 'first')), 'no run trained before the refusal');
  });
});

describe('gradscope run: the memory budget', () => {
  // The refusal comes from the estimate, before anything is allocated: a model this size could not be built at
  // all, so exit 2 with the budget message proves the check ran first. (How fast it is, is not a unit test's job.)
  it('refuses an oversized config with exit 2 before building anything, naming the field', () => {
    const dir = tempDir();
    const cases: Array<[string[], string]> = [
      [['deep-sigmoid', '--set', 'model.width=1000000'], 'model.width'],
      [['deep-sigmoid', '--set', 'model.width=1000000000'], 'model.width'],
      [['deep-sigmoid', '--set', 'train.batchSize=10000000'], 'train.batchSize'],
      [['adding-lstm', '--set', 'task.length=1000000'], 'task.length'],
      [['deep-sigmoid', '--patch', '{"task":{"name":"teacher","inputs":1000000000}}'], 'task.inputs'],
      [['deep-sigmoid', '--set', 'train.batchSize=100000', '--max-memory', '256MiB'], 'train.batchSize'],
    ];
    for (const [args, field] of cases) {
      const r = gradscope(['run', ...args], { cwd: dir });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      oneLine(r.stderr);
      const path = field.replace('.', '\\.');
      assert.match(r.stderr, new RegExp(`^gradscope: ${path}: \\d+ makes .*; lower ${path}`));
    }
    assert.ok(!existsSync(join(dir, 'runs')), 'nothing was built or written');
  });

  it('--max-memory takes sizes and refuses anything else', () => {
    const dir = tempDir();
    const bad = gradscope(['run', 'deep-sigmoid', '--max-memory', 'plenty'], { cwd: dir });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--max-memory must be a size such as 4GiB/);
    const ok = gradscope(['run', configFile(dir, 'tiny.json', TINY), '--max-memory', '2GiB'], { cwd: dir });
    assert.equal(ok.status, 0, ok.stderr);
  });
});
