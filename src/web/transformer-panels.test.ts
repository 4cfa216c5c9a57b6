/**
 * The lab's Transformer panels: drawn from the records as the report draws them, and, in headless Chromium, shown
 * for a Transformer preset trained in the page (opened from disk) and hidden for an MLP. Without chromium the
 * browser test is skipped and says why (CI installs it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { MetricsRecord } from '../io/runlog.js';
import { packageRoot } from './server.js';
import { entropyPanel, isTransformerRun, similarityPanel, sublayerPanel } from './transformer-panels.js';

const root = packageRoot(import.meta.url);

function record(step: number): MetricsRecord {
  const p = (name: string, layer: number, gradNorm: number): MetricsRecord['params'][number] => ({
    name,
    layer,
    gradNorm,
    weightNorm: 1,
    updateRatio: 1e-3,
    maxAbsGrad: gradNorm,
    nonFinite: 0,
  });
  return {
    step,
    loss: 3,
    lr: 0.01,
    gradNorm: 1,
    gradNormClipped: 1,
    clipped: false,
    skipped: false,
    params: [p('layers.1.attention.inProj.weight', 1, 0.5), p('layers.1.feedForward.0.weight', 1, 0.2)],
    activations: [],
    attention: { entropy: [[1.5, 0.5]], tokenSimilarity: [0.2], streamGrad: [0.1] },
    findings: [],
  };
}

describe('the lab Transformer panels', () => {
  it('draw the sublayer rows, one entropy line per head and one similarity line per block', () => {
    const records = [record(1), record(10)];
    assert.equal(isTransformerRun(records), true);
    const mlp: MetricsRecord = { ...record(1), params: [] };
    delete mlp.attention;
    assert.equal(isTransformerRun([mlp]), false);
    const heat = sublayerPanel(records);
    assert.match(heat, /id="lab-sublayers"/);
    assert.deepEqual(
      [...heat.matchAll(/data-label="([^"]+)"/g)].map((m) => m[1]),
      ['1 attention', '1 feed-forward', '1 stream'],
    );
    assert.match(entropyPanel(records), /block 1 head 2/);
    assert.match(similarityPanel(records), /block 1/);
  });
});

function findChromium(): string | null {
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  const r = spawnSync('which', ['chromium'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

const chromiumPath = findChromium();
const skip = chromiumPath ? false : 'no chromium at /usr/bin/chromium or on the PATH (CI installs it)';

describe('the lab trains a Transformer preset in the page and shows its panels', { skip }, () => {
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: chromiumPath as string,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await browser?.close();
  });

  it('pre-ln-6 for 20 steps: sublayer heat map with 6 blocks x 3 rows, entropy of 6 x 4 heads', async () => {
    await page.goto(`file://${join(root, 'web', 'index.html')}?preset=pre-ln-6&steps=20&autorun=1`);
    await page.waitForSelector('html[data-lab-state="done"]', { timeout: 120_000 });
    const result = JSON.parse((await page.textContent('#result')) ?? '{}') as {
      status: string;
      runs: Array<{ name: string; steps: number; error: string | null }>;
    };
    assert.equal(result.status, 'done');
    assert.deepEqual(
      [result.runs[0]?.name, result.runs[0]?.steps, result.runs[0]?.error],
      ['pre-ln-6', 20, null],
    );
    assert.equal(await page.isHidden('#panel-transformer'), false);
    const rows = await page.getAttribute('#lab-sublayers', 'data-rows');
    assert.equal(rows, '18');
    const heads = await page.locator('#chart-entropy').textContent();
    assert.match(heads ?? '', /block 6 head 4/);
    assert.deepEqual(pageErrors, []);
  });

  it('stays hidden for an MLP preset', async () => {
    await page.goto(`file://${join(root, 'web', 'index.html')}?preset=spirals-mlp&steps=10&autorun=1`);
    await page.waitForSelector('html[data-lab-state="done"]', { timeout: 60_000 });
    assert.equal(await page.isHidden('#panel-transformer'), true);
  });
});
