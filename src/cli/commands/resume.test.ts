/**
 * Interrupts and resume through the command line, as a user meets them: Ctrl-C (SIGINT), SIGTERM and kill -9 at
 * several points of a run; `gradscope run --resume DIR` then finishes it with the same metrics.jsonl and
 * summary.json (wall-clock fields excepted) as the uninterrupted run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../testing/fixtures.js';
import { gradscope, tempDir } from '../../testing/cli.js';

const CONFIG = {
  name: 'long',
  seed: 5,
  task: { name: 'spirals' },
  model: { kind: 'mlp', depth: 2, width: 16, dropout: 0.1 },
  optimizer: { name: 'adam', learningRate: 0.003 },
  train: { steps: 400, batchSize: 16, checkpointEvery: 50 },
  monitor: { every: 5 },
};

function lines(path: string): number {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').length - 1 : 0;
}

/** Start `gradscope run`, send `signal` once metrics.jsonl holds `after` lines; resolves with the exit status. */
function runAndSignal(
  args: string[],
  out: string,
  after: number,
  signal: NodeJS.Signals,
): Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'gradscope.js'), ...args], {
      env: { ...process.env, CI: 'true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const poll = setInterval(() => {
      if (lines(join(out, 'metrics.jsonl')) >= after) {
        clearInterval(poll);
        child.kill(signal);
      }
    }, 5);
    child.on('error', reject);
    child.on('exit', (status, killedBy) => {
      clearInterval(poll);
      resolve({ status, signal: killedBy, stderr });
    });
  });
}

function summaryWithoutClock(dir: string): Record<string, unknown> {
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  delete summary['wallSeconds'];
  delete summary['stepsPerSecond'];
  return summary;
}

describe('interrupts and resume through the CLI', () => {
  const dir = tempDir();
  const config = join(dir, 'long.json');
  writeFileSync(config, JSON.stringify(CONFIG));
  const reference = join(dir, 'reference');
  const ready = gradscope(['run', config, '--out', reference]);

  it('SIGINT and SIGTERM stop at a step boundary: summary.json ("interrupted"), report.html, exit 130 / 143', async () => {
    assert.equal(ready.status, 0, ready.stderr);
    for (const [signal, code, after] of [
      ['SIGINT', 130, 30],
      ['SIGTERM', 143, 50],
    ] as const) {
      const out = join(dir, signal);
      const r = await runAndSignal(['run', config, '--out', out], out, after, signal);
      assert.equal(r.status, code, r.stderr);
      assert.match(r.stderr, new RegExp(`${signal}: stopping at the end of this step`));
      assert.match(r.stderr, /interrupted at step \d+ of 400; summary\.json and report\.html written in/);
      assert.match(r.stderr, /continue it with: gradscope run --resume /);
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
        stoppedEarly: unknown;
        steps: number;
      };
      assert.equal(summary.stoppedEarly, 'interrupted');
      assert.ok(summary.steps > 0 && summary.steps < 400, `stopped at ${summary.steps}`);
      assert.ok(statSync(join(out, 'report.html')).size > 1000);

      const resumed = gradscope(['run', '--resume', out]);
      assert.equal(resumed.status, 0, resumed.stderr);
      assert.match(resumed.stderr, new RegExp(`resumed from the checkpoint at step ${summary.steps}`));
      assert.equal(
        readFileSync(join(out, 'metrics.jsonl'), 'utf8'),
        readFileSync(join(reference, 'metrics.jsonl'), 'utf8'),
      );
      assert.deepEqual(summaryWithoutClock(out), summaryWithoutClock(reference));
    }
  });

  it('kill -9 anywhere, between or during checkpoint writes, resumes from the last checkpoint identically', async () => {
    assert.equal(ready.status, 0, ready.stderr);
    for (const after of [25, 55]) {
      const out = join(dir, `killed-${after}`);
      const r = await runAndSignal(['run', config, '--out', out], out, after, 'SIGKILL');
      assert.equal(r.signal, 'SIGKILL');
      assert.ok(!existsSync(join(out, 'summary.json')));
      const resumed = gradscope(['run', '--resume', out, '--json']);
      assert.equal(resumed.status, 0, resumed.stderr);
      assert.equal(
        readFileSync(join(out, 'metrics.jsonl'), 'utf8'),
        readFileSync(join(reference, 'metrics.jsonl'), 'utf8'),
        `killed after ${after} lines`,
      );
      assert.deepEqual(summaryWithoutClock(out), summaryWithoutClock(reference));
    }
  });

  it('--resume refuses a finished run, a changed config, a corrupt checkpoint and extra flags, each with exit 2', () => {
    assert.equal(ready.status, 0, ready.stderr);
    const finished = gradscope(['run', '--resume', reference]);
    assert.equal(finished.status, 2);
    assert.match(finished.stderr, /completed all 400 steps; nothing to resume/);
    const extra = gradscope(['run', config, '--resume', reference]);
    assert.equal(extra.status, 2);
    assert.match(extra.stderr, /takes no config/);
    const missing = gradscope(['run', '--resume', join(dir, 'nowhere')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /not a run directory \(no config\.json\)/);

    const changed = join(dir, 'changed');
    gradscope(['run', config, '--out', changed, '--steps', '400']);
    const text = readFileSync(join(changed, 'config.json'), 'utf8');
    writeFileSync(join(changed, 'config.json'), text.replace('"steps": 400', '"steps": 500'));
    const other = gradscope(['run', '--resume', changed]);
    assert.equal(other.status, 2, other.stderr);
    assert.match(other.stderr, /written for another config/);
    writeFileSync(join(changed, 'config.json'), text);
    writeFileSync(join(changed, 'checkpoint.bin'), 'GSCKPT1\n\u0000\u0000');
    const corrupt = gradscope(['run', '--resume', changed]);
    assert.equal(corrupt.status, 2, corrupt.stderr);
    assert.match(corrupt.stderr, /checkpoint\.bin: is (truncated|corrupt)/);
    assert.doesNotMatch(corrupt.stderr, /\n\s+at /);
  });
});
