/**
 * TensorBoard logs as metrics records, so the doctor can diagnose runs from any framework that writes event
 * files. Each tag is matched against one table of patterns (`TAG_RULES`): every pattern names the role the tag
 * plays (the loss, the learning rate, a parameter's gradient or weights, a layer's activations) and the writer
 * whose layout it comes from. The layouts read:
 *
 * - gradscope: `loss`, `lr`, `grad_norm/global`, `grad_norm/<param>`, `weight_norm/<param>`,
 *   `update_ratio/<param>`, `saturated/<layer>`, `dead/<layer>`, histograms `grad/<param>`, `activation/<layer>`;
 * - PyTorch `SummaryWriter` scripts: `Loss/train`, `training loss`, `grad_norm/<param>`, histograms `<param>`
 *   (`0.weight`) and `<param>.grad`; Lightning's `train_loss`, `lr-SGD`, `grad_2.0_norm/<param>`;
 * - Keras's TensorBoard callback: `loss` / `epoch_loss`, `epoch_learning_rate`, histograms `<layer>/kernel_0`,
 *   `<layer>/kernel_0_grad` (`write_grads`), `<layer>_out`, and TF2's `<layer>/kernel_0/histogram`;
 * - tfjs-node's `tf.node.tensorBoard`: `batch_loss`, `epoch_loss`, weight histograms `<layer>/kernel`.
 *
 * A parameter's layer is its name less the last component (`layers.3.weight` and `layers.3.bias` share one,
 * as do `dense_1/kernel_0` and `dense_1/bias_0`), numbered in the order the writer logged them (numbered names
 * sorted naturally). `--tags role=pattern` adds patterns tried before the table's. What a log does not hold
 * stays NaN, and the rules skip NaN.
 */
import type { ActivationRecord, ParamRecord } from '../io/runlog.js';
import type { HistogramData, ParsedEvent } from '../io/tfevents.js';
import { GradscopeError, showValue } from '../util/errors.js';
import type { LoggedRecord } from './stats.js';

/** What a tag holds. Per-parameter and per-layer roles capture the parameter or layer name. */
export const TAG_ROLES = [
  'loss',
  'lr',
  'grad-norm',
  'grad',
  'weight',
  'update-ratio',
  'activation',
  'saturated',
  'dead',
] as const;
export type TagRole = (typeof TAG_ROLES)[number];

/** One pattern of the table: a tag matching `pattern` plays `role`; group 1 (if any) names the parameter. */
export interface TagRule {
  readonly role: TagRole;
  readonly pattern: RegExp;
  /** Whose layout this is (shown in the "read as" note). */
  readonly layout: string;
}

const NAMED_ROLES: ReadonlySet<TagRole> = new Set([
  'grad',
  'weight',
  'update-ratio',
  'activation',
  'saturated',
  'dead',
]);

/** A weight tensor's last name component, in the spellings of PyTorch, Keras and tfjs. */
const WEIGHT_LEAF =
  '(?:weight|bias|weight_ih_l\\d+|weight_hh_l\\d+|bias_ih_l\\d+|bias_hh_l\\d+|kernel|recurrent_kernel|gamma|beta|embeddings)(?:_\\d+)?';

