/** What `gradscope doctor` meets on disk (issue 11): FIFOs, devices behind symlinks, oversized files, folders of runs. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringifyFinite } from '../io/jsonl.js';
import { gradscope, tempDir } from '../testing/cli.js';
import {
  diagnoseFolder,
  diagnosePath,
  DoctorInputError,
  MAX_EVENT_FILE_BYTES,
  MAX_JSON_BYTES,
  readMetricsFile,
} from './diagnose.js';
import { craftRun } from './test-records.js';

const jsonl = craftRun(6, 10, () => ({ layers: [{ grad: 0.1 }, { grad: 0.2 }], activations: [{}] }))
  .map((r) => stringifyFinite(r))
  .join('\n');

function runDir(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'metrics.jsonl'), jsonl + '\n');
  return dir;
}

describe('doctor on odd files', () => {
  it('reads a log larger than it keeps: the first and the last records, every non-finite step, an even sample', () => {
    // ~16 MB of 2 KB lines, more than the ~6 MB of line text the reader keeps
    const layers = Array.from({ length: 12 }, (_, i) => ({ grad: 0.1 + i / 100 }));
    const count = 8000;
    const nonFinite = new Set([1234, 4321, 6000]);
    const records = craftRun(count, 1, (step) => ({
      layers,
      activations: [{}],
      ...(nonFinite.has(step) ? { loss: NaN } : {}),
    }));
    const path = join(tempDir(), 'metrics.jsonl');
    writeFileSync(path, records.map((r) => stringifyFinite(r)).join('\n') + '\n');
    const { records: kept, problems } = readMetricsFile(path);
    const steps = kept.map((r) => r.step);
    assert.ok(kept.length > 500 && kept.length < count / 2, `kept ${kept.length} of ${count}`);
    assert.deepEqual(
      steps,
      [...steps].sort((a, b) => a - b),
    );
    assert.equal(steps[0], 1);
    assert.equal(steps.at(-1), count - 1);
    for (const step of nonFinite) assert.ok(steps.includes(step), `non-finite step ${step} kept`);
    // the tail is whole: the last 100 records are all there
    assert.deepEqual(
      steps.slice(-100),
      Array.from({ length: 100 }, (_, i) => count - 100 + i),
    );
    // the sample before it is even: one stride between kept steps
    const early = steps.filter((s) => s > 1 && s < count / 2 && !nonFinite.has(s));
    const gaps = new Set(early.slice(1).map((s, i) => s - (early[i] as number)));
    assert.equal(gaps.size, 1, `gaps ${[...gaps].join(', ')}`);
    assert.ok(
      problems.some((p) => /more than the doctor keeps in memory: it read them all and kept/.test(p)),
    );
  });

  it("refuses a FIFO at once (as a file and as a run directory's metrics.jsonl), never blocking on it", (t) => {
    const dir = tempDir();
    const fifo = join(dir, 'pipe.jsonl');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return t.skip('mkfifo is not available');
    assert.throws(() => diagnosePath(fifo), /is a FIFO \(named pipe\); the doctor reads regular files only/);
    const run = join(dir, 'run');
    mkdirSync(run);
    spawnSync('mkfifo', [join(run, 'metrics.jsonl')]);
    const r = gradscope(['doctor', run]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /metrics\.jsonl: is a FIFO/);
  });

  it('refuses a symlink to a device (/dev/zero would be read forever)', () => {
    const run = join(tempDir(), 'run');
    mkdirSync(run);
    symlinkSync('/dev/zero', join(run, 'metrics.jsonl'));
    assert.throws(
      () => diagnosePath(run),
      (e: unknown) =>
        e instanceof DoctorInputError &&
        /a symlink to \/dev\/zero, which is a character device/.test(e.message),
    );
  });

  it('refuses an oversized event file and notes an oversized config.json, without reading either', () => {
    const dir = tempDir();
    const events = join(dir, 'events.out.tfevents.1.host');
    writeFileSync(events, '');
    truncateSync(events, MAX_EVENT_FILE_BYTES + 1); // sparse: no disk used
    assert.throws(() => diagnosePath(events), /MiB, more than the 512 MiB the doctor reads/);
    const run = runDir(dir, 'run');
    writeFileSync(join(run, 'config.json'), '');
    truncateSync(join(run, 'config.json'), MAX_JSON_BYTES + 1);
    const report = diagnosePath(run);
    assert.equal(report.input.config, null);
    assert.ok(
      report.problems.some((p) => /config\.json: not a valid config \(.*more than the 16 MiB/.test(p)),
    );
  });

  it('takes a folder of runs: one row per run, an unreadable run a row with its reason', () => {
    const dir = tempDir();
    runDir(dir, 'b-second');
    runDir(dir, 'a-first');
    mkdirSync(join(dir, 'c-broken'));
    writeFileSync(join(dir, 'c-broken', 'metrics.jsonl'), 'not json\n');
    mkdirSync(join(dir, 'not-a-run'));
    const rows = diagnoseFolder(dir);
    assert.deepEqual(
      rows.map((r) => [r.name, r.report?.verdict ?? null, r.error !== null]),
      [
        ['a-first', 'healthy', false],
        ['b-second', 'healthy', false],
        ['c-broken', null, true],
      ],
    );
    const table = gradscope(['doctor', dir]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /3 runs in/);
    assert.match(table.stdout, /^a-first\s+healthy\s+steps 1-50/m);
    assert.match(table.stdout, /^c-broken\s+unreadable\s+holds no readable metrics record/m);
    const json = JSON.parse(gradscope(['doctor', dir, '--json']).stdout) as {
      runs: Array<{ run: string; verdict?: string; error?: string }>;
    };
    assert.deepEqual(
      json.runs.map((r) => r.run),
      ['a-first', 'b-second', 'c-broken'],
    );
    assert.ok(json.runs[2]?.error);
  });
});
