/**
 * The lab's presets beyond the small MLP and recurrent ones: the Transformer and character-LM presets (the bundled
 * corpus, `src/data/corpus-text.ts`), the seq2seq presets (reverse, translate) and copy-transformer all run in a
 * browser; MNIST, a csv table and a corpus file of the user's own (task.path) do not, and the page says what to use.
 * In headless Chromium (skipped without it; CI installs it) the lab's Web Worker trains copy-transformer and
 * seq2seq-reverse-attention a few steps and shows their attention entropy: per head for the Transformer, the
 * decoder's attention over the source ("block 1 head 1") for the recurrent encoder-decoder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { findPreset } from '../config/index.js';
import { browserPresets, buildRun, checkConfig } from './lab-run.js';
import { packageRoot, startLabServer, type LabServer } from './server.js';
import { transformerCharts } from './transformer-panels.js';

const root = packageRoot(import.meta.url);

describe('lab presets', () => {
  it('offers the Transformer, character-LM, seq2seq and copy presets, not those that read files', () => {
    const names = browserPresets().map((p) => p.name);
    for (const name of [
      'copy-transformer',
      'pre-ln-6',
      'char-lm-transformer',
      'char-lm-lstm',
      'seq2seq-reverse-plain',
      'seq2seq-reverse-attention',
      'seq2seq-translate-attention',
      'resnet-rezero',
    ])
      assert.ok(names.includes(name), name);
    for (const name of ['mnist-mlp', 'cnn-mnist']) assert.ok(!names.includes(name), name);
    const mnist = checkConfig('{"task": "mnist"}', 'x');
    assert.ok(!mnist.ok);
    assert.match(
      mnist.problem.message,
      /MNIST digits from disk.*use spirals, .*char-lm, reverse, sort, translate/,
    );
    const corpus = checkConfig('{"task": {"name": "char-lm", "path": "poems.txt"}}', 'x');
    assert.ok(!corpus.ok);
    assert.match(
      corpus.problem.message,
      /task\.path: "poems\.txt".*leave task\.path out for the bundled corpus/,
    );
  });

  it('trains them in the lab: the first logged step carries the attention record the panels draw', () => {
    const first = (name: string) => {
      const preset = findPreset(name);
      assert.ok(preset, name);
      const built = buildRun({ label: 'A', text: JSON.stringify(preset.config), name });
      assert.ok(built.ok, built.ok ? '' : built.problem.message);
      const record = built.run.advance();
      assert.equal(built.run.error, null);
      assert.equal(record?.step, 1, name);
      return record;
    };
    const copy = first('copy-transformer');
    assert.deepEqual(
      copy?.attention?.entropy.map((heads) => heads.length),
      [4, 4],
    );
    assert.deepEqual(transformerCharts([copy!]), { sublayers: true, entropy: true, similarity: true });
    const lm = first('char-lm-transformer');
    assert.equal(lm?.attention?.entropy.length, 2);
    const seq2seq = first('seq2seq-reverse-attention');
    const entropy = seq2seq?.attention?.entropy[0]?.[0] as number;
    assert.ok(Math.abs(entropy - Math.log(21)) < 0.15, `entropy ${entropy} near ln 21 at step 1`);
    assert.deepEqual(transformerCharts([seq2seq!]), { sublayers: false, entropy: true, similarity: false });
    assert.equal(first('seq2seq-reverse-plain')?.attention, undefined);
  });
});

function findChromium(): string | null {
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  const r = spawnSync('which', ['chromium'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

const chromiumPath = findChromium();
const skip = chromiumPath ? false : 'no chromium at /usr/bin/chromium or on the PATH (CI installs it)';

describe('the lab trains copy-transformer and seq2seq-reverse-attention in its worker', { skip }, () => {
  let browser: Browser;
  let server: LabServer;
  let page: Page;
  let runsDir: string;
  const pageErrors: string[] = [];

  before(async () => {
    const { chromium } = await import('playwright-core');
    runsDir = mkdtempSync(join(tmpdir(), 'gradscope-lab-presets-'));
    server = await startLabServer({ root, port: 0, runsDir });
    browser = await chromium.launch({
      executablePath: chromiumPath as string,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (runsDir) rmSync(runsDir, { recursive: true, force: true });
  });

  const train = async (preset: string, steps: number) => {
    await page.goto(`${server.url}?preset=${preset}&steps=${steps}&autorun=1`);
    await page.waitForSelector('html[data-lab-state="done"]', { timeout: 120_000 });
    const result = JSON.parse((await page.textContent('#result')) ?? '{}') as {
      status: string;
      trainer: string;
      runs: Array<{ name: string; steps: number; error: string | null }>;
    };
    assert.equal(result.status, 'done');
    assert.equal(result.trainer, 'worker');
    assert.deepEqual(
      [result.runs[0]?.name, result.runs[0]?.steps, result.runs[0]?.error],
      [preset, steps, null],
    );
    assert.equal(await page.isHidden('#panel-transformer'), false);
  };

  it('copy-transformer for 10 steps: the entropy of 2 blocks x 4 heads', async () => {
    await train('copy-transformer', 10);
    assert.match((await page.locator('#chart-entropy').textContent()) ?? '', /block 2 head 4/);
    assert.equal(await page.isHidden('#chart-sublayers'), false);
    assert.deepEqual(pageErrors, []);
  });

  it("seq2seq-reverse-attention for 10 steps: the decoder's attention entropy, no sublayer or token charts", async () => {
    await train('seq2seq-reverse-attention', 10);
    const text = (await page.locator('#chart-entropy').textContent()) ?? '';
    assert.match(text, /block 1 head 1/);
    assert.doesNotMatch(text, /head 2/);
    assert.equal(await page.isHidden('#chart-entropy'), false);
    assert.equal(await page.isHidden('#chart-sublayers'), true);
    assert.equal(await page.isHidden('#chart-similarity'), true);
    assert.deepEqual(pageErrors, []);
  });
});
