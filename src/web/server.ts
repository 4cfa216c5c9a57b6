/**
 * The lab's server: the page (`web/`, with its bundle in `web/dist/`) at `/`, and with a run folder the run API:
 *
 * - `GET /api/runs`: every run under the folder (runs.ts): `{ runsDir, runs: RunEntry[], skipped }`.
 * - `GET /api/run?name=N`: one run: `{ entry, config, summary, records, offset, problems }`.
 * - `GET /api/stream?name=N[&from=OFFSET]`: Server-Sent Events following the run's metrics.jsonl as it grows:
 *   `event: records` (a JSON array of the records completed since the last event; `id:` is the byte offset, so a
 *   reconnecting EventSource resumes where it was), `event: summary` once summary.json appears, then `event: end`.
 *   The server watches the run directory (fs.watch), with a slow stat every few seconds as a safety net.
 *
 * Safety, because a page on any other site can make a browser send requests here: the server binds 127.0.0.1
 * unless told otherwise; answers only requests whose Host names this server and whose Origin (when sent) is
 * this server (a foreign Host is DNS rebinding: 403); is read-only (GET and HEAD, no request bodies); serves only
 * files whose real path lies inside `web/` or inside the run folder (`..`, encoded or not, and links out are
 * refused); bounds the URL, the headers, the connections and the live streams.
 *
 * @example
 * const server = await startLabServer({ root: packageRoot(import.meta.url), port: 0, runsDir: 'runs' });
 * console.log(server.url); // http://127.0.0.1:40123/
 * await server.close();
 */
import { existsSync, readFileSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { dirname, extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFinite, stringifyFinite } from '../io/json.js';
import { listRuns, MetricsTail, readRun, RunFolderError, runFiles, runFinished } from './runs.js';

/** Content types by file extension; anything else is served as bytes. */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
};

export const DEFAULT_HOST = '127.0.0.1';

/** What one request and the server as a whole may use. */
export interface ServerLimits {
  /** Longest request target (path and query), in bytes: longer is 414. */
  urlBytes: number;
  /** All request headers together, in bytes: more is 431 (Node's own check). */
  headerBytes: number;
  /** Open connections; Node closes the ones beyond. */
  connections: number;
  /** Live event streams at once: more is 503. */
  streams: number;
  /** Milliseconds a client has to send its whole request. */
  requestTimeoutMs: number;
  /** Milliseconds between the safety-net checks of a followed run (fs.watch does the prompt work). */
  streamCheckMs: number;
  /** Milliseconds between keep-alive comments on an idle stream. */
  heartbeatMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  urlBytes: 4096,
  headerBytes: 16 * 1024,
  connections: 1024,
  streams: 64,
  requestTimeoutMs: 30_000,
  streamCheckMs: 2000,
  heartbeatMs: 15_000,
};

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

/** The URL prefixes the page is served under (both map to web/: `/` for the lab, `/web/` for a static server). */
const PAGE_PREFIXES = ['/web/', '/'] as const;

