// The README's pictures of the lab (docs/lab.png, docs/distributions.png), made by the project itself: trains three runs with the CLI into a
// temporary run folder, serves them with the lab server and photographs the page in headless Chromium (1280 wide).
// Needs a build (npm run build) and Debian's chromium; run: npm run screenshot:lab.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startLabServer } = await import(join(root, 'dist', 'web', 'server.js'));
const runs = mkdtempSync(join(tmpdir(), 'gradscope-screenshot-'));
const out = process.argv[2] ?? join(root, 'docs', 'lab.png');
try {
  for (const preset of ['deep-sigmoid', 'deep-relu-he', 'deep-tanh-xavier']) {
    execFileSync(
      process.execPath,
      [join(root, 'bin', 'gradscope.js'), 'run', preset, '--steps', '400', '--out', join(runs, preset)],
      {
        stdio: 'ignore',
        env: { ...process.env, CI: 'true' },
      },
    );
  }
  const server = await startLabServer({ root, port: 0, runsDir: runs });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await page.goto(`${server.url}?runs=deep-sigmoid,deep-relu-he,deep-tanh-xavier&view=deep-sigmoid&log=1`);
    await page.waitForFunction(() => document.getElementById('chart-loss')?.dataset.series === '3');
    // The run table, then the charts (the in-page trainer's panel folded away for the picture).
    await page.evaluate(() => {
      document.getElementById('setup')?.setAttribute('hidden', '');
      document.getElementById('runs')?.scrollIntoView({ block: 'start' });
    });
    await page.waitForTimeout(500);
    await page.screenshot({ path: out });
    console.log(`lab-screenshot: wrote ${out}`);
    // The distributions panel beside it (docs/distributions.png): deep-sigmoid's input-side gradients.
    const distributions = join(dirname(out), 'distributions.png');
    await page.goto(`${server.url}?runs=deep-sigmoid&view=deep-sigmoid&hist=layers.0.weight&histOf=grad`);
    await page.waitForFunction(
      () => Number(document.getElementById('chart-distributions')?.dataset.ridges) > 1,
    );
    await page.evaluate(() =>
      document.getElementById('panel-distributions')?.scrollIntoView({ block: 'start' }),
    );
    await page.waitForTimeout(300);
    await (await page.$('#panel-distributions')).screenshot({ path: distributions });
    console.log(`lab-screenshot: wrote ${distributions}`);
  } finally {
    await browser.close();
    await server.close();
  }
} finally {
  rmSync(runs, { recursive: true, force: true });
}
