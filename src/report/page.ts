/**
 * The page both reports share: the HTML shell with inline CSS and an optional hover script, the verdict badge,
 * the key-number cards, chart figures and the findings. Self-contained: no URLs, no fonts, no external files.
 */
import { escapeHtml, formatRanges } from './format.js';
import type { ReportFinding } from './data.js';

/** What each verdict means, in a sentence under the badge. */
export const VERDICT_TEXT: Readonly<Record<string, string>> = {
  healthy: 'gradients reach every layer at a usable size',
  vanishing: 'gradients shrink toward the input (or back through time) until the early layers stop learning',
  exploding: 'gradients grow toward the input (or back through time) until updates overshoot',
  'non-finite': 'NaN or ∞ appeared in the loss, gradients or weights',
  saturated: 'units sit in the flat tails of their activation, where the derivative is near zero',
  'dead-units': 'ReLU-family units output zero for every example and get no gradient',
  'not-learning': 'the gradients look fine but the loss stays where a model that learned nothing would be',
};

/** A verdict as a coloured pill; an unknown or missing verdict is grey. */
export function verdictBadge(verdict: string | undefined): string {
  const name = verdict ?? 'not diagnosed';
  const known = Object.hasOwn(VERDICT_TEXT, name);
  return `<span class="badge verdict-${known ? name : 'unknown'}">${escapeHtml(name)}</span>`;
}

export interface Card {
  label: string;
  value: string;
  sub?: string;
  tone?: 'good' | 'bad' | 'neutral';
}

export function cards(list: readonly Card[]): string {
  return (
    '<div class="cards">' +
    list
      .map(
        (c) =>
          `<div class="card${c.tone && c.tone !== 'neutral' ? ' ' + c.tone : ''}"><div class="label">${escapeHtml(c.label)}</div>` +
          `<div class="value">${escapeHtml(c.value)}</div>${c.sub ? `<div class="sub">${escapeHtml(c.sub)}</div>` : ''}</div>`,
      )
      .join('') +
    '</div>'
  );
}

/** A chart in a captioned box; `id` names the figure (tests and links find charts by it). */
export function figure(id: string, title: string, note: string, svg: string, wide = false): string {
  return (
    `<figure class="chart-box${wide ? ' wide' : ''}" id="${escapeHtml(id)}"><h3>${escapeHtml(title)}</h3>` +
    `<figcaption>${escapeHtml(note)}</figcaption>${svg}</figure>`
  );
}

function whereText(where: ReportFinding['where']): string {
  const parts: string[] = [];
  if (where.layers?.length)
    parts.push(`${where.layers.length === 1 ? 'layer' : 'layers'} ${formatRanges(where.layers)}`);
  if (where.steps)
    parts.push(
      where.steps[0] === where.steps[1]
        ? `step ${where.steps[0]}`
        : `steps ${where.steps[0]}–${where.steps[1]}`,
    );
  if (where.timeSteps?.length) parts.push(`time steps ${formatRanges(where.timeSteps)}`);
  if (where.params?.length) {
    const shown = where.params.slice(0, 4).join(', ');
    parts.push(where.params.length > 4 ? `${shown} and ${where.params.length - 4} more` : shown);
  }
  return parts.join(' · ');
}

function patchText(patch: unknown): string {
  if (patch === undefined || patch === null) return '';
  try {
    return JSON.stringify(patch) ?? '';
  } catch {
    return '';
  }
}

