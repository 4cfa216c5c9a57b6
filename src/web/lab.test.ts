/**
 * The lab in a real browser: headless Chromium loads the page from the lab server, trains in the page (the engine's
 * browser build: dist/ as ES modules) and writes the outcome into <pre id="result">, which these tests read with
 * --dump-dom. CI installs Debian's chromium (.ci/run); where no chromium is on the PATH those tests are skipped and
 * say so. The page's wiring and its browser safety (no Node module anywhere in its import graph) are checked
 * without a browser.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot, startLabServer, type LabServer } from './server.js';

const root = packageRoot(import.meta.url);

function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('which', [name], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

/** Every module specifier a compiled module imports, statically or dynamically. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const pattern = /\b(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g;
  for (let m = pattern.exec(source); m !== null; m = pattern.exec(source))
    found.push((m[1] ?? m[2]) as string);
  return found;
}

describe('the lab page without a browser', () => {
  it('imports no Node built-in module, anywhere in its import graph', () => {
    const seen = new Set<string>();
    const outside: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
        // npm packages are bundled into web/dist by esbuild; Node's own modules cannot be.
        else if (spec.startsWith('node:') || builtinModules.includes(spec))
          outside.push(`${spec} (imported by ${file.slice(root.length + 1)})`);
      }
    };
    visit(join(root, 'dist', 'web', 'lab.js'));
    assert.ok(seen.size > 20, `only ${seen.size} modules found: is the pattern right?`);
    assert.deepEqual(outside, [], 'a browser cannot load these');
  });

  it('finds every element it looks up in web/index.html', () => {
    const page = readFileSync(join(root, 'web', 'index.html'), 'utf8');
    const script = readFileSync(join(root, 'dist', 'web', 'lab.js'), 'utf8');
    const ids = [...script.matchAll(/\b(?:element|chart)\('([\w-]+)'/g)].map((m) => m[1] as string);
    assert.ok(ids.length > 20);
    const missing = ids.filter((id) => !page.includes(`id="${id}"`));
    assert.deepEqual(missing, []);
  });
});

const chromium = findChromium();

interface LabResult {
  status: 'done' | 'error';
  message?: string;
  runs?: Array<{
    label: string;
    name: string;
    steps: number;
    verdict: string;
    findings: string[];
    applied: string[];
    error: string | null;
  }>;
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Opens the lab at `query` in headless Chromium and returns what the page wrote into #result. */
async function labResult(server: LabServer, query: string): Promise<LabResult> {
  const profile = mkdtempSync(join(tmpdir(), 'gradscope-chromium-'));
  try {
    // Chromium must run beside this process's event loop, which serves the page: spawn, not spawnSync.
    const dom = await new Promise<string>((done, fail) => {
      const child = spawn(chromium as string, [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        // Virtual time: timers fire as soon as the page is idle, so the budget bounds timer delays, not compute.
        '--virtual-time-budget=120000',
        '--dump-dom',
        `${server.url}${query}`,
      ]);
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('error', fail);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (out.includes('<pre id="result"')) done(out);
        else fail(new Error(`chromium exited ${code} without the page: ${err.slice(-600)}`));
      });
    });
    const match = /<pre id="result"[^>]*>([^<]*)<\/pre>/.exec(dom);
    assert.ok(match, 'no #result element in the page');
    const text = unescapeHtml(match[1] as string);
    assert.notEqual(text, '', `the page never finished: ${dom.slice(0, 400)}`);
    return JSON.parse(text) as LabResult;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

describe(
  'the lab trains in a browser',
  { skip: chromium ? false : 'no chromium on the PATH (CI installs it: apt-get install -y chromium)' },
  () => {
    let server: LabServer;
    before(async () => {
      server = await startLabServer({ root, port: 0 });
    });
    after(async () => {
      await server.close();
    });

    it('diagnoses deep-sigmoid as vanishing, and its first fix (run B) as no longer vanishing', async () => {
      const result = await labResult(server, '?preset=deep-sigmoid&steps=40&autorun=1&fix=1');
      assert.equal(result.status, 'done', result.message);
      const [a, b] = result.runs ?? [];
      assert.ok(a && b, 'two runs');
      assert.deepEqual([a.label, a.name, a.steps, a.error], ['A', 'deep-sigmoid', 40, null]);
      assert.equal(a.verdict, 'vanishing');
      assert.ok(a.findings.includes('vanishing_gradient'));
      assert.deepEqual([b.label, b.steps, b.error], ['B', 40, null]);
      assert.match(b.applied[0] ?? '', /relu/);
      // 40 steps of SGD are too few for the loss to leave the baseline, so the doctor may call B not-learning; its
      // gradients, the thing the fix changed, are healthy.
      assert.ok(['healthy', 'not-learning'].includes(b.verdict), b.verdict);
      assert.ok(!b.findings.includes('vanishing_gradient'), b.findings.join(', '));
    });

    it('sees a vanilla RNN lose its gradient through time', async () => {
      const result = await labResult(server, '?preset=adding-rnn&steps=30&autorun=1');
      assert.equal(result.status, 'done', result.message);
      assert.equal(result.runs?.[0]?.verdict, 'vanishing');
      assert.ok(result.runs?.[0]?.findings.includes('vanishing_through_time'));
    });

    it('reports a config error instead of training', async () => {
      const config = encodeURIComponent(JSON.stringify({ model: { activation: 'sigmod' } }));
      const result = await labResult(server, `?config=${config}&autorun=1`);
      assert.equal(result.status, 'error');
      assert.match(result.message ?? '', /model\.activation.*did you mean "sigmoid"/);
    });
  },
);