/** The patterns, tried in order (the first that matches wins): gradient spellings before weight spellings. */
export const TAG_RULES: readonly TagRule[] = [
  { role: 'loss', pattern: /^loss$/i, layout: 'gradscope, Keras (TF1)' },
  { role: 'loss', pattern: /^(?:train|training)[/_. ]loss(?:_step)?$/i, layout: 'PyTorch, Lightning' },
  { role: 'loss', pattern: /^loss[/_.](?:train|training)$/i, layout: 'PyTorch' },
  { role: 'loss', pattern: /^batch_loss$/i, layout: 'Keras, tfjs-node' },
  { role: 'loss', pattern: /^epoch_loss$/i, layout: 'Keras, tfjs-node' },
  { role: 'lr', pattern: /^(?:lr|learning_rate|learning-rate)$/i, layout: 'gradscope, PyTorch' },
  { role: 'lr', pattern: /^(?:train|optim|optimizer)[/_.](?:lr|learning_rate)$/i, layout: 'PyTorch' },
  { role: 'lr', pattern: /^(?:epoch|batch)_(?:lr|learning_rate)$/i, layout: 'Keras' },
  { role: 'lr', pattern: /^lr[-/_.]/i, layout: 'Lightning' },
  { role: 'grad-norm', pattern: /^grad_norm[/_.](?:global|total)$/i, layout: 'gradscope' },
  {
    role: 'grad-norm',
    pattern: /^(?:grad_norm|gradient_norm|global_grad_norm|grad-norm|grad_2\.0_norm_total)$/i,
    layout: 'PyTorch, Lightning',
  },
  { role: 'grad-norm', pattern: /^(?:train|optim)[/_.]grad_norm$/i, layout: 'PyTorch' },
  { role: 'grad', pattern: /^grad_2\.0_norm[/_](.+)$/i, layout: 'Lightning' },
  {
    role: 'grad',
    pattern: /^(?:grad|grads|gradient|gradients|grad_norm|gradient_norm)[/.](.+)$/i,
    layout: 'gradscope, PyTorch',
  },
  { role: 'grad', pattern: /^(.+?)[/._](?:grad|gradient|grads)$/i, layout: 'PyTorch, Keras write_grads' },
  {
    role: 'weight',
    pattern: /^(?:weight_norm|weights_norm|param_norm)[/.](.+)$/i,
    layout: 'gradscope',
  },
  { role: 'update-ratio', pattern: /^(?:update_ratio|update_weight_ratio)[/.](.+)$/i, layout: 'gradscope' },
  { role: 'activation', pattern: /^(?:activation|activations|act)[/.](.+)$/i, layout: 'gradscope' },
  { role: 'saturated', pattern: /^saturated\/(.+)$/i, layout: 'gradscope' },
  { role: 'dead', pattern: /^dead\/(.+)$/i, layout: 'gradscope' },
  { role: 'weight', pattern: new RegExp(`^(.+[/.]${WEIGHT_LEAF})/histogram$`, 'i'), layout: 'Keras (TF2)' },
  { role: 'weight', pattern: new RegExp(`^(.*${WEIGHT_LEAF})$`, 'i'), layout: 'PyTorch, Keras, tfjs-node' },
  { role: 'activation', pattern: /^(.+)_out$/i, layout: 'Keras (TF1)' },
];

