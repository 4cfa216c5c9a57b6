import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { packageRoot, startLabServer, type LabServer } from './server.js';

/** GET a raw path (no URL normalisation, so traversal attempts reach the server as written). */
function get(server: LabServer, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: server.host, port: server.port, path, method: 'GET' }, (res) => {
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
  let server: LabServer;
  before(async () => {
    server = await startLabServer({ root: packageRoot(import.meta.url), port: 0 });
  });
  after(async () => {
    await server.close();
  });

  it('listens on loopback and serves the page and the compiled modules with their MIME types', async () => {
    assert.equal(server.host, '127.0.0.1');
    const page = await get(server, '/');
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    assert.match(page.body, /gradscope lab/);
    const script = await get(server, '/dist/web/lab.js');
    assert.equal(script.status, 200);
    assert.match(script.type, /^text\/javascript/);
    const css = await get(server, '/lab.css');
    assert.match(css.type, /^text\/css/);
  });

  it('answers 404 for unknown files and refuses to leave its folders', async () => {
    assert.equal((await get(server, '/no-such-file.js')).status, 404);
    for (const path of ['/dist/../../etc/passwd', '/../package.json', '/dist/%2e%2e/%2e%2e/etc/passwd']) {
      const r = await get(server, path);
      assert.ok(r.status === 403 || r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      assert.doesNotMatch(r.body, /root:/);
    }
  });
});
