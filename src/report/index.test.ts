import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseFinite, stringifyFinite, writeJson } from '../io/jsonl.js';
import { loadRun, RunLoadError, writeComparison, writeRunReport } from './index.js';
import { sampleRun } from './sample-runs.js';

const root = mkdtempSync(join(tmpdir(), 'gradscope-report-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Writes a sample run the way the trainer does; returns its directory. */
function writeRunDir(name: string, options: Parameters<typeof sampleRun>[0] = {}): string {
  const dir = join(root, name);
  mkdirSync(dir);
  const run = sampleRun({ name, ...options });
  writeJson(join(dir, 'config.json'), run.config);
  writeFileSync(join(dir, 'metrics.jsonl'), run.records.map((r) => stringifyFinite(r) + '\n').join(''));
  writeJson(join(dir, 'summary.json'), run.summary);
  return dir;
}

describe('loadRun', () => {
  it('reads the three files back, non-finite values included', () => {
    const dir = writeRunDir('nan-run', { nonFinite: true, logged: 20 });
    const run = loadRun(dir);
    assert.equal(run.config.name, 'nan-run');
    assert.equal(run.records.length, 20);
    assert.ok(run.records.some((r) => Number.isNaN(r.loss)));
    assert.ok(run.records.some((r) => r.gradNorm === Infinity));
    assert.equal(run.summary.name, 'nan-run');
    assert.equal(run.dir, dir);
    assert.equal(run.badLines, undefined);
  });

  it('names the missing file', () => {
    const dir = writeRunDir('no-summary');
    rmSync(join(dir, 'summary.json'));
    assert.throws(
      () => loadRun(dir),
      (error: unknown) =>
        error instanceof RunLoadError && error.code === 'not_found' && /summary\.json/.test(error.message),
    );
    assert.throws(
      () => loadRun(join(root, 'nowhere')),
      /nowhere: does not exist; a run directory holds config\.json/,
    );
  });

  it('names a file that is not JSON', () => {
    const dir = writeRunDir('bad-config');
    writeFileSync(join(dir, 'config.json'), '{ "name": ');
    assert.throws(
      () => loadRun(dir),
      (error: unknown) =>
        error instanceof RunLoadError && error.code === 'invalid_json' && /config\.json/.test(error.message),
    );
  });

  it('keeps every readable line of a torn metrics.jsonl and says which were not', () => {
    const dir = writeRunDir('torn', { logged: 5 });
    const path = join(dir, 'metrics.jsonl');
    writeFileSync(path, readFileSync(path, 'utf8') + '{"step": 60, "loss"');
    const run = loadRun(dir);
    assert.equal(run.records.length, 5);
    assert.equal(run.badLines?.[0]?.line, 6);
  });
});

describe('writeRunReport', () => {
  it('writes report.html into the run directory', () => {
    const dir = writeRunDir('written', { recurrent: true });
    const path = writeRunReport(dir);
    assert.equal(path, join(dir, 'report.html'));
    const html = readFileSync(path, 'utf8');
    assert.match(html, /<title>written · gradscope report<\/title>/);
    assert.match(html, /id="chart-time"/);
  });
});

describe('writeComparison', () => {
  it('writes comparison.json (non-finite losses kept) and report.html with links relative to it', () => {
    const worse = loadRun(writeRunDir('cmp-worse', { evalLoss: 0.6 }));
    const better = loadRun(writeRunDir('cmp-better', { evalLoss: 0.2 }));
    const broken = loadRun(writeRunDir('cmp-broken', { evalLoss: NaN }));
    const out = join(root, 'cmp-out');
    mkdirSync(out);
    const comparison = writeComparison(out, [worse, better, broken]);
    assert.equal(comparison.best, 'cmp-better');
    const json = parseFinite(readFileSync(join(out, 'comparison.json'), 'utf8')) as typeof comparison;
    assert.equal(json.best, 'cmp-better');
    assert.deepEqual(
      json.runs.map((r) => r.dir),
      ['../cmp-worse', '../cmp-better', '../cmp-broken'],
    );
    assert.ok(Number.isNaN(json.runs[2]?.eval.loss));
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(html, /href="\.\.\/cmp-better\/report\.html"/);
  });
});