/**
 * The file a URL path names in `web/`, or why none: `bad-path` for undecodable text or NUL bytes, `forbidden` for
 * `..` or `.` segments or backslashes (raw or percent-encoded) and for files whose real path leaves `web/`,
 * `not-found` for the rest. `/` is `web/index.html`.
 *
 * @example resolveStaticPath('/repo', '/dist/lab.js') // { file: '/repo/web/dist/lab.js' }
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
  const prefix = PAGE_PREFIXES.find((p) => decoded.startsWith(p)) ?? '/';
  let relative = decoded.slice(prefix.length);
  if (relative === '') relative = 'index.html';
  if (relative.endsWith('/') || relative.split('/').some((segment) => segment === ''))
    return { failure: 'not-found' };
  const folder = join(root, 'web');
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

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // The page's own scripts, its worker and WebAssembly kernels; nothing from elsewhere, no framing.
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'",
} as const;

function send(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(message),
    'Cache-Control': 'no-store',
    ...SECURITY_HEADERS,
  });
  response.end(message);
}

function sendJson(response: ServerResponse, method: string, value: unknown): void {
  const body = Buffer.from(stringifyFinite(value));
  response.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
    ...SECURITY_HEADERS,
  });
  response.end(method === 'HEAD' ? undefined : body);
}

// ---------------------------------------------------------------------------------------------------------------
// Host and Origin: who may talk to this server

/** `[::1]` for an IPv6 address, the name in lower case otherwise: how a Host header spells it. */
function hostSpelling(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare.includes(':') ? `[${bare.toLowerCase()}]` : bare.toLowerCase();
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * The host names a request may use to reach a server bound to `bindHost`: the loopback names, the bound address,
 * and for a wildcard bind (0.0.0.0, ::) this machine's addresses and name; plus `extra` (`--allow-host`).
 *
 * @example allowedHostnames('127.0.0.1') // Set { '127.0.0.1', 'localhost', '[::1]' }
 */
export function allowedHostnames(bindHost: string, extra: readonly string[] = []): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  const wildcard = bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '';
  if (wildcard) {
    for (const list of Object.values(networkInterfaces()))
      for (const address of list ?? []) names.add(hostSpelling(address.address));
    names.add(hostSpelling(hostname()));
  } else {
    names.add(hostSpelling(bindHost));
  }
  for (const name of extra) names.add(hostSpelling(name));
  return names;
}

/** Splits a Host header (`name:port`, `[v6]:port`, or a name alone for port 80) into its parts; null if malformed. */
export function parseHostHeader(value: string): { name: string; port: number } | null {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(value);
  if (!match) return null;
  return { name: hostSpelling(match[1] as string), port: match[2] === undefined ? 80 : Number(match[2]) };
}

/**
 * Why a request may not be answered (its Host or Origin is not this server's), or null when it may. Browsers always
 * send Host, and send Origin on cross-origin reads and event streams; a page reached through a rebound DNS name
 * carries that name in both.
 */
