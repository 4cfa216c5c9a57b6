import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/index.js';
import { Rng } from '../tensor/rng.js';
import { TrainingSession } from '../train/session.js';
import { createCsvTask, parseCsv, type CsvTaskOptions } from './csv.js';
import { GradscopeError } from '../util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'gradscope-csv-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Where in a file an error is: the file, its line, and the column when one value is wrong. */
const FILE_PLACE = /\.csv( line \d+(, column "[^"]*")?)?$/;

function rejects(options: CsvTaskOptions, pattern: RegExp, path: string | RegExp = FILE_PLACE): void {
  assert.throws(
    () => createCsvTask(options, 0),
    (error: unknown) => {
      assert.ok(error instanceof GradscopeError, String(error));
      if (typeof path === 'string') assert.equal(error.path, path);
      else assert.match(error.path, path);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

/** 400 rows of 4 Gaussian features labelled by a linear rule; feature `b` multiplied by `scaleB`. */
function linearTable(scaleB: number): string {
  const rng = new Rng(3);
  const lines = ['a,b,c,d,label'];
  for (let i = 0; i < 400; i++) {
    const x = [rng.normal(), rng.normal(), rng.normal(), rng.normal()] as [number, number, number, number];
    const label = x[0] + x[1] - x[2] + 0.5 * x[3] > 0 ? 'yes' : 'no';
    x[1] *= scaleB;
    lines.push([...x.map((v) => v.toPrecision(6)), label].join(','));
  }
  return lines.join('\n') + '\n';
}

describe('parseCsv', () => {
  it('reads quoted fields with commas, quotes and newlines, CRLF, a BOM and blank lines', () => {
    const table = parseCsv('\ufeffname, value\r\n"a, b",1\r\n\r\n"say ""hi""",2\n"two\nlines",3\n', 'f.csv');
    assert.deepEqual(table.header, ['name', 'value']);
    assert.deepEqual(table.rows, [
      ['a, b', '1'],
      ['say "hi"', '2'],
      ['two\nlines', '3'],
    ]);
    assert.deepEqual(table.lines, [2, 4, 5], 'each row names the line it starts on');
  });

  it('rejects ragged rows, unclosed quotes, stray quotes and bad headers with the line', () => {
    assert.throws(() => parseCsv('a,b\n1,2\n3\n', 'f.csv'), /f\.csv line 3: 1 field where the header has 2/);
    assert.throws(
      () => parseCsv('a,b\n1,"2\n3,4\n', 'f.csv'),
      /f\.csv line 2: a quoted field is never closed/,
    );
    assert.throws(() => parseCsv('a,b\n1,x"y\n', 'f.csv'), /line 2: a quote inside an unquoted field/);
    assert.throws(() => parseCsv('a,,c\n1,2,3\n', 'f.csv'), /line 1: column 2 of the header has no name/);
    assert.throws(() => parseCsv('a,a\n1,2\n', 'f.csv'), /column 1 and column 2 both "a"; rename one/);
    assert.throws(() => parseCsv(' \n\n', 'f.csv'), /f\.csv: is empty; the csv task needs a header row/);
  });
});

describe('the csv task', () => {
  it('maps string classes to sorted ids and splits from the seed', () => {
    const path = file(
      'iris.csv',
      'w,h,species\n1,2,b\n2,3,a\n3,4,c\n4,5,a\n5,6,b\n6,7,c\n7,8,a\n8,9,b\n9,1,c\n1,1,a\n',
    );
    const task = createCsvTask({ path, target: 'species', kind: 'classification' }, 0);
    assert.deepEqual(task.classes, ['a', 'b', 'c']);
    assert.equal(task.inputSize, 2);
    assert.equal(task.outputSize, 3);
    assert.equal(task.loss, 'cross-entropy');
    assert.equal(task.evalRows, 2, '0.2 of 10 rows held out by default');
    assert.equal(task.trainRows, 8);
    assert.equal(task.baseline.loss, Math.log(3));
    const evalSet = task.evalSet();
    assert.deepEqual(evalSet.x.shape, [2, 2]);
    assert.deepEqual(evalSet.y.shape, [2, 3]);
    const batch = task.trainBatch(5, new Rng(1));
    assert.deepEqual(batch.x.shape, [5, 2]);
    assert.ok(batch.labels?.every((l) => l >= 0 && l < 3));
    // The same seed gives the same split; another seed another one.
    const again = createCsvTask({ path, target: 'species', kind: 'classification' }, 0).evalSet();
    assert.deepEqual(Array.from(again.x.data), Array.from(evalSet.x.data));
    const other = createCsvTask({ path, target: 'species', kind: 'classification', split: 0.5 }, 7);
    assert.equal(other.evalRows, 5);
  });

  it('orders numeric class labels numerically', () => {
    const path = file('numeric-classes.csv', 'x,y\n1,10\n2,9\n3,10\n4,2\n');
    assert.deepEqual(createCsvTask({ path, target: 'y', kind: 'classification' }, 0).classes, [
      '2',
      '9',
      '10',
    ]);
  });

  it('regresses a numeric target, its baseline the training mean', () => {
    const path = file('reg.csv', 'x1,x2,price\n1,2,10\n2,1,20\n3,3,30\n4,4,40\n5,0,50\n');
    const task = createCsvTask({ path, target: 'price', kind: 'regression', split: 0.4 }, 0);
    assert.equal(task.loss, 'mse');
    assert.equal(task.outputSize, 1);
    assert.equal(task.classes, null);
    const evalSet = task.evalSet();
    assert.equal(evalSet.labels, null);
    assert.deepEqual(evalSet.y.shape, [2, 1]);
    assert.ok(task.baseline.loss > 0 && Number.isFinite(task.baseline.loss));
  });

  it('standardises over the training rows and reports the feature scales', () => {
    const path = file('scaled.csv', linearTable(1e4));
    const raw = createCsvTask({ path, target: 'label', kind: 'classification' }, 0);
    assert.equal(raw.featureScale.standardized, false);
    assert.equal(raw.featureScale.widest, 'b');
    assert.ok(raw.featureScale.scaleRatio > 5e3, `ratio ${raw.featureScale.scaleRatio}`);
    const standard = createCsvTask({ path, target: 'label', kind: 'classification', standardize: true }, 0);
    assert.equal(standard.featureScale.standardized, true);
    for (let j = 0; j < 4; j++) {
      assert.ok(Math.abs(standard.featureScale.mean[j] as number) < 1e-6);
      assert.ok(Math.abs((standard.featureScale.std[j] as number) - 1) < 1e-5);
    }
    assert.ok(standard.featureScale.scaleRatio < 1.0001);
    assert.deepEqual(standard.rawFeatureScale.std, raw.featureScale.std);
  });

  it('trains badly on a feature scaled by 1e4 and well once standardised', () => {
    const path = file('scaled-train.csv', linearTable(1e4));
    const outcome = (activation: string, init: string, standardize: boolean) => {
      const task = createCsvTask({ path, target: 'label', kind: 'classification', standardize }, 0);
      const config = resolveConfig(
        {
          task: { name: 'spirals' }, // not built: the session trains on the csv task given below
          model: { kind: 'mlp', depth: 3, width: 32, activation, init },
          optimizer: { name: 'sgd', learningRate: 0.05 },
          train: { steps: 300, batchSize: 32 },
          monitor: { every: 10 },
        },
        { defaultName: 'csv' },
      );
      const session = new TrainingSession(config, { task });
      while (!session.done) session.step();
      return session.finish();
    };
    const reluRaw = outcome('relu', 'he-normal', false);
    assert.equal(reluRaw.verdict, 'exploding');
    const tanhRaw = outcome('tanh', 'xavier-uniform', false);
    assert.equal(tanhRaw.verdict, 'saturated');
    for (const [activation, init] of [
      ['relu', 'he-normal'],
      ['tanh', 'xavier-uniform'],
    ] as const) {
      const cured = outcome(activation, init, true);
      assert.equal(cured.verdict, 'healthy', `${activation} standardised`);
      assert.ok((cured.eval.accuracy ?? 0) > 0.9, `${activation}: accuracy ${cured.eval.accuracy}`);
    }
  });

  it('rejects malformed files naming the line, the column and the fix', () => {
    rejects(
      { path: file('ragged.csv', 'a,b,y\n1,2,0\n3,4\n'), target: 'y', kind: 'classification' },
      /ragged\.csv line 3: 2 fields where the header has 3 \(column 3 "[a-z]*" is missing\); every row needs one value per column/,
    );
    rejects(
      { path: file('text.csv', 'a,b,y\n1,2,0\n3,abc,1\n'), target: 'y', kind: 'classification' },
      /text\.csv line 3, column "b": "abc" is not a number; feature columns must be numeric/,
    );
    rejects(
      { path: file('missing.csv', 'a,b,y\n1,,0\n3,4,1\n'), target: 'y', kind: 'classification' },
      /missing\.csv line 2, column "b": missing value; fill it in or drop the row/,
    );
    rejects({ path: file('empty.csv', ''), target: 'y', kind: 'classification' }, /empty\.csv: is empty/);
    rejects(
      { path: file('no-target.csv', 'a,b,Price\n1,2,3\n4,5,6\n'), target: 'price', kind: 'regression' },
      /^task\.target: "price" is not a column of .*no-target\.csv; expected a column of the file: a, b, Price; did you mean "Price"\?$/,
      'task.target',
    );
    rejects(
      { path: file('text-target.csv', 'a,y\n1,2\n3,big\n'), target: 'y', kind: 'regression' },
      /line 3, column "y": "big" is not a number; a regression target must be numeric \(use "kind": "classification"/,
    );
    rejects(
      { path: file('one-class.csv', 'a,y\n1,u\n2,u\n'), target: 'y', kind: 'classification' },
      /holds a single class \("u"\)/,
      'task.target',
    );
    rejects(
      { path: file('one-row.csv', 'a,y\n1,u\n'), target: 'y', kind: 'classification' },
      /has 1 data row; the csv task needs at least 2/,
    );
    rejects(
      { path: file('only-target.csv', 'y\n1\n2\n'), target: 'y', kind: 'regression' },
      /only the target column "y"; add at least one feature column/,
    );
    rejects(
      { path: join(dir, 'absent.csv'), target: 'y', kind: 'regression' },
      /^task\.path: cannot read ".*absent\.csv" \(.*\); give the path of a CSV file/,
      'task.path',
    );
  });

  it('bounds the file size', () => {
    const path = file('big.csv', 'a,y\n' + '1,2\n'.repeat(1000));
    assert.throws(
      () => createCsvTask({ path, target: 'y', kind: 'regression' }, 0, { maxBytes: 1000 }),
      /task\.path: ".*big\.csv" is 3\.9 KB; expected a file of at most 1\.0 KB, what the csv task reads; sample its rows into a smaller file/,
    );
    assert.equal(createCsvTask({ path, target: 'y', kind: 'regression' }, 0).inputSize, 1);
  });

  it('checks its fields', () => {
    const path = file('ok.csv', 'a,y\n1,2\n2,3\n');
    rejects(
      { path, target: 'y', kind: 'regression', split: 1 },
      /^task\.split: 1 is not accepted; expected a number in \(0, 1\)/,
      'task.split',
    );
    rejects(
      { path, target: 'y', kind: 'ordinal' as never },
      /^task\.kind: "ordinal" is not accepted; expected one of classification\|regression/,
      'task.kind',
    );
    rejects(
      { path, target: 'y', kind: 'regression', standardize: 'yes' as never },
      /^task\.standardize: "yes" is not accepted; expected true or false/,
      'task.standardize',
    );
    rejects(
      { path, target: '', kind: 'regression' },
      /^task\.target: "" is not accepted; expected a column name/,
      'task.target',
    );
  });

  it('reads a relative path from baseDir', () => {
    file('relative.csv', 'a,y\n1,2\n2,3\n');
    assert.equal(
      createCsvTask({ path: 'relative.csv', target: 'y', kind: 'regression' }, 0, { baseDir: dir }).trainRows,
      1,
    );
  });
});