/** One finding: what, where, the evidence, the cause, and the fixes in the doctor's order with their exact config change. */
export function renderFinding(finding: ReportFinding, index: number): string {
  const where = whereText(finding.where);
  const evidence = finding.evidence.length
    ? `<ul class="evidence">${finding.evidence.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul>`
    : '<p class="muted">No evidence recorded.</p>';
  const fixes = finding.fixes.length
    ? `<ol class="fixes">${finding.fixes
        .map((f) => {
          const patch = patchText(f.patch);
          return (
            `<li><div class="fix-change">${escapeHtml(f.change || 'change')}</div>` +
            (patch
              ? `<div class="patch-line">config change: <code class="patch">${escapeHtml(patch)}</code></div>`
              : '') +
            (f.why ? `<div class="why">${escapeHtml(f.why)}</div>` : '') +
            '</li>'
          );
        })
        .join('')}</ol>`
    : '<p class="muted">No fix suggested.</p>';
  return (
    `<article class="finding ${finding.severity}" id="finding-${index + 1}">` +
    `<div class="finding-head"><span class="sev">${escapeHtml(finding.severity)}</span>` +
    `<h3>${escapeHtml(finding.title)}</h3><code class="code">${escapeHtml(finding.code)}</code></div>` +
    (where ? `<p class="where">Where: ${escapeHtml(where)}</p>` : '') +
    `<div class="finding-body"><div><h4>Evidence</h4>${evidence}</div>` +
    `<div><h4>Cause${finding.causeKind ? ` <code class="code">${escapeHtml(finding.causeKind)}</code>` : ''}</h4><p>${finding.cause ? escapeHtml(finding.cause) : '<span class="muted">Not stated.</span>'}</p>` +
    (index === 0 && finding.timeline.length > 0
      ? `<h4>Timeline</h4><ul class="evidence">${finding.timeline
          .slice(0, 10)
          .map((e) => `<li>step ${e.step}: ${escapeHtml(e.text)}</li>`)
          .join('')}</ul>`
      : '') +
    `</div></div>` +
    `<h4>Fixes, best first</h4>${fixes}</article>`
  );
}

const CSS = `
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6575; --line: #e2e5ea; --bg: #f4f5f7; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 24px 56px; }
.eyebrow { text-transform: uppercase; letter-spacing: .08em; font-size: 12px; color: var(--muted); }
h1 { font-size: 30px; line-height: 1.2; margin: 4px 0 6px; display: flex; align-items: center; gap: 14px;
  flex-wrap: wrap; overflow-wrap: anywhere; }
h2 { font-size: 20px; margin: 0 0 14px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 0; }
h4 { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); margin: 12px 0 4px; }
section { margin-top: 34px; }
.subtitle { color: var(--muted); margin: 0; }
.meaning { margin: 6px 0 0; }
.muted { color: var(--muted); }
.badge { font-size: 14px; font-weight: 650; padding: 3px 12px; border-radius: 999px; color: #fff;
  white-space: nowrap; letter-spacing: .02em; }
.verdict-healthy { background: #2e7d32; } .verdict-vanishing { background: #1565c0; }
.verdict-exploding { background: #d84315; } .verdict-non-finite { background: #b71c1c; }
.verdict-saturated { background: #8a6d00; } .verdict-dead-units { background: #546e7a; }
.verdict-unknown { background: #8a8f98; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(136px, 1fr)); gap: 12px; margin-top: 20px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 11px 14px; }
.card .label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 23px; font-weight: 650; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.card .sub { font-size: 12.5px; color: var(--muted); }
.card.good .value { color: #2e7d32; } .card.bad .value { color: #c62828; }
.baseline-note { font-size: 13px; color: var(--muted); margin: 10px 0 0; }
.banner { margin-top: 16px; padding: 10px 14px; border-radius: 8px; background: #fff4e5; border: 1px solid #f5c27a; }
nav.toc { margin-top: 18px; font-size: 14px; display: flex; gap: 6px 16px; flex-wrap: wrap; }
nav.toc a { color: #1f5fa8; text-decoration: none; } nav.toc a:hover { text-decoration: underline; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(470px, 1fr)); gap: 16px; }
.grid2 + .grid2, .chart-box + .grid2, .grid2 + .chart-box, .chart-box + .chart-box { margin-top: 16px; }
figure.chart-box { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 14px 16px 10px; min-width: 0; }
figure.chart-box figcaption { font-size: 13px; color: var(--muted); margin: 2px 0 8px; }
svg.chart { width: 100%; height: auto; display: block; }
.finding { background: var(--card); border: 1px solid var(--line); border-left: 6px solid #8a8f98;
  border-radius: 10px; padding: 14px 18px; margin-bottom: 14px; }
.finding.critical { border-left-color: #c62828; } .finding.warning { border-left-color: #ef6c00; }
.finding.info { border-left-color: #1565c0; } .finding.healthy { border-left-color: #2e7d32; }
.finding-head { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; }
.sev { font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .06em; padding: 1px 8px;
  border-radius: 4px; background: #eceff3; }
.critical .sev { background: #fdecea; color: #b71c1c; } .warning .sev { background: #fff3e0; color: #b34700; }
.info .sev { background: #e8f0fb; color: #0d47a1; }
.finding .code { color: var(--muted); font-size: 12.5px; }
.finding .where { margin: 4px 0 0; font-size: 14px; }
.finding-body { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 28px; }
.finding p { margin: 0 0 4px; }
ul.evidence { margin: 0; padding-left: 20px; } ul.evidence li { font-variant-numeric: tabular-nums; }
ol.fixes { margin: 0; padding-left: 22px; } ol.fixes li { margin-bottom: 8px; }
.fix-change { font-weight: 600; }
.patch-line { font-size: 13px; color: var(--muted); }
.why { font-size: 14px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
code.patch { background: #eef1f5; color: var(--ink); padding: 1px 6px; border-radius: 4px; overflow-wrap: anywhere; }
pre.config { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px;
  overflow: auto; margin: 0; line-height: 1.45; }
.empty { background: var(--card); border: 1px dashed var(--line); border-radius: 10px; padding: 16px; color: var(--muted); }
table.runs { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line);
  border-radius: 10px; font-variant-numeric: tabular-nums; }
table.runs th, table.runs td { padding: 8px 12px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
table.runs th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; }
table.runs th:first-child, table.runs td:first-child { text-align: left; white-space: normal; min-width: 220px; }
table.runs .setup { font-size: 12.5px; color: var(--muted); margin-left: 20px; }
table.runs tr.best td { background: #f1f8f1; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 8px; vertical-align: -1px; }
.table-wrap { overflow-x: auto; }
.top-findings { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 14px; align-items: start; }
.top-findings .finding { margin: 0; }
footer { margin-top: 40px; font-size: 12.5px; color: var(--muted); }
#tip { position: fixed; pointer-events: none; background: #1d2430; color: #fff; font-size: 12px; padding: 4px 8px;
  border-radius: 4px; display: none; z-index: 10; white-space: nowrap; }
@media print { body { background: #fff; } nav.toc, #tip { display: none; } }
`;

