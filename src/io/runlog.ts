/** The records of a run directory (docs/DOCTOR.md, README): one `MetricsRecord` per logged step, and the summary. */
import type { BriefFinding, Finding, Verdict } from '../doctor/findings.js';
import type { HistogramRecord } from '../monitor/histogram.js';

export interface ParamRecord {
  name: string;
  layer: number;
  role?: 'weight' | 'bias' | 'norm' | 'other';
  gradNorm: number;
  weightNorm: number;
  updateRatio: number;
  maxAbsGrad: number;
  nonFinite: number;
}

export interface ActivationRecord {
  name: string;
  layer: number;
  mean: number;
  std: number;
  saturated: number;
  dead: number;
  /** Conv layers (NCHW outputs): per channel the fraction of its entries dead / saturated (`dead` and `saturated`
   * are then fractions of channels dead or saturated at every example and position). */
  channelDead?: number[];
  channelSaturated?: number[];
}

/**
 * A residual block on a logged step: the mean squares of its shortcut and of its scaled branch at the sum, and their
 * ratio (monitor/stats `branchShortcutRatio`).
 */
export interface ResidualRecord {
  name: string;
  layer: number;
  shortcut: number;
  branch: number;
  ratio: number;
}

/**
 * What an attention model measured on a logged step: each block's per-head mean attention entropy in nats (Zhai et
 * al. 2023: a collapse towards 0 precedes instability) and the mean cosine similarity of its output token
 * representations within a sequence (Noci et al. 2022: rank collapse drives it towards 1).
 */
export interface AttentionRecord {
  entropy: number[][];
  tokenSimilarity: number[];
  /**
   * ||dL/dx_l|| of each block's output x_l, the residual stream (Xiong et al. 2020: grows towards the output for
   * Post-LN at initialisation, even for Pre-LN); absent in logs written before it was recorded.
   */
  streamGrad?: number[];
}

export interface MetricsRecord {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  gradNormClipped: number;
  clipped: boolean;
  skipped: boolean;
  params: ParamRecord[];
  activations: ActivationRecord[];
  /** Recurrent models: ||dL/dh_t|| of the top recurrent layer, t = 1..T in time order. */
  timeGrad?: number[];
  /**
   * Recurrent models: the fitted per-step factor ||dL/dh_{t-1}|| / ||dL/dh_t|| of `timeGrad` (geometric fit);
   * below 1 the gradient vanishes going back in time, above 1 it explodes.
   */
  timeGradFactor?: number;
  /** Stacked recurrent models: the same for every recurrent layer, input side first. */
  timeGradByLayer?: number[][];
  /** Models with residual blocks: one record per block, input side first. */
  residual?: ResidualRecord[];
  /** Attention models (nn/transformer): per block, input side first, what `AttentionRecord` says. */
  attention?: AttentionRecord;
  /**
   * On the logged steps `monitor.histograms` selects: per weight tensor, input side first, the histogram of its
   * values and of its gradient (monitor/histogram). Absent elsewhere and in logs written before the field.
   */
  histograms?: HistogramRecord[];
  /** The doctor's online findings at this step, in brief (summary.json carries the full ones). */
  findings: BriefFinding[];
  /** Set on the step where the guard acted: what was non-finite first. */
  nonFiniteSource?: string;
  /** Set when the guard (rollback mode) restored the last good weights and optimiser state at this step. */
  rolledBack?: boolean;
}

export interface Summary {
  name: string;
  steps: number;
  wallSeconds: number;
  stepsPerSecond: number;
  finalLoss: number;
  bestLoss: number;
  eval: { loss: number; accuracy?: number };
  baseline: { loss: number; accuracy?: number; description: string };
  skippedSteps: number;
  clippedSteps: number;
  rolledBackSteps: number;
  /**
   * false: every step ran; true: the guard in `stop` mode ended the run; "guard_stuck": the skip/rollback guard
   * met `train.guardPatience` non-finite steps in a row; "interrupted": SIGINT/SIGTERM at a step boundary.
   */
  stoppedEarly: boolean | 'interrupted' | 'guard_stuck';
  /** The first step with a non-finite loss or gradient, and where it appeared first (any guard mode). */
  firstNonFinite: { step: number; source: string } | null;
  verdict?: Verdict;
  findings: Finding[];
  /** What must not pass silently: a non-finite final loss, a guard that gave up. */
  warnings?: string[];
}
