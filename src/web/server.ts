/**
 * The lab's static file server: `web/` at `/` (and at `/web/`) and the compiled `dist/` at `/dist/`, so the page can
 * import `dist/train/session.js` and the rest of the engine as ES modules. Node's `http` only, no dependencies.
 * Read-only: GET and HEAD, no directory listings, nothing outside the two folders (`..`, encoded or not, is
 * refused, and a file is served only when its real path, links resolved, lies inside its folder).
 *
 * @example
 * const server = await startLabServer({ root: packageRoot(import.meta.url), port: 0 });
 * console.log(server.url); // http://127.0.0.1:40123/
 * await server.close();
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Content types by file extension; anything else is served as bytes. */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
};

export const DEFAULT_HOST = '127.0.0.1';

/** The URL prefixes the server answers and the folder (relative to the package root) each one maps to. */
const MOUNTS: ReadonlyArray<{ prefix: string; folder: string }> = [
  { prefix: '/dist/', folder: 'dist' },
  { prefix: '/web/', folder: 'web' },
  { prefix: '/', folder: 'web' },
];

/**
 * The package root: the nearest folder at or above `from` (a file URL or path) that holds a package.json.
 *
 * @example packageRoot(import.meta.url) // '/home/me/gradscope'
 */
export function packageRoot(from: string): string {
  const start = from.startsWith('file:') ? dirname(fileURLToPath(from)) : from;
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in ${start} or any folder above it.`);
  }
}

/** Why a request path maps to no file. */
export type LookupFailure = 'bad-path' | 'forbidden' | 'not-found';

/**
 * The file a URL path names, or why none: `bad-path` for undecodable text or NUL bytes, `forbidden` for `..`
 * segments or backslashes (raw or percent-encoded), `not-found` for the rest. `/` is `web/index.html`.
 *
 * @example resolveStaticPath('/repo', '/dist/train/session.js') // { file: '/repo/dist/train/session.js' }
 */
export function resolveStaticPath(
  root: string,
  urlPath: string,
): { file: string } | { failure: LookupFailure } {
  const pathname = urlPath.split(/[?#]/, 1)[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return { failure: 'bad-path' };
  }
  if (!decoded.startsWith('/') || decoded.includes('\0')) return { failure: 'bad-path' };
  if (decoded.includes('\\') || decoded.split('/').some((segment) => segment === '..' || segment === '.'))
    return { failure: 'forbidden' };
  const mount = MOUNTS.find((m) => decoded.startsWith(m.prefix));
  if (!mount) return { failure: 'not-found' };
  let relative = decoded.slice(mount.prefix.length);
  if (mount.folder === 'web' && relative === '') relative = 'index.html';
  if (relative === '' || relative.endsWith('/')) return { failure: 'not-found' };
  const folder = join(root, mount.folder);
  const file = join(folder, ...relative.split('/'));
  // Links could lead out of the folder even without '..': compare real paths.
  try {
    const realFolder = realpathSync(folder);
    const realFile = realpathSync(file);
    if (!realFile.startsWith(realFolder + sep)) return { failure: 'forbidden' };
    if (!statSync(realFile).isFile()) return { failure: 'not-found' };
    return { file: realFile };
  } catch {
    return { failure: 'not-found' };
  }
}

const FAILURE_STATUS: Readonly<Record<LookupFailure, number>> = {
  'bad-path': 400,
  forbidden: 403,
  'not-found': 404,
};

function send(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(message),
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(message);
}

async function handle(root: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    send(response, 405, `${request.method ?? '?'} is not allowed: the lab server only serves files.\n`);
    return;
  }
  const found = resolveStaticPath(root, request.url ?? '/');
  if ('failure' in found) {
    const hint =
      found.failure === 'not-found' && (request.url ?? '').startsWith('/dist/')
        ? ' (is the project built? run: npm run build)'
        : '';
    send(response, FAILURE_STATUS[found.failure], `${found.failure}: ${request.url ?? ''}${hint}\n`);
    return;
  }
  const body = await readFile(found.file);
  response.writeHead(200, {
    'Content-Type': MIME_TYPES[extname(found.file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': body.length,
    // A development server: a rebuilt dist/ shows on the next reload.
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

export interface LabServerOptions {
  /** The package root, holding web/ and dist/. */
  root: string;
  /** 0 picks a free port. */
  port: number;
  /** Defaults to 127.0.0.1: only this machine can connect. */
  host?: string;
}

export interface LabServer {
  /** The page's address, e.g. http://127.0.0.1:8123/ */
  url: string;
  port: number;
  host: string;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/** Starts serving; rejects with the listen error (e.g. EADDRINUSE) when the port cannot be had. */
export function startLabServer(options: LabServerOptions): Promise<LabServer> {
  const host = options.host ?? DEFAULT_HOST;
  const server = createServer((request, response) => {
    handle(options.root, request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, `could not read the file: ${String(error)}\n`);
      else response.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      const shown = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shown}:${port}/`,
        port,
        host,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
