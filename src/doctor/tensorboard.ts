/**
 * TensorBoard logs as metrics records, so the doctor can diagnose runs from any framework that writes event
 * files. gradscope's own tags map one to one (`loss`, `lr`, `grad_norm/global`, `grad_norm/<param>`,
 * `weight_norm/<param>`, `update_ratio/<param>`, histograms `grad/<param>` and `activation/<layer>`); common
 * spellings from PyTorch and Keras scripts are accepted too (`train/loss`, `Loss/train`, `gradients/<param>`,
 * `<param>/grad`, `<param>.grad`). What a log does not hold stays NaN, and the rules skip NaN.
 */
import type { ActivationRecord, ParamRecord } from '../io/runlog.js';
import type { HistogramData, ParsedEvent } from '../io/tfevents.js';
import type { LoggedRecord } from './stats.js';

interface ParamAccumulator {
  gradNorm: number;
  weightNorm: number;
  updateRatio: number;
  maxAbsGrad: number;
}

interface StepAccumulator {
  loss: number;
  lr: number;
  gradNorm: number;
  params: Map<string, ParamAccumulator>;
  activations: Map<string, { mean: number; std: number }>;
}

const LOSS_TAGS = [
  /^loss$/i,
  /^(train|training)[/_.]loss$/i,
  /^loss[/_.](train|training)$/i,
  /^(epoch_)?loss$/i,
];
const LR_TAGS = [
  /^(lr|learning_rate|learning-rate)$/i,
  /^(train|optim|optimizer)[/_.](lr|learning_rate)$/i,
  /^lr[/_.]/i,
];
const GLOBAL_NORM_TAGS = [
  /^grad_norm[/_.](global|total)$/i,
  /^(grad_norm|gradient_norm|global_grad_norm|grad-norm)$/i,
  /^(train|optim)[/_.]grad_norm$/i,
];

/** `grad/<p>`, `grad_norm/<p>`, `gradients/<p>`, `<p>/grad`, `<p>.grad`, `<p>_grad`: the parameter name, or null. */
function paramOfGradTag(tag: string): string | null {
  const prefix = /^(grad|grads|gradient|gradients|grad_norm|gradient_norm)[/.](.+)$/i.exec(tag);
  if (prefix) return prefix[2] as string;
  const suffix = /^(.+?)[/._](grad|gradient|grads)$/i.exec(tag);
  if (suffix) return suffix[1] as string;
  return null;
}

