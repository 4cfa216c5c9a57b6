/**
 * Issue 13, bad input through the CLI: a sequence longer than the Transformer's positional table (model.maxLength)
 * is refused with exit 2, one line naming the field, the value and the fix, no stack trace, for `run` and for
 * `preflight`.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
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
});
