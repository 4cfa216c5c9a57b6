import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseFinite } from '../io/json.js';
import { gradscope } from '../testing/cli.js';
import { makeRunFolder, metricsLine } from './test-runs.js';
import {
  allowedHostnames,
  checkCaller,
  MIME_TYPES,
  packageRoot,
  parseHostHeader,
  resolveStaticPath,
  sseEvent,
  startLabServer,
  type LabServer,
} from './server.js';

interface Reply {
  status: number;
  type: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request (no URL normalisation, so traversal attempts reach the server as written). */
function fetchRaw(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            headers: res.headers,
            body,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Bytes written straight to the socket: requests no HTTP client would send. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let reply = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (reply += chunk));
    socket.on('end', () => resolve(reply));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
  });
}

const root = packageRoot(import.meta.url);

describe('lab server: the page', () => {
  let server: LabServer;
  const get = (path: string, options: Parameters<typeof fetchRaw>[2] = {}): Promise<Reply> =>
    fetchRaw(server.port, path, options);
  before(async () => {
    server = await startLabServer({ root, port: 0 });
  });
  after(async () => {
    await server.close();
  });

  it('listens on loopback and serves the page and its bundle with their MIME types and safety headers', async () => {
    assert.equal(server.host, '127.0.0.1');
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.equal(page.type, 'text/html; charset=utf-8');
    assert.match(page.body, /gradscope lab/);
    assert.match(page.body, /src="dist\/lab\.js"/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/, 'no inline script may run');
    const script = await get('/dist/lab.js');
    assert.equal(script.status, 200, 'the bundle is built by npm run build (scripts/build-web.mjs)');
    assert.equal(script.type, 'text/javascript; charset=utf-8');
    assert.equal((await get('/web/dist/lab.js')).status, 200);
    assert.equal((await get('/lab.css')).type, 'text/css; charset=utf-8');
    assert.equal(MIME_TYPES['.svg'], 'image/svg+xml');
    // The compiled engine in the package's dist/ is not served: only web/.
    assert.equal((await get('/dist/train/session.js')).status, 404);
  });

  it('answers HEAD without a body and refuses other methods and any request body', async () => {
    const head = await get('/', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])
      assert.equal((await get('/', { method })).status, 405, method);
    const withBody = await get('/', { headers: { 'Content-Length': '5' }, body: 'hello' });
    assert.equal(withBody.status, 413);
    assert.match(withBody.body, /no request bodies/);
  });

  it('bounds the request target and the headers', async () => {
    const long = await get(`/${'a'.repeat(5000)}`);
    assert.equal(long.status, 414);
    const reply = await rawExchange(
      server.port,
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 431/);
    assert.equal((await get('/')).status, 200, 'still serving');
  });

  it('answers 404 for unknown files and folders', async () => {
    assert.equal((await get('/no-such-file.js')).status, 404);
    assert.equal((await get('/dist/')).status, 404);
    assert.equal((await get('/dist')).status, 404);
    assert.equal((await get('/api/nothing')).status, 404);
  });

  it('refuses every spelling of leaving web/', async () => {
    const attempts = [
      '/dist/../../etc/passwd',
      '/../package.json',
      '/web/../package.json',
      '/%2e%2e/package.json',
      '/%2E%2E/package.json',
      '/dist/%2e%2e/%2e%2e/etc/passwd',
      '/dist/..%2f..%2fpackage.json',
      '/web/..%5cpackage.json',
      '/..\\package.json',
      '/.%2e/package.json',
      '/./index.html',
      '/dist/%00.js',
      '/dist/%E0%A4%A',
      '/%252e%252e/package.json',
    ];
    for (const path of attempts) {
      const r = await get(path);
      assert.ok([400, 403, 404].includes(r.status), `${path}: expected a refusal, got ${r.status}`);
      assert.doesNotMatch(r.body, /root:|"name": "gradscope"/);
    }
    assert.deepEqual(resolveStaticPath(root, '/dist/../../etc/passwd'), { failure: 'forbidden' });
    assert.deepEqual(resolveStaticPath(root, '/package.json'), { failure: 'not-found' });
    assert.deepEqual(resolveStaticPath(root, '/'), { file: join(root, 'web', 'index.html') });
  });

  it('does not follow a link out of web/', () => {
    const base = mkdtempSync(join(tmpdir(), 'gradscope-web-'));
    try {
      mkdirSync(join(base, 'web'));
      writeFileSync(join(base, 'secret.txt'), 'secret');
      writeFileSync(join(base, 'web', 'index.html'), '<p>page</p>');
      symlinkSync(join(base, 'secret.txt'), join(base, 'web', 'leak.txt'));
      symlinkSync(base, join(base, 'web', 'up'));
      assert.deepEqual(resolveStaticPath(base, '/leak.txt'), { failure: 'forbidden' });
      assert.deepEqual(resolveStaticPath(base, '/up/secret.txt'), { failure: 'forbidden' });
      assert.ok('file' in resolveStaticPath(base, '/index.html'));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('lab server: Host and Origin (DNS rebinding)', () => {
  let server: LabServer;
  before(async () => {
    server = await startLabServer({ root, port: 0, allowHosts: ['lab.internal'] });
  });
  after(async () => {
    await server.close();
  });

  it('answers its own names and refuses every other Host with 403', async () => {
    const p = server.port;
    for (const host of [
      `127.0.0.1:${p}`,
      `localhost:${p}`,
      `LOCALHOST:${p}`,
      `[::1]:${p}`,
      `lab.internal:${p}`,
    ])
      assert.equal((await fetchRaw(p, '/', { headers: { Host: host } })).status, 200, host);
    for (const host of [
      `evil.example:${p}`,
      'evil.example',
      `127.0.0.1:${p + 1}`,
      '127.0.0.1',
      `localhost.evil.example:${p}`,
      `127.0.0.1.nip.io:${p}`,
      `user@127.0.0.1:${p}`,
      `127.0.0.1:${p}:${p}`,
    ]) {
      const r = await fetchRaw(p, '/api/runs', { headers: { Host: host } });
      assert.equal(r.status, 403, host);
      assert.match(r.body, /DNS rebinding/);
    }
    const noHost = await rawExchange(p, 'GET / HTTP/1.0\r\n\r\n');
    assert.match(noHost, /^HTTP\/1\.1 400/);
  });

  it('refuses a foreign Origin, and the null origin of a sandboxed or file page', async () => {
    const p = server.port;
    const own = await fetchRaw(p, '/api/runs', { headers: { Origin: `http://127.0.0.1:${p}` } });
    assert.equal(own.status, 200);
    for (const origin of [
      `http://evil.example:${p}`,
      'null',
      `https://127.0.0.1:${p}`,
      `http://127.0.0.1:${p + 1}`,
      'garbage',
    ]) {
      const r = await fetchRaw(p, '/api/runs', { headers: { Origin: origin } });
      assert.equal(r.status, 403, origin);
      assert.match(r.body, /Origin/);
    }
  });

  it('parses Host headers exactly', () => {
    assert.deepEqual(parseHostHeader('[::1]:8123'), { name: '[::1]', port: 8123 });
    assert.deepEqual(parseHostHeader('LocalHost'), { name: 'localhost', port: 80 });
    assert.equal(parseHostHeader('a b:1'), null);
    assert.equal(parseHostHeader('x:123456'), null);
    const allowed = allowedHostnames('127.0.0.1');
    assert.deepEqual([...allowed].sort(), ['127.0.0.1', '[::1]', 'localhost']);
    assert.equal(checkCaller({ host: '127.0.0.1:80' }, allowed, 80), null);
    assert.equal(checkCaller({ host: 'a.example:80' }, allowed, 80)?.status, 403);
    const wildcard = allowedHostnames('0.0.0.0');
    assert.ok(wildcard.has('127.0.0.1') && wildcard.size >= 3);
  });
});

describe('lab server: the run folder API', () => {
  let server: LabServer;
  let folder: { dir: string; outside: string };
  before(async () => {
    folder = makeRunFolder();
    server = await startLabServer({
      root,
      port: 0,
      runsDir: folder.dir,
      limits: { streamCheckMs: 100_000, heartbeatMs: 100_000, streams: 4 },
    });
  });
  after(async () => {
    await server.close();
    rmSync(join(folder.dir, '..'), { recursive: true, force: true });
  });
  const get = (path: string, options: Parameters<typeof fetchRaw>[2] = {}): Promise<Reply> =>
    fetchRaw(server.port, path, options);

  it('lists the runs and reads one, with non-finite numbers kept', async () => {
    const list = await get('/api/runs');
    assert.equal(list.status, 200);
    assert.equal(list.type, 'application/json; charset=utf-8');
    const body = JSON.parse(list.body) as { runsDir: string; runs: Array<{ name: string; kind: string }> };
    assert.equal(body.runsDir, folder.dir);
    assert.deepEqual(body.runs.map((r) => r.name).sort(), ['live-one', 'small-tanh', 'tb-log', 'torch-run']);
    const run = await get('/api/run?name=small-tanh');
    assert.equal(run.status, 200);
    const data = parseFinite(run.body) as { records: Array<{ step: number }>; entry: { status: string } };
    assert.deepEqual(
      data.records.map((r) => r.step),
      [1, 4, 8, 12],
    );
    assert.equal(data.entry.status, 'finished');
  });

  it('refuses traversal and links out through the API', async () => {
    const cases: Array<[string, number]> = [
      ['/api/run?name=..', 400],
      ['/api/run?name=..%2Foutside%2Fsecret-run', 400],
      ['/api/run?name=%2Fetc', 400],
      ['/api/run?name=', 400],
      ['/api/run?name=linked-out', 403],
      ['/api/run?name=file-link', 404],
      ['/api/run?name=nope', 404],
      ['/api/stream?name=linked-out', 403],
      ['/api/stream?name=..', 400],
      ['/api/stream?name=live-one&from=-4', 400],
      ['/api/stream?name=live-one&from=1e3', 400],
    ];
    for (const [path, status] of cases) {
      const r = await get(path);
      assert.equal(r.status, status, `${path}: ${r.body}`);
    }
  });

  it('streams a live run as Server-Sent Events: appended records, a partial line held back, then the summary', async () => {
    const dir = join(folder.dir, 'streamed');
    mkdirSync(dir);
    const metrics = join(dir, 'metrics.jsonl');
    writeFileSync(metrics, metricsLine(1, 2));
    const offsets: number[] = [];
    const events: Array<{ event: string; data: string; id?: string }> = [];
    let raw = '';
    const ended = new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          path: '/api/stream?name=streamed',
          headers: { Accept: 'text/event-stream' },
        },
        (res) => {
          assert.equal(res.statusCode, 200);
          assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            raw += chunk;
            for (let cut = raw.indexOf('\n\n'); cut >= 0; cut = raw.indexOf('\n\n')) {
              const block = raw.slice(0, cut);
              raw = raw.slice(cut + 2);
              const fields = Object.fromEntries(
                block
                  .split('\n')
                  .filter((line) => !line.startsWith(':') && line.includes(': '))
                  .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
              ) as Record<string, string>;
              if (fields['event'])
                events.push({
                  event: fields['event'],
                  data: fields['data'] ?? '',
                  ...(fields['id'] ? { id: fields['id'] } : {}),
                });
              if (fields['event'] === 'records') offsets.push(Number(fields['id']));
              if (fields['event'] === 'records' && offsets.length === 1) {
                // The writer appends one whole line and half of the next: only the whole one may arrive.
                const line9 = metricsLine(9, 0.5);
                appendFileSync(metrics, metricsLine(5, 1) + line9.slice(0, 20));
                setTimeout(() => appendFileSync(metrics, line9.slice(20)), 150);
              }
              if (fields['event'] === 'records' && offsets.length === 3)
                writeFileSync(
                  join(dir, 'summary.json'),
                  JSON.stringify({ name: 'streamed', steps: 9, verdict: 'healthy' }),
                );
            }
          });
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
      setTimeout(() => reject(new Error(`stream did not end: ${JSON.stringify(events)}`)), 10_000).unref();
    });
    await ended;
    const steps = events
      .filter((e) => e.event === 'records')
      .map((e) => (parseFinite(e.data) as Array<{ step: number }>).map((r) => r.step));
    assert.deepEqual(steps, [[1], [5], [9]]);
    assert.deepEqual(offsets, [
      Buffer.byteLength(metricsLine(1, 2)),
      Buffer.byteLength(metricsLine(1, 2) + metricsLine(5, 1)),
      Buffer.byteLength(metricsLine(1, 2) + metricsLine(5, 1) + metricsLine(9, 0.5)),
    ]);
    assert.deepEqual(
      events.slice(-2).map((e) => e.event),
      ['summary', 'end'],
    );
    assert.equal((JSON.parse(events.at(-2)?.data ?? '{}') as { verdict: string }).verdict, 'healthy');
  });

  it('resumes a stream from a byte offset (Last-Event-ID) and bounds the number of streams', async () => {
    const first = Buffer.byteLength(metricsLine(1, 2) + metricsLine(5, 1.5));
    const resumed = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          path: '/api/stream?name=live-one',
          headers: { 'Last-Event-ID': String(Buffer.byteLength(metricsLine(1, 2))) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => {
            text += chunk;
            if (text.includes('event: records')) {
              req.destroy();
              resolve(text);
            }
          });
        },
      );
      req.on('error', (error) => (error.message.includes('socket hang up') ? undefined : reject(error)));
      req.end();
    });
    assert.match(resumed, new RegExp(`id: ${first}\\nevent: records\\ndata: \\[\\{"step":5,`));
    const held = await Promise.all(
      [0, 1, 2, 3, 4].map(
        (i) =>
          new Promise<number>((resolve) => {
            const req = request(
              { host: '127.0.0.1', port: server.port, path: `/api/stream?name=live-one&n=${i}` },
              (res) => {
                resolve(res.statusCode ?? 0);
                setTimeout(() => req.destroy(), 300);
              },
            );
            req.on('error', () => undefined);
            req.end();
          }),
      ),
    );
    assert.deepEqual(
      held.sort(),
      [200, 200, 200, 200, 503],
      'four streams at most (this server is started with limits.streams = 4)',
    );
  });

  it('serves 200 concurrent clients and keeps serving', async () => {
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => get(i % 2 === 0 ? '/api/runs' : '/lab.css')),
    );
    assert.deepEqual([...new Set(replies.map((r) => r.status))], [200]);
    assert.equal((await get('/')).status, 200);
  });

  it('past its connection and stream limits, 200 concurrent clients are each served or refused cleanly', async () => {
    // A second server with small limits: 40 connections, 6 streams; 100 page/API requests and 100 live streams.
    const small = await startLabServer({
      root,
      port: 0,
      runsDir: folder.dir,
      limits: { streamCheckMs: 100_000, heartbeatMs: 100_000, streams: 6, connections: 40 },
    });
    const open: Array<{ destroy(): void }> = [];
    try {
      const outcome = (path: string, stream: boolean): Promise<string> =>
        new Promise((resolve) => {
          const req = request({ host: '127.0.0.1', port: small.port, path, agent: false }, (res) => {
            const status = String(res.statusCode ?? 0);
            if (stream && res.statusCode === 200) {
              open.push(req);
              res.resume();
              resolve(`${status} stream`);
              return;
            }
            res.resume();
            res.on('end', () => resolve(status));
            res.on('error', () => resolve(`${status} cut`));
          });
          // Beyond `connections` Node closes the socket at once: the client sees a reset or a hang-up.
          req.on('error', (error: NodeJS.ErrnoException) =>
            resolve(
              ['ECONNRESET', 'EPIPE'].includes(error.code ?? '') || /socket hang up/.test(error.message)
                ? 'refused'
                : `error ${error.code ?? error.message}`,
            ),
          );
          req.end();
        });
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          i % 2 === 0
            ? outcome(i % 4 === 0 ? '/api/runs' : '/lab.css', false)
            : outcome(`/api/stream?name=live-one&n=${i}`, true),
        ),
      );
      const counts = new Map<string, number>();
      for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
      console.log(`# 200 clients against 40 connections / 6 streams: ${JSON.stringify([...counts])}`);
      const unexpected = outcomes.filter((o) => !['200', '200 stream', '503', 'refused'].includes(o));
      assert.deepEqual(unexpected, [], 'each is a reply or a clean refusal');
      assert.ok((counts.get('200 stream') ?? 0) <= 6, 'never more live streams than the limit');
      assert.ok((counts.get('200') ?? 0) > 0, 'requests within the limits are served');
      for (const req of open) req.destroy();
      open.length = 0;
      await new Promise((r) => setTimeout(r, 100));
      // 200 sockets held open at once, then each sends its request: 40 are served, the server closes the rest.
      const sockets = await Promise.all(
        Array.from(
          { length: 200 },
          () =>
            new Promise<Socket>((resolve) => {
              const socket = connect(small.port, '127.0.0.1', () => resolve(socket));
              socket.on('error', () => resolve(socket));
            }),
        ),
      );
      await new Promise((r) => setTimeout(r, 200));
      const held = await Promise.all(
        sockets.map(
          (socket) =>
            new Promise<string>((resolve) => {
              let reply = '';
              socket.setEncoding('utf8').on('data', (chunk: string) => (reply += chunk));
              const done = (): void => resolve(reply.split('\r\n')[0] || 'refused');
              socket.on('close', done);
              socket.on('error', done);
              if (socket.destroyed) done();
              else
                socket.write(
                  `GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1:${small.port}\r\nConnection: close\r\n\r\n`,
                );
            }),
        ),
      );
      const heldCounts = new Map<string, number>();
      for (const o of held) heldCounts.set(o, (heldCounts.get(o) ?? 0) + 1);
      console.log(`# 200 sockets held against 40 connections: ${JSON.stringify([...heldCounts])}`);
      assert.deepEqual(
        held.filter((o) => o !== 'HTTP/1.1 200 OK' && o !== 'refused'),
        [],
        'served or closed, nothing else',
      );
      const served = heldCounts.get('HTTP/1.1 200 OK') ?? 0;
      // At most the limit (fewer while the first crowd's sockets are still being closed on the server's side).
      assert.ok(served > 0 && served <= 40, `${served} served at once with connections = 40`);
      // Nothing crashed: once the crowd is gone the server answers again, streams included.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await fetchRaw(small.port, '/api/runs')).status, 200);
      assert.equal((await fetchRaw(small.port, '/')).status, 200);
    } finally {
      for (const req of open) req.destroy();
      await small.close();
    }
  });

  it('frames events exactly', () => {
    assert.equal(sseEvent('records', '[1]', 42), 'id: 42\nevent: records\ndata: [1]\n\n');
    assert.equal(sseEvent('problem', 'a\nb'), 'event: problem\ndata: a\ndata: b\n\n');
  });
});