function step(acc: Map<number, StepAccumulator>, s: number): StepAccumulator {
  let entry = acc.get(s);
  if (!entry) {
    entry = { loss: NaN, lr: NaN, gradNorm: NaN, params: new Map(), activations: new Map() };
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

/** The layer owning each parameter: parameters sharing a prefix (`layers.3.weight`, `layers.3.bias`) share a layer. */
function layerIndex(names: readonly string[]): Map<string, number> {
  const prefixOf = (name: string): string => {
    const cut = Math.max(name.lastIndexOf('.'), name.lastIndexOf('/'));
    return cut > 0 ? name.slice(0, cut) : name;
  };
  const prefixes: string[] = [];
  for (const name of names) {
    const prefix = prefixOf(name);
    if (!prefixes.includes(prefix)) prefixes.push(prefix);
  }
  // Numbered prefixes (`layers.10`, `fc2`) sort naturally; otherwise keep the order the writer used (input first).
  if (prefixes.every((p) => /\d/.test(p))) prefixes.sort(naturalCompare);
  const index = new Map<string, number>();
  for (const name of names) index.set(name, prefixes.indexOf(prefixOf(name)));
  return index;
}

export interface EventMapping {
  records: LoggedRecord[];
  /** Tags that mapped onto something, and those that did not (for the "nothing readable" message). */
  used: string[];
  ignored: string[];
}

/**
 * Metrics records from decoded TensorBoard events, one per step that has a loss or any gradient statistic,
 * in step order.
 *
 * @example
 * const { records } = eventsToRecords(readEvents('runs/x/events.out.tfevents.1700000000.host').events);
 */
export function eventsToRecords(events: readonly ParsedEvent[]): EventMapping {
  const acc = new Map<number, StepAccumulator>();
  const used = new Set<string>();
  const ignored = new Set<string>();
  const paramOrder: string[] = [];
  const seeParam = (name: string): void => {
    if (!paramOrder.includes(name)) paramOrder.push(name);
  };
  for (const event of events) {
    for (const value of event.values) {
      const tag = value.tag;
      if (value.kind === 'scalar') {
        const entry = step(acc, event.step);
        let m: RegExpExecArray | null;
        if (LOSS_TAGS.some((re) => re.test(tag))) entry.loss = value.value;
        else if (LR_TAGS.some((re) => re.test(tag))) entry.lr = value.value;
        else if (GLOBAL_NORM_TAGS.some((re) => re.test(tag))) entry.gradNorm = value.value;
        else if ((m = /^(weight_norm|weights_norm|param_norm)[/.](.+)$/i.exec(tag))) {
          seeParam(m[2] as string);
          param(entry, m[2] as string).weightNorm = value.value;
        } else if ((m = /^(update_ratio|update_weight_ratio)[/.](.+)$/i.exec(tag))) {
          seeParam(m[2] as string);
          param(entry, m[2] as string).updateRatio = value.value;
        } else {
          const name = paramOfGradTag(tag);
          if (name === null) {
            ignored.add(tag);
            continue;
          }
          seeParam(name);
          param(entry, name).gradNorm = value.value;
        }
        used.add(tag);
      } else if (value.kind === 'histogram') {
        const entry = step(acc, event.step);
        const moments = histogramMoments(value.histogram);
        const act = /^(activation|activations|act)[/.](.+)$/i.exec(tag);
        if (act) {
          entry.activations.set(act[2] as string, { mean: moments.mean, std: moments.std });
          used.add(tag);
          continue;
        }
        const name = paramOfGradTag(tag);
        if (name === null) {
          ignored.add(tag);
          continue;
        }
        seeParam(name);
        const p = param(entry, name);
        if (Number.isNaN(p.gradNorm)) p.gradNorm = moments.norm;
        p.maxAbsGrad = moments.maxAbs;
        used.add(tag);
      } else {
        ignored.add(tag);
      }
    }
  }
  const layers = layerIndex(paramOrder);
  const records: LoggedRecord[] = [];
  for (const [s, entry] of [...acc.entries()].sort((a, b) => a[0] - b[0])) {
    if (
      Number.isNaN(entry.loss) &&
      entry.params.size === 0 &&
      Number.isNaN(entry.gradNorm) &&
      entry.activations.size === 0
    )
      continue;
    const params: ParamRecord[] = paramOrder
      .filter(
        (name) =>
          entry.params.has(name) && !Number.isNaN((entry.params.get(name) as ParamAccumulator).gradNorm),
      )
      .map((name) => {
        const p = entry.params.get(name) as ParamAccumulator;
        return {
          name,
          layer: layers.get(name) ?? 0,
          gradNorm: p.gradNorm,
          weightNorm: p.weightNorm,
          updateRatio: p.updateRatio,
          // Without a histogram the largest entry is unknown; the gradient norm bounds it from above.
          maxAbsGrad: Number.isNaN(p.maxAbsGrad) ? p.gradNorm : p.maxAbsGrad,
          nonFinite: Number.isFinite(p.gradNorm) ? 0 : 1,
        };
      })
      .sort((a, b) => a.layer - b.layer);
    const gradNorm =
      Number.isNaN(entry.gradNorm) && params.length > 0
        ? Math.sqrt(params.reduce((sum, p) => sum + p.gradNorm * p.gradNorm, 0))
        : entry.gradNorm;
    const absent: Array<'loss' | 'gradNorm'> = [];
    if (Number.isNaN(entry.loss)) absent.push('loss');
    if (Number.isNaN(gradNorm) && params.length === 0) absent.push('gradNorm');
    const activationNames = [...entry.activations.keys()];
    const actLayers = layerIndex(activationNames.map((n) => `${n}.out`));
    const activations: ActivationRecord[] = activationNames.map((name) => {
      const a = entry.activations.get(name) as { mean: number; std: number };
      return {
        name,
        layer: actLayers.get(`${name}.out`) ?? 0,
        mean: a.mean,
        std: a.std,
        saturated: NaN,
        dead: NaN,
      };
    });
    activations.sort((a, b) => a.layer - b.layer);
    records.push({
      step: s,
      loss: entry.loss,
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
  return { records, used: [...used], ignored: [...ignored] };
}