export function checkCaller(
  headers: IncomingMessage['headers'],
  allowed: ReadonlySet<string>,
  port: number,
): { status: 400 | 403; message: string } | null {
  const own = `${[...allowed]
    .slice(0, 3)
    .map((name) => `${name}:${port}`)
    .join(', ')}`;
  const host = headers.host;
  if (host === undefined || host === '')
    return {
      status: 400,
      message: 'the request has no Host header; the lab answers only requests naming it.',
    };
  const parsed = parseHostHeader(host);
  if (parsed === null || !allowed.has(parsed.name) || parsed.port !== port)
    return {
      status: 403,
      message:
        `Host ${JSON.stringify(host)} is not this lab's address (${own}): refused, as a page reached through ` +
        'another name (DNS rebinding) would be. Open the address gradscope lab printed, or allow the name with ' +
        '--allow-host NAME.',
    };
  const origin = headers.origin;
  if (origin !== undefined) {
    let ok = false;
    try {
      const url = new URL(origin);
      ok =
        url.protocol === 'http:' &&
        allowed.has(hostSpelling(url.hostname)) &&
        (url.port === '' ? 80 : Number(url.port)) === port;
    } catch {
      ok = false;
    }
    if (!ok)
      return {
        status: 403,
        message: `Origin ${JSON.stringify(origin)} is not this lab (${own}): pages from other sites may not read it.`,
      };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

interface Context {
  root: string;
  runsDir: string | null;
  limits: ServerLimits;
  allowed: Set<string>;
  port: number;
  streams: Set<() => void>;
}

function queryName(url: URL): string {
  return url.searchParams.get('name') ?? '';
}

function noRunsDir(response: ServerResponse): void {
  send(
    response,
    404,
    'this lab was started without a run folder: start it with gradscope lab --runs DIR to see runs.\n',
  );
}

async function handle(ctx: Context, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const target = request.url ?? '/';
  if (Buffer.byteLength(target) > ctx.limits.urlBytes) {
    send(response, 414, `the request target is longer than ${ctx.limits.urlBytes} bytes.\n`);
    return;
  }
  const refused = checkCaller(request.headers, ctx.allowed, ctx.port);
  if (refused) {
    send(response, refused.status, `${refused.message}\n`);
    return;
  }
  const method = request.method ?? '';
  if (method !== 'GET' && method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    send(response, 405, `${method || '?'} is not allowed: the lab server is read-only (GET and HEAD).\n`);
    return;
  }
  const length = request.headers['content-length'];
  if ((length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined) {
    response.setHeader('Connection', 'close');
    send(response, 413, 'the lab server takes no request bodies.\n');
    return;
  }
  if (target.startsWith('/api/')) {
    await handleApi(ctx, request, response, method);
    return;
  }
  const found = resolveStaticPath(ctx.root, target);
  if ('failure' in found) {
    const hint =
      found.failure === 'not-found' && /^\/(web\/)?dist\//.test(target)
        ? ' (is the page built? run: npm run build)'
        : '';
    send(response, FAILURE_STATUS[found.failure], `${found.failure}: ${target}${hint}\n`);
    return;
  }
  const body = await readFile(found.file);
  response.writeHead(200, {
    'Content-Type': MIME_TYPES[extname(found.file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': body.length,
    // A development server: a rebuilt bundle shows on the next reload.
    'Cache-Control': 'no-store',
    ...SECURITY_HEADERS,
  });
  response.end(method === 'HEAD' ? undefined : body);
}

async function handleApi(
  ctx: Context,
  request: IncomingMessage,
  response: ServerResponse,
  method: string,
): Promise<void> {
  let url: URL;
  try {
    url = new URL(request.url ?? '/', 'http://lab.invalid');
  } catch {
    send(response, 400, `bad request target ${JSON.stringify(request.url)}.\n`);
    return;
  }
  try {
    switch (url.pathname) {
      case '/api/runs': {
        if (ctx.runsDir === null) {
          sendJson(response, method, { runsDir: null, runs: [], skipped: [] });
          return;
        }
        sendJson(response, method, { runsDir: ctx.runsDir, ...listRuns(ctx.runsDir) });
        return;
      }
      case '/api/run': {
        if (ctx.runsDir === null) return noRunsDir(response);
        sendJson(response, method, readRun(ctx.runsDir, queryName(url)));
        return;
      }
      case '/api/stream': {
        if (ctx.runsDir === null) return noRunsDir(response);
        stream(ctx, ctx.runsDir, url, request, response);
        return;
      }
      default:
        send(
          response,
          404,
          `no API ${url.pathname}: the lab answers /api/runs, /api/run?name=, /api/stream?name=.\n`,
        );
    }
  } catch (error) {
    if (error instanceof RunFolderError) send(response, error.status, `${error.message}\n`);
    else throw error;
  }
}

/** The offset a stream starts from: Last-Event-ID (a reconnect) over `from=`, else 0. */
function startOffset(request: IncomingMessage, url: URL): number | null {
  const raw = request.headers['last-event-id'] ?? url.searchParams.get('from') ?? '0';
  const text = Array.isArray(raw) ? (raw[0] ?? '') : raw;
  const value = Number(text);
  return /^\d{1,15}$/.test(text) && Number.isSafeInteger(value) ? value : null;
}

/** Formats one Server-Sent Event: each line of `data` on its own `data:` line (JSON has none, but be exact). */
export function sseEvent(event: string, data: string, id?: number): string {
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`);
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\n${lines.join('')}\n`;
}

function stream(
  ctx: Context,
  runsDir: string,
  url: URL,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  const files = runFiles(runsDir, queryName(url));
  const from = startOffset(request, url);
  if (from === null) {
    send(response, 400, 'from= (or Last-Event-ID) must be a byte offset: a whole number >= 0.\n');
    return;
  }
  if (ctx.streams.size >= ctx.limits.streams) {
    response.setHeader('Retry-After', '5');
    send(response, 503, `${ctx.limits.streams} live streams are open already; close a tab and retry.\n`);
    return;
  }
  response.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    ...SECURITY_HEADERS,
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  response.write('retry: 2000\n\n');
  const tail = new MetricsTail(files.metrics, from);
  let closed = false;
  let blocked = false;
  let scheduled: ReturnType<typeof setTimeout> | null = null;
  let watcher: FSWatcher | null = null;
  const pump = (): void => {
    scheduled = null;
    if (closed || blocked) return;
    for (;;) {
      const before = tail.offset;
      const chunk = tail.read();
      if (chunk.reset) response.write(sseEvent('reset', '{}', 0));
      for (const problem of chunk.problems) response.write(sseEvent('problem', JSON.stringify(problem)));
      if (
        chunk.records.length > 0 &&
        !response.write(sseEvent('records', stringifyFinite(chunk.records), tail.offset))
      ) {
        blocked = true;
        response.once('drain', () => {
          blocked = false;
          pump();
        });
        return;
      }
      if (tail.offset === before) break;
    }
    if (runFinished(files.dir, files.summary)) {
      let summary: unknown = null;
      try {
        summary = parseFinite(readFileSync(files.summary, 'utf8'));
      } catch {
        // Still being written: the next change finishes it.
        return;
      }
      response.write(sseEvent('summary', stringifyFinite(summary), tail.offset));
      response.end(sseEvent('end', '{}', tail.offset));
      stop();
    }
  };
  const soon = (): void => {
    if (scheduled === null && !closed) scheduled = setTimeout(pump, 30);
  };
  try {
    watcher = watch(files.dir, soon);
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = null; // the safety-net timer still follows the run
  }
  const check = setInterval(soon, ctx.limits.streamCheckMs);
  const heartbeat = setInterval(() => {
    if (!closed && !blocked) response.write(': keep-alive\n\n');
  }, ctx.limits.heartbeatMs);
  const stop = (): void => {
    if (closed) return;
    closed = true;
    if (scheduled !== null) clearTimeout(scheduled);
    clearInterval(check);
    clearInterval(heartbeat);
    watcher?.close();
    ctx.streams.delete(stop);
  };
  ctx.streams.add(stop);
  request.on('close', stop);
  response.on('close', stop);
  pump();
}

// ---------------------------------------------------------------------------------------------------------------
// Starting

export interface LabServerOptions {
  /** The package root, holding web/. */
  root: string;
  /** 0 picks a free port. */
  port: number;
  /** Defaults to 127.0.0.1: only this machine can connect. */
  host?: string;
  /** The run folder behind /api/runs; it may not exist yet (an empty list until it does). */
  runsDir?: string;
  /** More host names requests may use (a name this machine is reached by, behind --host 0.0.0.0). */
  allowHosts?: readonly string[];
  limits?: Partial<ServerLimits>;
}

export interface LabServer {
  /** The page's address, e.g. http://127.0.0.1:8123/ */
  url: string;
  port: number;
  host: string;
  /** Stops listening, ends the live streams and drops open connections. */
  close(): Promise<void>;
}

/** Starts serving; rejects with the listen error (e.g. EADDRINUSE) when the port cannot be had. */
export function startLabServer(options: LabServerOptions): Promise<LabServer> {
  const host = options.host ?? DEFAULT_HOST;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const ctx: Context = {
    root: options.root,
    runsDir: options.runsDir ?? null,
    limits,
    allowed: allowedHostnames(host, options.allowHosts),
    port: 0,
    streams: new Set(),
  };
  const server = createServer(
    { maxHeaderSize: limits.headerBytes, requestTimeout: limits.requestTimeoutMs },
    (request, response) => {
      handle(ctx, request, response).catch((error: unknown) => {
        if (!response.headersSent) send(response, 500, `the lab server failed: ${String(error)}\n`);
        else response.destroy();
      });
    },
  );
  server.maxConnections = limits.connections;
  server.headersTimeout = Math.min(limits.requestTimeoutMs, 10_000);
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      ctx.port = port;
      const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
      resolve({
        url: `http://${shown}:${port}/`,
        port,
        host,
        close: () =>
          new Promise<void>((done) => {
            for (const stop of [...ctx.streams]) stop();
            server.close(() => done());
            server.closeAllConnections();
            for (const socket of sockets) socket.destroy();
          }),
      });
    });
  });
}