describe('gradscope lab', () => {
  it('prints the address and its run folder, serves the page and stops cleanly on SIGINT', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'gradscope-lab-runs-'));
    // The command module itself, so this runs whether or not main.ts lists it.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { labCommand } from ${JSON.stringify(join(root, 'dist', 'cli', 'commands', 'lab.js'))};` +
          `process.exitCode = await labCommand.run(['--port', '0', '--runs', ${JSON.stringify(runs)}]);`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const url = await new Promise<URL>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no address printed: ${stdout}${stderr}`)), 20_000);
        child.stdout.on('data', () => {
          const match = /open (http:\/\/\S+)/.exec(stdout);
          if (match) {
            clearTimeout(timer);
            resolve(new URL(match[1] as string));
          }
        });
      });
      assert.equal(url.hostname, '127.0.0.1');
      assert.match(stdout, new RegExp(`runs from ${runs.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      const list = await fetchRaw(Number(url.port), '/api/runs');
      assert.equal(list.status, 200);
      assert.deepEqual((JSON.parse(list.body) as { runs: unknown[] }).runs, []);
      child.kill('SIGINT');
      assert.equal(await exited, 0, stderr);
      assert.match(stdout, /stopped/);
    } finally {
      child.kill('SIGKILL');
      rmSync(runs, { recursive: true, force: true });
    }
  });

  it('rejects bad flags and a missing run folder with exit code 2 and one line naming the flag', () => {
    const badPort = gradscope(['lab', '--port', 'eighty']);
    assert.equal(badPort.status, 2);
    assert.match(badPort.stderr, /--port must be an integer/);
    const unknown = gradscope(['lab', '--open']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown option --open/);
    const missing = gradscope(['lab', '--runs', '/no/such/folder']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--runs \/no\/such\/folder: does not exist/);
  });
});
