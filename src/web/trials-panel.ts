/**
 * The lab's "Verified fixes" table: each of the doctor's fixes trained beside run A (lab-trials.ts), as it trains
 * and, once all are over, ranked by what they measured, each marked as curing or not as doctor/verify.ts decides.
 * An HTML string from the trial set, no DOM: tested in Node.
 *
 * @example ui.trialsBody.innerHTML = trialRows(set, trialColor);
 */
import { escapeHtml, formatNumber, formatPercent } from '../report/format.js';
import { CURE_MARGIN, type Outcome } from '../doctor/verify.js';
import type { Summary } from '../io/runlog.js';
import type { TrialSet, TrialState } from './lab-trials.js';
import { runColor } from './series.js';

/** A trial's line colour (dashed on the charts, so it never reads as a folder run of the same colour). */
export function trialColor(index: number): string {
  return runColor(5 - index);
}

function outcomeText(o: Pick<Outcome, 'metric' | 'accuracy' | 'evalLoss'>): string {
  const loss = `eval loss ${formatNumber(o.evalLoss)}`;
  return o.metric === 'accuracy' && o.accuracy !== undefined
    ? `accuracy ${formatPercent(o.accuracy)}, ${loss}`
    : loss;
}

function summaryText(summary: Summary): string {
  return outcomeText({
    metric: summary.eval.accuracy === undefined ? 'loss' : 'accuracy',
    evalLoss: summary.eval.loss,
    ...(summary.eval.accuracy === undefined ? {} : { accuracy: summary.eval.accuracy }),
  });
}

function gainText(gain: number, metric: Outcome['metric']): string {
  if (!Number.isFinite(gain)) return gain > 0 ? 'A diverged' : 'diverged';
  const sign = gain >= 0 ? '+' : '−';
  return metric === 'accuracy'
    ? `${sign}${(100 * Math.abs(gain)).toFixed(1)} points`
    : `${sign}${formatNumber(Math.abs(gain))} loss`;
}

function swatch(color: string): string {
  return `<span class="swatch dashed" style="border-color:${color}"></span>`;
}

/** The table's rows: ranked once every trial is over, else in the doctor's order with each one's progress. */
export function trialRows(set: TrialSet): string {
  const index = new Map(set.trials.map((t, i) => [t.label, i]));
  const verification = set.verification;
  const row = (trial: TrialState, rank: string, result: string, verdict: string | null): string => {
    const i = index.get(trial.label) ?? 0;
    return (
      `<tr data-trial="${escapeHtml(trial.label)}">` +
      `<td class="num">${rank}</td>` +
      `<td>${swatch(trialColor(i))}<code>${escapeHtml(trial.label)}</code></td>` +
      `<td class="change">${escapeHtml(trial.change)}</td>` +
      `<td>${verdict === null ? '' : `<span class="badge verdict-${escapeHtml(verdict)}">${escapeHtml(verdict)}</span>`}</td>` +
      `<td>${result}</td></tr>`
    );
  };
  if (verification !== null) {
    const byLabel = new Map(set.trials.map((t) => [t.label, t]));
    return verification.trials
      .map((t, rank) => {
        const trial = byLabel.get(t.label) as TrialState;
        const mark = t.cures
          ? '<strong class="cures">cures</strong>'
          : '<span class="muted">does not beat A</span>';
        return row(
          trial,
          String(rank + 1),
          `${escapeHtml(outcomeText(t.outcome))} · ${escapeHtml(gainText(t.gain, t.outcome.metric))} · ${mark}`,
          t.outcome.verdict,
        );
      })
      .join('');
  }
  return set.trials
    .map((trial, i) => {
      const total = trial.config.train.steps;
      const result =
        trial.status === 'failed'
          ? `<span class="status bad">${escapeHtml(trial.error ?? 'failed')}</span>`
          : trial.status === 'done' && trial.summary
            ? escapeHtml(summaryText(trial.summary))
            : trial.status === 'waiting'
              ? '<span class="muted">waiting for a worker</span>'
              : `step ${trial.stepsTaken} / ${total} <span class="bar"><span style="width:${((100 * trial.stepsTaken) / Math.max(1, total)).toFixed(1)}%;background:${trialColor(i)}"></span></span>`;
      return row(trial, '–', result, trial.summary?.verdict ?? null);
    })
    .join('');
}

/** The line above the table: what was tried against what, and, at the end, the doctor/verify headline. */
export function trialsHeadline(set: TrialSet): string {
  if (set.error !== null) return `<span class="status bad">${escapeHtml(set.error)}</span>`;
  const control = `run A (${escapeHtml(summaryText(set.control))}, verdict ${escapeHtml(set.control.verdict ?? 'healthy')})`;
  if (set.verification !== null)
    return `<strong>${escapeHtml(set.verification.headline)}</strong><br><span class="muted">control: ${control}; a fix cures when it beats it by ${100 * CURE_MARGIN.accuracy} points of accuracy or ${100 * CURE_MARGIN.lossFraction}% of eval loss.</span>`;
  const running = set.trials.filter((t) => t.status === 'training').length;
  return `Training ${set.trials.length} fix${set.trials.length === 1 ? '' : 'es'} for ${set.plan.budget} steps from run A's seed, ${running} at a time in workers; control: ${control}.`;
}