/** A `--tags` entry that cannot be read; the CLI prints the message and exits 2. */
function globToRegExp(glob: string): RegExp {
  let source = '';
  let captured = false;
  for (const ch of glob) {
    if (ch === '*') {
      source += captured ? '.*' : '(.+)';
      captured = true;
    } else source += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Rules from `--tags` entries, each `role=pattern` (several may share one entry, comma-separated). A pattern is
 * the tag itself, with `*` standing for the parameter or layer name; `/regex/` is taken as a regular expression
 * whose group 1 is the name.
 *
 * @example
 * parseTagRules(['loss=objective', 'grad=net/*\/gradient_l2']);
 */
export function parseTagRules(specs: readonly string[]): TagRule[] {
  const rules: TagRule[] = [];
  for (const spec of specs.flatMap((s) => s.split(','))) {
    const entry = spec.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const role = (eq > 0 ? entry.slice(0, eq) : '').trim() as TagRole;
    const pattern = eq > 0 ? entry.slice(eq + 1).trim() : '';
    if (!TAG_ROLES.includes(role) || pattern === '') {
      throw new GradscopeError({
        code: 'invalid_value',
        path: '--tags',
        value: entry,
        accepted: `ROLE=PATTERN with ROLE one of ${TAG_ROLES.join(', ')} and PATTERN a tag with * for the parameter or layer name (e.g. --tags 'grad=net/*/gradient_l2'), or /regex/`,
      });
    }
    let regex: RegExp;
    if (pattern.length > 2 && pattern.startsWith('/') && pattern.endsWith('/')) {
      try {
        regex = new RegExp(pattern.slice(1, -1));
      } catch (error) {
        throw new GradscopeError({
          code: 'invalid_value',
          path: '--tags',
          value: entry,
          problem: `${showValue(entry)} is not a regular expression (${(error as Error).message})`,
          accepted: 'a JavaScript regular expression between slashes, or a tag with *',
        });
      }
    } else regex = globToRegExp(pattern);
    if (NAMED_ROLES.has(role) && !pattern.includes('*') && !pattern.includes('(')) {
      throw new GradscopeError({
        code: 'invalid_value',
        path: '--tags',
        value: entry,
        problem: `${showValue(entry)}: a ${role} pattern needs * where the parameter or layer name goes`,
        hint: `e.g. ${role}=${pattern}/*`,
      });
    }
    rules.push({ role, pattern: regex, layout: '--tags' });
  }
  return rules;
}

interface ParamAccumulator {
  gradNorm: number;
  weightNorm: number;
  updateRatio: number;
  maxAbsGrad: number;
}

interface ActivationAccumulator {
  mean: number;
  std: number;
  saturated: number;
  dead: number;
}

interface StepAccumulator {
  losses: Map<string, number>;
  lr: number;
  gradNorm: number;
  params: Map<string, ParamAccumulator>;
  activations: Map<string, ActivationAccumulator>;
}

function step(acc: Map<number, StepAccumulator>, s: number): StepAccumulator {
  let entry = acc.get(s);
  if (!entry) {
    entry = { losses: new Map(), lr: NaN, gradNorm: NaN, params: new Map(), activations: new Map() };
    acc.set(s, entry);
  }
  return entry;
}

function param(entry: StepAccumulator, name: string): ParamAccumulator {
  let p = entry.params.get(name);
  if (!p) {
    p = { gradNorm: NaN, weightNorm: NaN, updateRatio: NaN, maxAbsGrad: NaN };
    entry.params.set(name, p);
  }
  return p;
}

function activation(entry: StepAccumulator, name: string): ActivationAccumulator {
  let a = entry.activations.get(name);
  if (!a) {
    a = { mean: NaN, std: NaN, saturated: NaN, dead: NaN };
    entry.activations.set(name, a);
  }
  return a;
}

function histogramMoments(h: HistogramData): { mean: number; std: number; norm: number; maxAbs: number } {
  if (h.num <= 0) return { mean: NaN, std: NaN, norm: NaN, maxAbs: NaN };
  const mean = h.sum / h.num;
  return {
    mean,
    std: Math.sqrt(Math.max(0, h.sumSquares / h.num - mean * mean)),
    norm: Math.sqrt(Math.max(0, h.sumSquares)),
    maxAbs: Math.max(Math.abs(h.min), Math.abs(h.max)),
  };
}

/** Natural order: `layers.2` before `layers.10`. */
function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** A parameter's layer: its name less the last `.` or `/` component (Keras's `_0` suffix goes with it). */
function prefixOf(name: string): string {
  const cut = Math.max(name.lastIndexOf('.'), name.lastIndexOf('/'));
  return cut > 0 ? name.slice(0, cut) : name;
}

/** Layer prefixes in layer order: numbered ones sorted naturally, otherwise in the order the writer used. */
function layerPrefixes(names: readonly string[]): string[] {
  const prefixes: string[] = [];
  for (const name of names) {
    const prefix = prefixOf(name);
    if (!prefixes.includes(prefix)) prefixes.push(prefix);
  }
  if (prefixes.every((p) => /\d/.test(p))) prefixes.sort(naturalCompare);
  return prefixes;
}

export interface EventMapping {
  records: LoggedRecord[];
  /** Tags that mapped onto something, and those that did not (for the "nothing readable" message). */
  used: string[];
  ignored: string[];
  /** The loss series read (one per log), or null; other loss-like series are listed in `ignored`. */
  lossTag: string | null;
  /** Parameters with gradient statistics, the layers they make, and whether any weights were read. */
  parameters: number;
  layers: number;
  /** Tags read per role, for the "read as" note. */
  roles: Partial<Record<TagRole, number>>;
}

export interface EventMappingOptions {
  /** Rules tried before `TAG_RULES` (from `--tags`, see `parseTagRules`). */
  readonly rules?: readonly TagRule[];
}

/**
 * Metrics records from decoded TensorBoard events, one per step that has a loss or any gradient statistic,
 * in step order.
 *
 * @example
 * const { records } = eventsToRecords(readEvents('runs/x/events.out.tfevents.1700000000.host').events);
 */
export function eventsToRecords(
  events: readonly ParsedEvent[],
  options: EventMappingOptions = {},
): EventMapping {
  const rules = [...(options.rules ?? []), ...TAG_RULES];
  const ruleOf = new Map<string, TagRule | null>();
  const match = (tag: string): { rule: TagRule; name: string } | null => {
    let rule = ruleOf.get(tag);
    if (rule === undefined) {
      rule = rules.find((r) => r.pattern.test(tag)) ?? null;
      ruleOf.set(tag, rule);
    }
    if (rule === null) return null;
    const m = rule.pattern.exec(tag) as RegExpExecArray;
    return { rule, name: m[1] ?? tag };
  };
  const acc = new Map<number, StepAccumulator>();
  const used = new Set<string>();
  const ignored = new Set<string>();
  const roles: Partial<Record<TagRole, number>> = {};
  const lossTags: string[] = [];
  const paramOrder: string[] = [];
  const seeParam = (name: string): void => {
    if (!paramOrder.includes(name)) paramOrder.push(name);
  };
  for (const event of events) {
    for (const value of event.values) {
      const tag = value.tag;
      const found = value.kind === 'other' ? null : match(tag);
      if (found === null || value.kind === 'other') {
        ignored.add(tag);
        continue;
      }
      const { rule, name } = found;
      const entry = step(acc, event.step);
      if (value.kind === 'scalar') {
        const v = value.value;
        if (rule.role === 'loss') {
          entry.losses.set(tag, v);
          if (!lossTags.includes(tag)) lossTags.push(tag);
        } else if (rule.role === 'lr') entry.lr = v;
        else if (rule.role === 'grad-norm') entry.gradNorm = v;
        else if (rule.role === 'grad') {
          seeParam(name);
          param(entry, name).gradNorm = v;
        } else if (rule.role === 'weight') {
          seeParam(name);
          param(entry, name).weightNorm = v;
        } else if (rule.role === 'update-ratio') {
          seeParam(name);
          param(entry, name).updateRatio = v;
        } else if (rule.role === 'saturated') activation(entry, name).saturated = v;
        else if (rule.role === 'dead') activation(entry, name).dead = v;
        else {
          ignored.add(tag);
          continue;
        }
      } else {
        const moments = histogramMoments(value.histogram);
        if (rule.role === 'grad') {
          seeParam(name);
          const p = param(entry, name);
          if (Number.isNaN(p.gradNorm)) p.gradNorm = moments.norm;
          p.maxAbsGrad = moments.maxAbs;
        } else if (rule.role === 'weight') {
          seeParam(name);
          const p = param(entry, name);
          if (Number.isNaN(p.weightNorm)) p.weightNorm = moments.norm;
        } else if (rule.role === 'activation') {
          const a = activation(entry, name);
          a.mean = moments.mean;
          a.std = moments.std;
        } else {
          ignored.add(tag);
          continue;
        }
      }
      if (!used.has(tag)) roles[rule.role] = (roles[rule.role] ?? 0) + 1;
      used.add(tag);
    }
  }

  const withGrad = paramOrder.filter((name) =>
    [...acc.values()].some((e) => !Number.isNaN(e.params.get(name)?.gradNorm ?? NaN)),
  );
  // One loss series per log: Keras and tfjs-node write batch_loss (step = batch) beside epoch_loss (step =
  // epoch), and mixing the two would put two clocks on one axis. The epoch series goes with per-parameter
  // statistics (written per epoch), the batch series otherwise; a --tags loss pattern beats both.
  const lossTag =
    lossTags.find((t) => ruleOf.get(t)?.layout === '--tags') ??
    (withGrad.length > 0 ? lossTags.find((t) => /^epoch_loss$/i.test(t)) : undefined) ??
    lossTags[0] ??
    null;
  for (const t of lossTags) {
    if (t === lossTag) continue;
    used.delete(t);
    ignored.add(t);
    roles.loss = (roles.loss ?? 1) - 1;
  }

  const prefixes = layerPrefixes(withGrad);
  const layerOf = (name: string): number => prefixes.indexOf(prefixOf(name));
  const activationNames = [...new Set([...acc.values()].flatMap((e) => [...e.activations.keys()]))];
  // An activation named like a parameter's layer (Keras's dense_1_out beside dense_1/kernel_0) is that layer's.
  const ownActivationLayers = layerPrefixes(
    activationNames.filter((n) => !prefixes.includes(n)).map((n) => `${n}.out`),
  );
  const activationLayer = (name: string): number =>
    prefixes.includes(name) ? prefixes.indexOf(name) : ownActivationLayers.indexOf(name);

  const records: LoggedRecord[] = [];
  for (const [s, entry] of [...acc.entries()].sort((a, b) => a[0] - b[0])) {
    const loss = lossTag !== null ? (entry.losses.get(lossTag) ?? NaN) : NaN;
    const params: ParamRecord[] = withGrad
      .filter((name) => !Number.isNaN(entry.params.get(name)?.gradNorm ?? NaN))
      .map((name) => {
        const p = entry.params.get(name) as ParamAccumulator;
        return {
          name,
          layer: layerOf(name),
          gradNorm: p.gradNorm,
          weightNorm: p.weightNorm,
          updateRatio: p.updateRatio,
          // Without a histogram the largest entry is unknown; the gradient norm bounds it from above.
          maxAbsGrad: Number.isNaN(p.maxAbsGrad) ? p.gradNorm : p.maxAbsGrad,
          nonFinite: Number.isFinite(p.gradNorm) ? 0 : 1,
        };
      })
      .sort((a, b) => a.layer - b.layer);
    if (
      Number.isNaN(loss) &&
      params.length === 0 &&
      Number.isNaN(entry.gradNorm) &&
      entry.activations.size === 0
    )
      continue;
    const gradNorm =
      Number.isNaN(entry.gradNorm) && params.length > 0
        ? Math.sqrt(params.reduce((sum, p) => sum + p.gradNorm * p.gradNorm, 0))
        : entry.gradNorm;
    const absent: Array<'loss' | 'gradNorm'> = [];
    if (Number.isNaN(loss)) absent.push('loss');
    if (Number.isNaN(gradNorm) && params.length === 0) absent.push('gradNorm');
    const activations: ActivationRecord[] = [...entry.activations.entries()]
      .map(([name, a]) => ({ name, layer: activationLayer(name), ...a }))
      .sort((a, b) => a.layer - b.layer);
    records.push({
      step: s,
      loss,
      lr: entry.lr,
      gradNorm,
      gradNormClipped: gradNorm,
      clipped: false,
      skipped: false,
      params,
      activations,
      findings: [],
      ...(absent.length > 0 ? { absent } : {}),
    });
  }
  return {
    records,
    used: [...used],
    ignored: [...ignored],
    lossTag,
    parameters: withGrad.length,
    layers: prefixes.length,
    roles,
  };
}

/** Subdirectories whose event files hold evaluation, not training (Keras `validation/`, tfjs-node `val/`). */
const EVALUATION_DIR = /^(?:val|valid|validation|eval|evaluation|test)$/i;

/**
 * The event files of a log directory that hold the training: those under a `validation`/`val`/`eval`/`test`
 * subdirectory are set aside (their `epoch_loss` is not the training loss) unless nothing else is there.
 */
export function trainingEventFiles<T extends { readonly path: string }>(
  root: string,
  files: readonly T[],
): { training: T[]; evaluation: T[] } {
  const isEvaluation = (path: string): boolean => {
    const relative = path.startsWith(root) ? path.slice(root.length) : path;
    const dirs = relative.split(/[/\\]/).filter((s) => s !== '');
    return dirs.slice(0, -1).some((d) => EVALUATION_DIR.test(d));
  };
  const evaluation = files.filter((f) => isEvaluation(f.path));
  const training = files.filter((f) => !isEvaluation(f.path));
  return training.length > 0 ? { training, evaluation } : { training: [...files], evaluation: [] };
}

/** The pattern `first/<any>/last` (as `first/` + `*` + `/last`) most of `tags` share (two or more), or null. */
function commonPattern(tags: readonly string[]): { pattern: string; count: number } | null {
  const groups = new Map<string, number>();
  for (const tag of tags) {
    const parts = tag.split('/');
    if (parts.length < 3) continue;
    const key = `${parts[0] as string}/*/${parts[parts.length - 1] as string}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  let best: { pattern: string; count: number } | null = null;
  for (const [pattern, count] of groups)
    if (count > 1 && (!best || count > best.count)) best = { pattern, count };
  return best;
}

/**
 * Why nothing in a log maps, and what `--tags` would say: the tags found, by kind, and a guess from them
 * (a lone scalar as the loss, tags sharing a prefix and a suffix as per-parameter gradients).
 */
export function unmappedReport(events: readonly ParsedEvent[]): string {
  const scalars = new Set<string>();
  const histograms = new Set<string>();
  for (const e of events)
    for (const v of e.values) {
      if (v.kind === 'scalar') scalars.add(v.tag);
      else if (v.kind === 'histogram') histograms.add(v.tag);
    }
  if (scalars.size === 0 && histograms.size === 0) return 'found no scalar or histogram';
  const list = (tags: Set<string>): string => {
    const all = [...tags];
    return `${all.slice(0, 6).join(', ')}${all.length > 6 ? ` and ${all.length - 6} more` : ''}`;
  };
  const found = [
    scalars.size > 0 ? `scalars ${list(scalars)}` : '',
    histograms.size > 0 ? `histograms ${list(histograms)}` : '',
  ]
    .filter((s) => s !== '')
    .join('; ');
  const grouped = commonPattern([...scalars, ...histograms]);
  const inGroup = (tag: string): boolean => {
    if (!grouped) return false;
    const [head, tail] = grouped.pattern.split('*') as [string, string];
    return tag.startsWith(head) && tag.endsWith(tail) && tag.length > head.length + tail.length;
  };
  const lone = [...scalars].find((t) => !inGroup(t));
  const example = [
    lone !== undefined ? `--tags 'loss=${lone}'` : '',
    grouped ? `--tags 'grad=${grouped.pattern}'` : '',
  ]
    .filter((s) => s !== '')
    .join(' ');
  return `found ${found}; none is a loss or a gradient in the layouts the doctor knows (gradscope, PyTorch SummaryWriter, Keras, tfjs-node: loss, Loss/train, epoch_loss, grad_norm/<param>, histograms <param>.grad or <layer>/kernel_0_grad). Say which tags are which with --tags ROLE=PATTERN${example ? `, e.g. ${example}` : ''} (roles: ${TAG_ROLES.join(', ')}; * stands for the parameter or layer name)`;
}
