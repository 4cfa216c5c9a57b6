/**
 * Issue 13, bad input through the CLI: a sequence longer than the Transformer's positional table (model.maxLength)
 * and an empty (or missing) corpus file (task.path) are refused with exit 2, one line naming the field, the value
 * and the fix, no stack trace; a corpus file of the user's own trains.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gradscope, tempDir } from '../testing/cli.js';

const LONG = {
  name: 'too-long',
  task: { name: 'char-lm', length: 40 },
  model: { kind: 'transformer', layers: 1, dModel: 16, heads: 2, maxLength: 32 },
  train: { steps: 2, batchSize: 4 },
};

describe('transformer bad input (end to end)', () => {
  const dir = tempDir();
  const file = join(dir, 'long.json');
  writeFileSync(file, JSON.stringify(LONG));

  for (const command of ['run', 'preflight'] as const) {
    it(`${command}: a sequence of 40 steps and maxLength 32 exits 2 naming model.maxLength, 32 and the fix`, () => {
      const r = gradscope(command === 'run' ? ['run', file, '--out', join(dir, 'out')] : ['preflight', file]);
      assert.equal(r.status, 2, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] as string, /model\.maxLength: the positional table has 32 positions/);
      assert.match(lines[0] as string, /sequences of 40 steps/);
      assert.match(lines[0] as string, /raise model\.maxLength to at least 40/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  const corpusRun = (path: string, steps = 2): ReturnType<typeof gradscope> => {
    const config = {
      ...LONG,
      name: 'own-corpus',
      task: { name: 'char-lm', length: 8, path },
      train: { steps },
    };
    const configFile = join(dir, 'corpus.json');
    writeFileSync(configFile, JSON.stringify({ ...config, model: { ...LONG.model, maxLength: 8 } }));
    return gradscope(['run', configFile, '--out', join(dir, `corpus-${steps}`), '--json']);
  };

  it('an empty corpus file: exit 2 naming task.path, the file and the fix', () => {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    const r = corpusRun(empty);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(`task.path: ${JSON.stringify(empty)} is empty`), r.stderr);
    assert.match(r.stderr, /needs at least 90 .*give a longer text, lower task\.length, or omit task\.path/);
  });

  it('a corpus file that is not there: exit 2 naming task.path and the path', () => {
    const r = corpusRun(join(dir, 'missing.txt'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /task\.path: cannot read ".*missing\.txt"/);
  });

  it('a corpus file of your own trains on its characters', () => {
    const text = join(dir, 'own.txt');
    writeFileSync(text, 'abcab '.repeat(40));
    const r = corpusRun(text, 3);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { steps: number; baseline: { loss: number } };
    assert.equal(summary.steps, 3);
    // Four characters equally frequent but the space: the unigram baseline is below ln 4.
    assert.ok(summary.baseline.loss < Math.log(4), String(summary.baseline.loss));
    const resolved = JSON.parse(readFileSync(join(dir, 'corpus-3', 'config.json'), 'utf8')) as {
      task: { path?: string };
    };
    assert.equal(resolved.task.path, text);
    assert.ok(existsSync(join(dir, 'corpus-3', 'report.html')));
  });
});
