/**
 * The lab in a real browser: headless Chromium loads the page from the lab server, trains deep-sigmoid for 40 steps
 * in the page (the engine's browser build: dist/ as ES modules) and writes the doctor's verdict into #result.
 * CI installs Debian's chromium (.ci/run); where no chromium is on the PATH this test is skipped and says so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot, startLabServer } from './server.js';

function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('which', [name], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

const chromium = findChromium();

describe(
  'the lab trains in a browser',
  { skip: chromium ? false : 'no chromium on the PATH (CI installs it: apt-get install chromium)' },
  () => {
    it('deep-sigmoid for 40 steps is diagnosed vanishing in the page', async () => {
      const server = await startLabServer({ root: packageRoot(import.meta.url), port: 0 });
      try {
        const url = `${server.url}?preset=deep-sigmoid&steps=40&autorun=1`;
        // spawnSync would block the event loop that serves the page: run chromium asynchronously.
        const { spawn } = await import('node:child_process');
        const dom = await new Promise<string>((resolve, reject) => {
          const child = spawn(chromium as string, [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            `--user-data-dir=${mkdtempSync(join(tmpdir(), 'gradscope-chromium-'))}`,
            '--virtual-time-budget=60000',
            '--dump-dom',
            url,
          ]);
          let out = '';
          child.stdout.setEncoding('utf8');
          child.stdout.on('data', (chunk: string) => (out += chunk));
          const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
          child.on('error', reject);
          child.on('close', () => {
            clearTimeout(timer);
            resolve(out);
          });
        });
        const match = /<pre id="result"[^>]*>([^<]*)<\/pre>/.exec(dom);
        assert.ok(match, `no #result in the page: ${dom.slice(0, 300)}`);
        const result = JSON.parse((match[1] as string).replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as {
          status: string;
          runs: Array<{ name: string; steps: number; verdict: string; error: string | null }>;
        };
        assert.equal(result.status, 'done');
        assert.equal(result.runs[0]?.name, 'deep-sigmoid');
        assert.equal(result.runs[0]?.steps, 40);
        assert.equal(result.runs[0]?.error, null);
        assert.equal(result.runs[0]?.verdict, 'vanishing');
      } finally {
        await server.close();
      }
    });
  },
);
