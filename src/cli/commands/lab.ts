/**
 * `gradscope lab [--runs DIR] [--port N] [--host H] [--allow-host NAME]`: serves the browser lab (web/, its bundle
 * in web/dist/) and the runs under DIR on this machine and prints its address; Ctrl+C stops it. Parsing and
 * printing only; the server lives in src/web/server.ts.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_HOST, packageRoot, startLabServer, type LabServer } from '../../web/server.js';
import { integerFlag, parseArgs, UsageError } from '../args.js';
import { EXIT, type Command } from '../common.js';

/** The port tried first; when it is taken (and no --port was given) any free port is used instead. */
export const DEFAULT_PORT = 8123;

const USAGE = 'gradscope lab [--runs DIR] [--port N] [--host 127.0.0.1] [--allow-host NAME]';

/** The run folder shown when no --runs is given (where gradscope run writes); it may not exist yet. */
export const DEFAULT_RUNS = 'runs';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

const HELP = [
  `usage: ${USAGE}`,
  `  --runs DIR         the run folder to list and follow live (default ${DEFAULT_RUNS}/, where gradscope run writes)`,
  `  --port N           the port (default ${DEFAULT_PORT}, or any free one when it is taken; 0 picks a free one)`,
  '  --host H           the address to listen on (default 127.0.0.1; anything else is reachable by others)',
  '  --allow-host NAME  another host name browsers may use to reach the lab (repeatable; e.g. behind --host 0.0.0.0)',
  'example:',
  '  gradscope run deep-sigmoid & gradscope lab --runs runs',
].join('\n');

function isAddressInUse(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'EADDRINUSE';
}

/**
 * Runs the server until SIGINT or SIGTERM; resolves with the exit code. `write` receives the lines a user reads.
 *
 * @example await runLab(['--port', '0'], (text) => process.stdout.write(text));
 */
export async function runLab(argv: readonly string[], write: (text: string) => void): Promise<number> {
  const args = parseArgs(
    argv,
    { values: ['port', 'host', 'runs'], lists: ['allow-host'], switches: [], usage: HELP },
    'lab',
  );
  if (args.positionals.length > 0)
    throw new UsageError(`lab takes no positional arguments, got "${args.positionals[0]}": ${USAGE}.`);
  const port = integerFlag(args, 'port', 0);
  if (port !== undefined && port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}.`);
  const host = args.values['host'] ?? DEFAULT_HOST;
  const root = packageRoot(import.meta.url);
  if (!existsSync(join(root, 'web', 'index.html')))
    throw new UsageError(`the lab page ${join(root, 'web', 'index.html')} is missing; reinstall gradscope.`);
  if (!existsSync(join(root, 'web', 'dist', 'lab.js')))
    throw new UsageError(
      `the lab's script ${join(root, 'web', 'dist', 'lab.js')} is not built; run: npm run build`,
    );
  const runsFlag = args.values['runs'];
  const runsDir = resolve(runsFlag ?? DEFAULT_RUNS);
  if (runsFlag !== undefined && !(existsSync(runsDir) && statSync(runsDir).isDirectory()))
    throw new UsageError(
      `--runs ${runsFlag}: ${existsSync(runsDir) ? 'is not a directory' : 'does not exist'}; give the folder that holds your run directories (gradscope run writes to ${DEFAULT_RUNS}/).`,
    );
  const allowHosts = args.lists['allow-host'] ?? [];
  const serverOptions = { root, host, runsDir, allowHosts };

  let server: LabServer;
  try {
    server = await startLabServer({ ...serverOptions, port: port ?? DEFAULT_PORT });
  } catch (error) {
    if (port === undefined && isAddressInUse(error)) {
      server = await startLabServer({ ...serverOptions, port: 0 });
    } else if (isAddressInUse(error)) {
      throw new UsageError(
        `port ${port} is already in use; pick another with --port N (0 picks a free one).`,
      );
    } else if (typeof error === 'object' && error !== null && 'code' in error) {
      throw new UsageError(`cannot listen on ${host}:${port ?? DEFAULT_PORT}: ${String(error)}.`);
    } else {
      throw error;
    }
  }
  write(`gradscope lab: serving the page from ${join(root, 'web')}\n`);
  write(
    `gradscope lab: runs from ${runsDir}${existsSync(runsDir) ? '' : ' (not there yet: it fills as gradscope run writes)'}\n`,
  );
  if (!LOOPBACK.has(host))
    write(
      `gradscope lab: listening on ${host}, not loopback: anyone who can reach this machine can open the lab.\n`,
    );
  write(`open ${server.url}  (e.g. ${server.url}?preset=deep-sigmoid&autorun=1)\n`);
  write('press Ctrl+C to stop\n');

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  write('gradscope lab: stopped\n');
  return EXIT.ok;
}

export const labCommand: Command = {
  summary:
    'lab [--runs DIR] [--port N] [--host H]  the live web lab: runs under DIR, and training in the browser',
  run: (argv) => runLab(argv, (text) => process.stdout.write(text)),
};
