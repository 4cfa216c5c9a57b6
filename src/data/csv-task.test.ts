/**
 * The csv task through the CLI: `task: {"name": "csv", ...}` in a config, the doctor's data cause on a table with
 * one feature scaled by 1e4 (fixtures/csv/scaled.csv: 600 rows of three N(0, 1) features, `b` multiplied by 1e4,
 * labelled by the sign of a + b - c), cured by `task.standardize`, and malformed files exiting 2.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Summary } from '../io/runlog.js';
import { gradscope, tempDir } from '../testing/cli.js';

const CONFIG = 'fixtures/csv/scaled.json';

describe('task csv from the CLI', () => {
  it('diagnoses one feature scaled by 1e4 with the data cause, and standardize cures it', () => {
    const out = tempDir();
    const sick = gradscope(['run', CONFIG, '--out', join(out, 'raw'), '--json']);
    assert.equal(sick.status, 0, sick.stderr);
    const summary = JSON.parse(sick.stdout) as Summary;
    assert.notEqual(summary.verdict, 'healthy');
    const top = summary.findings[0];
    assert.equal(top?.causeKind, 'data', JSON.stringify(top));
    assert.match(top?.cause ?? '', /raw columns of fixtures\/csv\/scaled\.csv .*different scales/);
    assert.deepEqual(top?.fixes[0]?.patch, { task: { standardize: true } });
    const doctor = gradscope(['doctor', join(out, 'raw')]);
    assert.match(doctor.stdout, /--set task\.standardize=true/);

    const cured = gradscope([
      'run',
      CONFIG,
      '--set',
      'task.standardize=true',
      '--out',
      join(out, 'std'),
      '--json',
    ]);
    assert.equal(cured.status, 0, cured.stderr);
    const after = JSON.parse(cured.stdout) as Summary;
    assert.equal(after.verdict, 'healthy', JSON.stringify(after.findings.map((f) => f.code)));
    assert.ok(
      after.eval.accuracy !== undefined && after.eval.accuracy > 0.9,
      `accuracy ${after.eval.accuracy}`,
    );
    assert.ok(
      after.eval.loss < summary.eval.loss,
      `eval loss ${after.eval.loss} (standardised) < ${summary.eval.loss} (raw)`,
    );
  });

  it('records the task as resolved, defaults filled', () => {
    const out = tempDir();
    const r = gradscope(['run', CONFIG, '--steps', '2', '--out', join(out, 'r')]);
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(readFileSync(join(out, 'r', 'config.json'), 'utf8')) as { task: unknown };
    assert.deepEqual(config.task, {
      name: 'csv',
      path: 'fixtures/csv/scaled.csv',
      target: 'label',
      kind: 'classification',
      standardize: false,
      split: 0.2,
    });
  });

  for (const [file, message] of [
    [
      'ragged',
      /ragged\.csv line 3: 2 fields where the header has 3 \(column 3 "label" is missing\); every row needs one value per column/,
    ],
    [
      'text-in-number',
      /text-in-number\.csv line 3, column "b": "four" is not a number; feature columns must be numeric \(encode a category as numbers\)/,
    ],
    ['empty', /empty\.csv: is empty; the csv task needs a header row naming the columns/],
    [
      'no-target',
      /task\.target: "label" is not a column of fixtures\/csv\/no-target\.csv; expected a column of the file: a, b, class/,
    ],
  ] as const) {
    it(`a malformed file (${file}) exits 2 naming where and the fix, once`, () => {
      const r = gradscope([
        'run',
        CONFIG,
        '--set',
        `task.path=fixtures/csv/${file}.csv`,
        '--out',
        join(tempDir(), 'x'),
      ]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    });
  }

  it('a csv task without a path or with a bad kind is a config error naming the field', () => {
    const noPath = gradscope([
      'run',
      CONFIG,
      '--set',
      'task={"name":"csv","target":"label","kind":"classification"}',
    ]);
    assert.equal(noPath.status, 2);
    assert.match(noPath.stderr, /task\.path/);
    const badKind = gradscope(['run', CONFIG, '--set', 'task.kind=regresion']);
    assert.equal(badKind.status, 2);
    assert.match(badKind.stderr, /task\.kind.*regresion.*classification\|regression/);
  });
});
