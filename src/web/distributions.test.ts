/**
 * The distributions panel: its ridges computed in Node (mountains.ts), and in real Chromium (as lab.test.ts, skipped
 * without chromium) drawn for a folder run with histograms, for a TensorBoard log with histograms and for a run
 * trained in the page, picked by keyboard, with a screenshot in the test output (.tmp/test-output/distributions.png,
 * or $GRADSCOPE_TEST_OUTPUT).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { resolveConfig } from '../config/index.js';
import { stringifyFinite } from '../io/json.js';
import type { MetricsRecord } from '../io/runlog.js';
import { EventWriter, readEventDir } from '../io/tfevents.js';
import { histogram, type HistogramRecord } from '../monitor/histogram.js';
import { Rng } from '../tensor/rng.js';
import { train } from '../train/trainer.js';
import { histogramOptions, MAX_RIDGES, mountains, ridgeColor, ticks, valueAxis } from './mountains.js';
import { attachHistograms, readRun } from './runs.js';
import { packageRoot, startLabServer, type LabServer } from './server.js';

const root = packageRoot(import.meta.url);

function record(step: number, histograms: HistogramRecord[]): MetricsRecord {
  return {
    step,
    loss: 1,
    lr: 0.1,
    gradNorm: 1,
    gradNormClipped: 1,
    clipped: false,
    skipped: false,
    params: [],
    activations: [],
    histograms,
    findings: [],
  };
}

function entry(name: string, layer: number, of: 'weight' | 'grad', values: number[]): HistogramRecord {
  return { name, layer, of, ...histogram(values, 4) };
}

describe('mountains', () => {
  const records = [
    record(1, [
      entry('layers.1.weight', 1, 'weight', [0, 1, 1, 2]),
      entry('layers.0.weight', 0, 'weight', [5]),
    ]),
    record(10, [
      entry('layers.1.weight', 1, 'weight', [-1, 3]),
      entry('layers.1.weight', 1, 'grad', [NaN, 0.5]),
    ]),
    record(20, []),
  ];

  it('lists the tensors with histograms by layer and builds one ridge per step, scaled to its peak', () => {
    assert.deepEqual(histogramOptions(records), [
      { name: 'layers.0.weight', layer: 0 },
      { name: 'layers.1.weight', layer: 1 },
    ]);
    const m = mountains(records, 'layers.1.weight', 'weight');
    assert.deepEqual(
      m.ridges.map((r) => r.step),
      [1, 10],
    );
    assert.deepEqual([m.min, m.max], [-1, 3], 'one value axis for all ridges');
    assert.deepEqual(m.ridges[0]?.heights, [0.5, 0, 1, 0.5]);
    assert.deepEqual(m.ridges[0]?.centres, [0.25, 0.75, 1.25, 1.75]);
    const grad = mountains(records, 'layers.1.weight', 'grad');
    assert.equal(grad.ridges[0]?.nan, 1);
    assert.equal(grad.ridges[0]?.total, 1);
    assert.deepEqual(
      mountains(records, 'layers.1.weight', 'weight', { min: 5, max: 15 }).ridges.map((r) => r.step),
      [10],
      'the zoomed steps only',
    );
  });

  it('thins long runs evenly, keeps the first and last, and widens a single-value axis', () => {
    const many = Array.from({ length: 200 }, (_, i) => record(i + 1, [entry('w', 0, 'weight', [i, i + 1])]));
    const m = mountains(many, 'w', 'weight');
    assert.equal(m.ridges.length, MAX_RIDGES);
    assert.equal(m.thinned, 200 - MAX_RIDGES);
    assert.deepEqual([m.ridges[0]?.step, m.ridges.at(-1)?.step], [1, 200]);
    const spike = mountains(records, 'layers.0.weight', 'weight');
    assert.deepEqual(valueAxis(spike), { min: 2.5, max: 7.5 });
    assert.deepEqual(valueAxis({ min: 0, max: 0 }), { min: -1, max: 1 });
  });

  it('ticks at round numbers and colours from pale (old) to dark (new)', () => {
    assert.deepEqual(ticks(-1, 3, 4), [-1, 0, 1, 2, 3]);
    assert.deepEqual(ticks(0, 0.05, 5), [0, 0.01, 0.02, 0.03, 0.04, 0.05]);
    assert.equal(ridgeColor(0, 5), 'rgb(198, 219, 239)');
    assert.equal(ridgeColor(4, 5), 'rgb(8, 48, 107)');
  });

  it('puts a TensorBoard log’s weight and gradient histograms on the records of their steps', () => {
    const base = mkdtempSync(join(tmpdir(), 'gradscope-tbhist-'));
    const dir = join(base, 'tb');
    try {
      const events = EventWriter.open(dir);
      for (const step of [0, 10]) {
        events.scalars({ loss: 1 / (step + 1), 'grad_norm/fc.weight': 0.1 }, step);
        events.histogram('fc.weight', [0.1, 0.2, -0.3, 0.15], step);
        events.histogram('fc.weight.grad', [1e-3, -2e-3, NaN], step);
      }
      events.close();
      const records = readRun(base, 'tb').records;
      assert.deepEqual(
        records.map((r) => (r.histograms ?? []).map((h) => `${h.name}:${h.of}`)),
        [
          ['fc.weight:weight', 'fc.weight:grad'],
          ['fc.weight:weight', 'fc.weight:grad'],
        ],
      );
      const weights = records[1]?.histograms?.[0];
      assert.equal(weights?.counts.length, 30);
      assert.ok(Math.abs((weights?.counts.reduce((a, b) => a + b, 0) ?? 0) - 4) < 1e-9);
      assert.deepEqual([weights?.min, weights?.max], [-0.3, 0.2]);
      // attachHistograms leaves a record without a histogram event alone.
      const plain = [record(5, [])];
      delete plain[0]!.histograms;
      attachHistograms(
        plain,
        readEventDir(dir).flatMap((f) => f.events),
      );
      assert.equal(plain[0]?.histograms, undefined);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

function findChromium(): string | null {
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const name of ['chromium', 'chromium-browser']) {
    const r = spawnSync('which', [name], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

const chromiumPath = findChromium();
const skip = chromiumPath ? false : 'no chromium at /usr/bin/chromium or on the PATH (CI installs it)';
const outputDir = process.env['GRADSCOPE_TEST_OUTPUT'] ?? join(root, '.tmp', 'test-output');

/** Pixels of a canvas drawn in a colour (not transparent, not white, not the text grey). */
function colouredPixels(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    const canvas = document.querySelector(sel);
    if (!(canvas instanceof HTMLCanvasElement)) return -1;
    const { data } = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(
      0,
      0,
      canvas.width,
      canvas.height,
    );
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, b, a] = [data[i] as number, data[i + 2] as number, data[i + 3] as number];
      if (a > 0 && b > r + 30) n++; // the Blues ramp: blue well above red
    }
    return n;
  }, selector);
}

