/** Helpers for tests that drive the built command line (dist/ must be built: `npm test` builds first). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from './fixtures.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run `gradscope ...args` in a child process, as a user would. */
export function gradscope(args: readonly string[], options: { cwd?: string } = {}): CliResult {
  const root = packageRoot();
  const r = spawnSync(process.execPath, [join(root, 'bin', 'gradscope.js'), ...args], {
    encoding: 'utf8',
    cwd: options.cwd ?? root,
    env: { ...process.env, CI: 'true' },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gradscope-test-'));
}
