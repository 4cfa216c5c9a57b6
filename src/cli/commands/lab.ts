/**
 * `gradscope lab [--port N] [--host H]`: serves the browser lab (web/ and the compiled dist/) on this machine and
 * prints its address; Ctrl+C stops it. Parsing and printing only; the server lives in src/web/server.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_HOST, packageRoot, startLabServer, type LabServer } from '../../web/server.js';
import { integerFlag, parseArgs, UsageError } from '../args.js';
import { EXIT, type Command } from '../common.js';

/** The port tried first; when it is taken (and no --port was given) any free port is used instead. */
export const DEFAULT_PORT = 8123;

const USAGE = 'gradscope lab [--port N] [--host 127.0.0.1]';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

const HELP = [
  `usage: ${USAGE}`,
  `  --port N           the port (default ${DEFAULT_PORT}, or any free one when it is taken; 0 picks a free one)`,
  '  --host H           the address to listen on (default 127.0.0.1; anything else is reachable by others)',
  'example:',
  '  gradscope lab --port 8123',
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
  const args = parseArgs(argv, { values: ['port', 'host'], switches: [], usage: HELP }, 'lab');
  if (args.positionals.length > 0)
    throw new UsageError(`lab takes no positional arguments, got "${args.positionals[0]}": ${USAGE}.`);
  const port = integerFlag(args, 'port', 0);
  if (port !== undefined && port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}.`);
  const host = args.values['host'] ?? DEFAULT_HOST;
  const root = packageRoot(import.meta.url);
  if (!existsSync(join(root, 'web', 'index.html')))
    throw new UsageError(`the lab page ${join(root, 'web', 'index.html')} is missing; reinstall gradscope.`);
  if (!existsSync(join(root, 'dist', 'web', 'lab.js')))
    throw new UsageError(`the lab's script dist/web/lab.js is not built; run: npm run build`);

  let server: LabServer;
  try {
    server = await startLabServer({ root, port: port ?? DEFAULT_PORT, host });
  } catch (error) {
    if (port === undefined && isAddressInUse(error)) {
      server = await startLabServer({ root, port: 0, host });
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
  write(`gradscope lab: serving web/ and dist/ from ${root}\n`);
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
  summary: 'lab [--port N] [--host 127.0.0.1]  serve the live web lab in the browser',
  run: (argv) => runLab(argv, (text) => process.stdout.write(text)),
};