function panelData(page: Page): Promise<Record<string, string>> {
  return page.evaluate(
    () => ({ ...(document.getElementById('chart-distributions')?.dataset ?? {}) }) as Record<string, string>,
  );
}

describe('the distributions panel in Chromium', { skip }, () => {
  let browser: Browser;
  let server: LabServer;
  let base: string;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'gradscope-dist-'));
    const runs = join(base, 'runs');
    mkdirSync(runs);
    const config = resolveConfig(
      {
        task: { name: 'spirals' },
        model: { kind: 'mlp', depth: 3, width: 16, activation: 'sigmoid' },
        train: { steps: 60, batchSize: 16 },
        monitor: { every: 5, histograms: true },
      },
      { defaultName: 'hist-run' },
    );
    train(config, { outDir: join(runs, 'hist-run') });
    // A hand-written log whose second histogram holds NaN and +∞ entries.
    mkdirSync(join(runs, 'nan-run'));
    writeFileSync(
      join(runs, 'nan-run', 'metrics.jsonl'),
      [1, 10, 20]
        .map((step) =>
          stringifyFinite(
            record(step, [
              entry('layers.0.weight', 0, 'grad', step === 10 ? [1, 2, NaN, Infinity, 2] : [1, 2, 2, 3]),
            ]),
          ),
        )
        .join('\n') + '\n',
    );
    const events = EventWriter.open(join(runs, 'tb-hist'));
    const rng = new Rng(2);
    for (const step of [0, 10, 20]) {
      events.scalars({ loss: 1 / (step + 1) }, step);
      events.histogram(
        'fc.weight',
        Float32Array.from({ length: 400 }, () => rng.normal() * (1 + step / 10)),
        step,
      );
    }
    events.close();
    server = await startLabServer({ root, port: 0, runsDir: runs });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: chromiumPath as string,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    mkdirSync(outputDir, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('draws the mountains of a folder run, picks layers, kinds and steps by keyboard, and takes a screenshot', async () => {
    await page.goto(`${server.url}?runs=hist-run`);
    // Steps 1, 5, ..., 60: every logged step (histograms: true).
    await page.waitForFunction(
      () => document.getElementById('chart-distributions')?.dataset['ridges'] === '13',
    );
    let data = await panelData(page);
    assert.deepEqual([data['param'], data['of'], data['lastStep']], ['layers.0.weight', 'weight', '60']);
    const layers = await page.$$eval('#chart-distributions .dist-param option', (options) =>
      options.map((o) => (o as HTMLOptionElement).value),
    );
    assert.deepEqual(layers, ['layers.0.weight', 'layers.1.weight', 'layers.2.weight', 'layers.3.weight']);
    assert.ok((await colouredPixels(page, '#chart-distributions canvas')) > 5000, 'the ridges are painted');
    // Keyboard only: tab from the layer picker to the kind picker, change both, then read a step on the canvas.
    await page.focus('#chart-distributions .dist-param');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown');
    await page.waitForFunction(
      () => document.getElementById('chart-distributions')?.dataset['of'] === 'grad',
    );
    data = await panelData(page);
    assert.deepEqual([data['param'], data['ridges']], ['layers.1.weight', '13']);
    assert.match(await page.evaluate(() => location.search), /hist=layers\.1\.weight&histOf=grad/);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'CANVAS');
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowUp');
    const readout = (await page.textContent('#chart-distributions .readout')) ?? '';
    assert.match(readout, /^step 55 · layers\.1\.weight gradients: 256 values from /);
    assert.match(readout, /no NaN or ∞/);
    const label = (await page.getAttribute('#chart-distributions canvas', 'aria-label')) ?? '';
    assert.match(label, /distributions of layers\.1\.weight gradients: 13 logged steps up to step 60/);
    await page.$eval('#panel-distributions', (el) => el.scrollIntoView({ block: 'start' }));
    const shot = join(outputDir, 'distributions.png');
    await (await page.$('#panel-distributions'))?.screenshot({ path: shot });
    assert.ok(statSync(shot).size > 10_000, 'a screenshot of the panel');
    assert.deepEqual(pageErrors, []);
  });

  it('opens on the tensor and kind the address names', async () => {
    await page.goto(`${server.url}?runs=hist-run&hist=layers.2.weight&histOf=grad`);
    await page.waitForFunction(
      () => document.getElementById('chart-distributions')?.dataset['ridges'] === '13',
    );
    const data = await panelData(page);
    assert.deepEqual([data['param'], data['of']], ['layers.2.weight', 'grad']);
    assert.deepEqual(pageErrors, []);
  });

  it('marks the steps with NaN or ∞ entries and reads their counts out', async () => {
    await page.goto(`${server.url}?runs=nan-run&histOf=grad`);
    await page.waitForFunction(
      () => document.getElementById('chart-distributions')?.dataset['ridges'] === '3',
    );
    const pink = await page.evaluate(() => {
      const canvas = document.querySelector('#chart-distributions canvas') as HTMLCanvasElement;
      const { data } = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(
        0,
        0,
        canvas.width,
        canvas.height,
      );
      let n = 0;
      // NON_FINITE_COLOR #ff2a6d
      for (let i = 0; i < data.length; i += 4)
        if (data[i] === 255 && data[i + 1] === 42 && data[i + 2] === 109) n++;
      return n;
    });
    assert.ok(pink >= 50, `one non-finite mark drawn (${pink} pixels)`);
    await page.focus('#chart-distributions canvas');
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    assert.match(
      (await page.textContent('#chart-distributions .readout')) ?? '',
      /^step 10 · layers\.0\.weight gradients: 3 values from 1 to 2.* · non-finite: NaN 1, \+∞ 1, −∞ 0$/,
    );
    assert.deepEqual(pageErrors, []);
  });

  it('draws a TensorBoard log’s histograms', async () => {
    await page.goto(`${server.url}?runs=tb-hist`);
    await page.waitForFunction(
      () => document.getElementById('chart-distributions')?.dataset['ridges'] === '3',
    );
    const data = await panelData(page);
    assert.deepEqual([data['param'], data['of'], data['lastStep']], ['fc.weight', 'weight', '20']);
    assert.ok((await colouredPixels(page, '#chart-distributions canvas')) > 3000);
    assert.deepEqual(pageErrors, []);
  });

  it('draws an in-page run’s histograms as it trains', async () => {
    await page.goto(`${server.url}?preset=deep-sigmoid&steps=100&autorun=1`);
    await page.waitForSelector('html[data-lab-state="done"]', { timeout: 60_000 });
    // monitor.every 10, histograms every 5th logged step (the default): steps 1, 50 and 100.
    await page.waitForFunction(
      () => document.getElementById('chart-distributions')?.dataset['ridges'] === '3',
    );
    assert.equal((await panelData(page))['lastStep'], '100');
    assert.ok((await colouredPixels(page, '#chart-distributions canvas')) > 3000);
    assert.deepEqual(pageErrors, []);
  });
});
