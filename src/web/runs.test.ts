import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MetricsRecord } from '../io/runlog.js';
import { listRuns, MetricsTail, readRun, RunFolderError, runDirectory } from './runs.js';
import { makeRunFolder, metricsLine } from './test-runs.js';

describe('the run folder', () => {
  let folder: { dir: string; outside: string };
  before(() => {
    folder = makeRunFolder();
  });
  after(() => rmSync(join(folder.dir, '..'), { recursive: true, force: true }));

  it('lists gradscope, PyTorch and TensorBoard runs with their name, status, verdict, steps and age', () => {
    const { runs, skipped } = listRuns(folder.dir);
    const byName = new Map(runs.map((r) => [r.name, r]));
    assert.deepEqual([...byName.keys()].sort(), ['live-one', 'small-tanh', 'tb-log', 'torch-run']);
    const small = byName.get('small-tanh');
    assert.ok(small);
    assert.equal(small.kind, 'gradscope');
    assert.equal(small.status, 'finished');
    assert.equal(small.steps, 12);
    assert.equal(small.totalSteps, 12);
    assert.equal(small.task, 'spirals');
    assert.match(small.model ?? '', /MLP 2 × 8 tanh/);
    assert.ok(typeof small.verdict === 'string' && small.verdict.length > 0);
    assert.ok(Date.now() - small.mtime < 60_000 && small.mtime > 0);
    const live = byName.get('live-one');
    assert.deepEqual([live?.kind, live?.status, live?.verdict, live?.steps], ['gradscope', 'live', null, 5]);
    assert.deepEqual(
      [byName.get('torch-run')?.kind, byName.get('torch-run')?.model],
      ['pytorch', 'PyTorch Sequential'],
    );
    assert.deepEqual([byName.get('tb-log')?.kind, byName.get('tb-log')?.steps], ['tensorboard', 20]);
    // An hour later nothing has been written: the live run is reported stopped.
    assert.equal(
      listRuns(folder.dir, Date.now() + 3_600_000).runs.find((r) => r.name === 'live-one')?.status,
      'stopped',
    );
    assert.ok(
      skipped.some((s) => s.startsWith('bad name: not a run name')),
      skipped.join('\n'),
    );
    assert.ok(
      skipped.some((s) => s.startsWith('linked-out:') && /outside/.test(s)),
      skipped.join('\n'),
    );
  });

  it('never follows a link out of the folder, for a run or for one of its files', () => {
    assert.throws(
      () => runDirectory(join(folder.dir), 'linked-out'),
      (e: unknown) => e instanceof RunFolderError && e.status === 403,
    );
    assert.throws(
      () => readRun(folder.dir, 'file-link'),
      (e: unknown) => e instanceof RunFolderError && e.status === 404,
    );
    for (const name of ['..', '.', '../outside', 'a/b', '%2e%2e', '', 'x'.repeat(101)])
      assert.throws(
        () => readRun(folder.dir, name),
        (e: unknown) => e instanceof RunFolderError && e.status === 400,
        name,
      );
    assert.throws(
      () => readRun(folder.dir, 'no-such-run'),
      (e: unknown) => e instanceof RunFolderError && e.status === 404,
    );
  });

  it('reads a run: config, summary and the records up to the last complete line', () => {
    const small = readRun(folder.dir, 'small-tanh');
    assert.deepEqual(
      small.records.map((r) => r.step),
      [1, 4, 8, 12],
    );
    assert.equal((small.summary as { steps: number }).steps, 12);
    assert.equal((small.config as { name: string }).name, 'small-tanh');
    const live = readRun(folder.dir, 'live-one');
    assert.deepEqual(
      live.records.map((r) => r.step),
      [1, 5],
    );
    assert.equal(live.offset, Buffer.byteLength(metricsLine(1, 2) + metricsLine(5, 1.5)));
    assert.equal(live.summary, null);
    const tb = readRun(folder.dir, 'tb-log');
    assert.deepEqual(
      tb.records.map((r) => r.step),
      [0, 10, 20],
    );
  });
});

describe('MetricsTail', () => {
  it('returns each completed line once, holds back a partial line, and starts over when the file shrinks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-tail-'));
    try {
      const path = join(dir, 'metrics.jsonl');
      const tail = new MetricsTail(path, 0);
      assert.deepEqual(tail.read().records, [], 'a missing file is not an error: the run has not started');
      writeFileSync(path, metricsLine(1, 2));
      const line5 = metricsLine(5, Number.NaN);
      appendFileSync(path, line5.slice(0, 30));
      const first = tail.read();
      assert.deepEqual(
        first.records.map((r: MetricsRecord) => r.step),
        [1],
      );
      assert.deepEqual(tail.read().records, []);
      appendFileSync(path, line5.slice(30));
      const second = tail.read();
      assert.deepEqual(
        second.records.map((r) => r.step),
        [5],
      );
      assert.ok(Number.isNaN(second.records[0]?.loss), 'non-finite strings read back as numbers');
      assert.equal(tail.offset, Buffer.byteLength(metricsLine(1, 2) + line5));
      appendFileSync(path, 'not json\n' + metricsLine(9, 1));
      const third = tail.read();
      assert.deepEqual(
        third.records.map((r) => r.step),
        [9],
      );
      assert.match(third.problems[0] ?? '', /metrics\.jsonl line 3: .*skipped/);
      writeFileSync(path, metricsLine(1, 3));
      const rewritten = tail.read();
      assert.equal(rewritten.reset, true);
      assert.deepEqual(
        rewritten.records.map((r) => r.loss),
        [3],
      );
      // Small reads: a line longer than the chunk is skipped and reported, the next one still read.
      const small = new MetricsTail(path, 0);
      appendFileSync(path, metricsLine(2, 1));
      const chunked = small.read(64);
      assert.match(chunked.problems[0] ?? '', /longer than 64 bytes/);
      assert.throws(() => new MetricsTail(path, -1), /whole number >= 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
