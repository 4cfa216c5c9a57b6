/**
 * The lab's verified fixes: the table in Node (trials-panel.ts over a TrialSet answered by canned summaries), and in
 * real Chromium (as lab.test.ts, skipped without chromium) the doctor's top fixes of an in-page run A trained in
 * Web Workers beside it, ranked and marked as `gradscope fix` ranks and marks the same config trained in Node, with
 * a screenshot in the test output (.tmp/test-output/trials.png, or $GRADSCOPE_TEST_OUTPUT).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { findPreset, resolveConfig } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { verifyFixes } from '../doctor/verify.js';
import type { Summary } from '../io/runlog.js';
import { TrainingSession } from '../train/session.js';
import { TrialSet, type TrialCommand, type TrialMessage, type TrialPort } from './lab-trials.js';
import { packageRoot, startLabServer, type LabServer } from './server.js';
import { trialColor, trialRows, trialsHeadline } from './trials-panel.js';

const root = packageRoot(import.meta.url);
const outputDir = process.env['GRADSCOPE_TEST_OUTPUT'] ?? join(root, '.tmp', 'test-output');

function preset(name: string, steps: number): ResolvedConfig {
  const raw = structuredClone(findPreset(name)?.config) as Record<string, unknown>;
  return resolveConfig({ ...raw, train: { ...(raw['train'] as object), steps } }, { defaultName: name });
}

function trainInMemory(config: ResolvedConfig): Summary {
  const session = new TrainingSession(config);
  while (!session.done) session.step();
  return session.finish();
}

describe('the verified-fixes table', () => {
  it('lists the trials in the doctor’s order while they train, then ranks them and marks the cures', () => {
    const config = preset('deep-sigmoid', 40);
    const control = trainInMemory(config);
    assert.equal(control.verdict, 'vanishing');
    // Canned outcomes: fix-2 far better than run A (a cure), fix-1 as good as A (none).
    const queue: Array<() => void> = [];
    const evalOf: Record<string, Summary['eval']> = {
      'fix-1': control.eval,
      'fix-2': { loss: control.eval.loss / 4, accuracy: (control.eval.accuracy ?? 0) + 0.3 },
    };
    const set = new TrialSet(config, control, {
      top: 2,
      parallel: 2,
      spawn: (): TrialPort => {
        let listener: (message: TrialMessage) => void = () => {};
        return {
          post: (command: TrialCommand) => {
            if (command.type !== 'trial') return;
            const label = `fix-${command.id + 1}`;
            const summary: Summary = {
              ...control,
              name: command.config.name,
              eval: evalOf[label] as Summary['eval'],
              verdict: label === 'fix-2' ? 'healthy' : 'vanishing',
            };
            queue.push(() =>
              listener({ type: 'trial-done', id: command.id, records: [], summary, kernels: 'wasm-simd' }),
            );
          },
          listen: (onMessage) => (listener = onMessage),
          terminate: () => {},
        };
      },
      onChange: () => {},
    });
    const waiting = trialRows(set);
    assert.equal((waiting.match(/<tr /g) ?? []).length, 2);
    assert.match(waiting, /waiting for a worker/);
    set.start();
    const training = trialRows(set);
    assert.match(training, /step 0 \/ 40/);
    assert.match(
      trialsHeadline(set),
      /^Training 2 fixes for 40 steps from run A's seed, 2 at a time in workers/,
    );
    assert.ok(training.indexOf('fix-1') < training.indexOf('fix-2'), 'the doctor’s order');
    for (const answer of queue.splice(0)) answer();
    assert.ok(set.verification);
    const ranked = trialRows(set);
    assert.ok(ranked.indexOf('fix-2') < ranked.indexOf('fix-1'), 'ranked by what they measured');
    assert.equal((ranked.match(/class="cures"/g) ?? []).length, 1);
    assert.match(ranked, /does not beat A/);
    assert.match(ranked, /\+30\.0 points/);
    assert.match(trialsHeadline(set), /^<strong>verified: \+30\.0 points accuracy in 40 steps with /);
    assert.match(trialsHeadline(set), /beats it by 2 points of accuracy or 10% of eval loss/);
    assert.notEqual(trialColor(0), trialColor(1));
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
const skip = chromiumPath
  ? false
  : 'no chromium at /usr/bin/chromium or on the PATH (CI installs it: apt-get install -y chromium)';

interface PageResult {
  status: string;
  trainer: string;
  kernels: string;
  runs: Array<{ label: string; verdict: string; evalLoss: number }>;
  verification: {
    headline: string;
    best: string | null;
    trials: Array<{
      rank: number;
      label: string;
      change: string;
      cures: boolean;
      kernels: string;
      outcome: { evalLoss: number; accuracy?: number; verdict: string };
    }>;
  };
}

describe('verified fixes in Chromium', { skip }, () => {
  let browser: Browser;
  let server: LabServer;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    server = await startLabServer({ root, port: 0 });
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
  });

  it('trains the doctor’s top fixes in workers beside run A and ranks them as gradscope fix does', async () => {
    const steps = 120;
    await page.goto(`${server.url}?preset=deep-sigmoid&steps=${steps}&autorun=1&verify=3`);
    await page.waitForSelector('#trials:not([hidden])', { timeout: 60_000 });
    // While they train, their losses are drawn beside run A's, dashed.
    await page.waitForFunction(() => document.getElementById('chart-loss')?.dataset['series'] === '4', null, {
      timeout: 60_000,
    });
    await page.waitForSelector('html[data-lab-state="done"]', { timeout: 120_000 });
    const result = JSON.parse((await page.textContent('#result')) ?? '{}') as PageResult;
    assert.equal(result.status, 'done');
    assert.equal(result.trainer, 'worker');
    assert.match(result.kernels, /^wasm-/, 'run A trained on the WebAssembly kernels');
    const v = result.verification;
    assert.equal(v.trials.length, 3);
    for (const trial of v.trials) assert.equal(trial.kernels, result.kernels, `${trial.label} in a worker`);

    // The same config verified in Node, as `gradscope fix deep-sigmoid --budget 120 --top 3` does (a separate control).
    const reference = verifyFixes(preset('deep-sigmoid', steps), null, {
      top: 3,
      runTrial: (config) => trainInMemory(config),
    });
    console.log(`# page: ${v.headline}\n# node: ${reference.headline}`);
    assert.deepEqual(
      v.trials.map((t) => [t.label, t.change, t.cures, t.outcome.verdict]),
      reference.trials.map((t) => [t.label, t.fix?.change, t.cures, t.outcome.verdict]),
    );
    v.trials.forEach((t, i) => {
      const want = reference.trials[i]?.outcome.evalLoss as number;
      assert.ok(
        Math.abs(t.outcome.evalLoss - want) <= 1e-6 * Math.abs(want),
        `${t.label}: ${t.outcome.evalLoss} vs ${want}`,
      );
    });
    assert.ok(v.best, 'a fix cures deep-sigmoid in 120 steps');
    assert.equal(v.best, reference.best?.label);

    const rows = await page.$$eval('#trials-body tr', (trs) =>
      trs.map((tr) => (tr as HTMLElement).dataset['trial']),
    );
    assert.deepEqual(
      rows,
      v.trials.map((t) => t.label),
      'the table is ranked',
    );
    assert.equal(await page.locator('#trials-body .cures').count(), v.trials.filter((t) => t.cures).length);
    assert.match((await page.textContent('#trials-headline')) ?? '', /^verified: /);

    // A trial can be looked inside: the detail panels and the doctor follow the view picker.
    await page.selectOption('#view-select', `trial:${v.best}`);
    await page.waitForFunction(
      (label) => document.getElementById('doctor-verdict')?.textContent?.includes(label) === true,
      v.best,
    );
    // Readable at 1280 x 800: nothing is wider than the window.
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(
      (widths[0] as number) <= (widths[1] as number),
      `page ${widths[0]} px wide in a ${widths[1]} px window`,
    );
    const shot = join(outputDir, 'trials.png');
    await page.locator('#trials').screenshot({ path: shot });
    assert.ok(statSync(shot).size > 10_000, 'a screenshot of the verified fixes');
    assert.deepEqual(pageErrors, []);
  });
  it('verifies on the page itself when opened from disk (no workers there)', async () => {
    await page.goto(
      `file://${join(root, 'web', 'index.html')}?preset=deep-sigmoid&steps=30&autorun=1&verify=2`,
    );
    await page.waitForSelector('html[data-lab-state="done"]', { timeout: 60_000 });
    const result = JSON.parse((await page.textContent('#result')) ?? '{}') as PageResult;
    assert.equal(result.trainer, 'page');
    assert.deepEqual(
      result.verification.trials.map((t) => t.rank),
      [1, 2],
    );
    assert.match(result.verification.headline, /verified|not verified/);
    assert.deepEqual(pageErrors, []);
  });
});