/**
 * Optional: shows the heat-map cell under the pointer (the page reads fine without it; each row also has a title).
 * Values travel in data attributes as log10 with 'x' for non-finite and 'z' for zero.
 */
const SCRIPT = `(function(){var t=document.getElementById('tip');if(!t)return;
document.querySelectorAll('.hm-row>title').forEach(function(n){n.remove();});
document.addEventListener('mousemove',function(e){var el=e.target;
if(!(el instanceof Element)||!el.classList.contains('hm-row')){t.style.display='none';return;}
var svg=el.closest('svg'),b=el.getBoundingClientRect(),v=(el.getAttribute('data-v')||'').split(',');
var i=Math.max(0,Math.min(v.length-1,Math.floor((e.clientX-b.left)/b.width*v.length)));
var s=(svg.getAttribute('data-steps')||'').split(','),x=v[i];
var val=x==='x'?'NaN or ∞':x==='z'?'0':Math.pow(10,+x).toPrecision(3);
t.textContent=el.getAttribute('data-label')+' · step '+s[i]+' · '+svg.getAttribute('data-value-label')+' = '+val;
t.style.display='block';t.style.left=(e.clientX+14)+'px';t.style.top=(e.clientY+14)+'px';});})();`;

/** The whole HTML document. `body` is trusted HTML built by the report modules; `title` is escaped here. */
export function htmlPage(title: string, body: string): string {
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<meta name="color-scheme" content="light">' +
    `<title>${escapeHtml(title)}</title><style>${CSS}</style></head>` +
    `<body><main>${body}</main><div id="tip"></div><script>${SCRIPT}</script></body></html>\n`
  );
}
