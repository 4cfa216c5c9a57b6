import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gradscope } from '../testing/cli.js';
import { MIME_TYPES, packageRoot, resolveStaticPath, startLabServer, type LabServer } from './server.js';

interface Reply {
  status: number;
  type: string;
  body: string;
}

/** A raw request (no URL normalisation, so traversal attempts reach the server as written). */
function fetchRaw(host: string, port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('lab server', () => {
  const root = packageRoot(import.meta.url);
  let server: LabServer;
  const get = (path: string, method = 'GET'): Promise<Reply> =>
    fetchRaw(server.host, server.port, path, method);
  before(async () => {
    server = await startLabServer({ root, port: 0 });
  });
  after(async () => {
    await server.close();
  });

  it('listens on loopback and serves the page and the compiled modules with their MIME types', async () => {
    assert.equal(server.host, '127.0.0.1');
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.equal(page.type, 'text/html; charset=utf-8');
    assert.match(page.body, /gradscope lab/);
    const script = await get('/dist/web/lab.js');
    assert.equal(script.status, 200);
    assert.equal(script.type, 'text/javascript; charset=utf-8');
    const engine = await get('/dist/train/session.js');
    assert.equal(engine.type, 'text/javascript; charset=utf-8');
    assert.equal((await get('/lab.css')).type, 'text/css; charset=utf-8');
    assert.equal((await get('/dist/web/lab.js.map')).type, 'application/json; charset=utf-8');
    assert.equal(MIME_TYPES['.svg'], 'image/svg+xml');
  });

  it('also serves web/ under /web/, as a static server started in the package root would', async () => {
    const page = await get('/web/index.html');
    assert.equal(page.status, 200);
    // The page's script address is relative, so both layouts reach /dist/web/lab.js.
    assert.match(page.body, /src="\.\.\/dist\/web\/lab\.js"/);
    assert.equal(new URL('../dist/web/lab.js', `${server.url}web/index.html`).pathname, '/dist/web/lab.js');
    assert.equal(new URL('../dist/web/lab.js', server.url).pathname, '/dist/web/lab.js');
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await get('/', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal((await get('/', 'POST')).status, 405);
  });

  it('answers 404 for unknown files and folders', async () => {
    assert.equal((await get('/no-such-file.js')).status, 404);
    assert.equal((await get('/dist/no/such/module.js')).status, 404);
    assert.equal((await get('/dist/')).status, 404);
    assert.equal((await get('/dist/web')).status, 404);
  });

  it('refuses to leave its folders', async () => {
    const attempts = [
      '/dist/../../etc/passwd',
      '/../package.json',
      '/dist/%2e%2e/%2e%2e/etc/passwd',
      '/dist/..%2f..%2fpackage.json',
      '/web/..%5cpackage.json',
      '/dist/%00.js',
      '/dist/%E0%A4%A',
    ];
    for (const path of attempts) {
      const r = await get(path);
      assert.ok(r.status === 400 || r.status === 403, `${path}: expected 400 or 403, got ${r.status}`);
      assert.doesNotMatch(r.body, /root:|"name": "gradscope"/);
    }
    assert.deepEqual(resolveStaticPath(root, '/dist/../../etc/passwd'), { failure: 'forbidden' });
    assert.deepEqual(resolveStaticPath(root, '/package.json'), { failure: 'not-found' });
    assert.deepEqual(resolveStaticPath(root, '/'), { file: join(root, 'web', 'index.html') });
  });
});

describe('gradscope lab', () => {
  it('prints the address, serves the page and stops cleanly on SIGINT', async () => {
    const root = packageRoot(import.meta.url);
    // The command module itself, so this runs whether or not main.ts lists it.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { labCommand } from ${JSON.stringify(join(root, 'dist', 'cli', 'commands', 'lab.js'))};` +
          "process.exitCode = await labCommand.run(['--port', '0']);",
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
      const page = await fetchRaw(url.hostname, Number(url.port), '/');
      assert.equal(page.status, 200);
      child.kill('SIGINT');
      assert.equal(await exited, 0, stderr);
      assert.match(stdout, /stopped/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('rejects bad flags with exit code 2 and one line naming the flag', () => {
    const badPort = gradscope(['lab', '--port', 'eighty']);
    assert.equal(badPort.status, 2);
    assert.match(badPort.stderr, /--port must be an integer/);
    const unknown = gradscope(['lab', '--open']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown option --open/);
  });
});
