/**
 * Character-level language modelling (as in Karpathy's char-rnn; Sutskever et al. 2011): predict each next character
 * of a text. The corpus is the bundled opening of Shakespeare's Coriolanus (public domain; `data/README.md`) or a
 * text of the user's own. The vocabulary is the text's distinct characters in code-point order.
 *
 * The first 90% of the text trains, the last 10% evaluates. A training example is a window of `length` + 1
 * characters at a uniformly drawn offset: inputs are its first `length` characters one-hot (time-major
 * [T, batch, vocab]), targets the `length` characters one step later, every step scored.
 *
 * Baseline: the unigram model, p(c) = (count_train(c) + 1) / (N_train + V) (add-one smoothing, so a character the
 * training part lacks still has a finite loss), scored by cross-entropy on the evaluation targets; a model must
 * beat it to have learnt anything about context.
 *
 * @example
 * const task = createCharLmTask({ length: 64 }, 0);
 * task.trainBatch(16, new Rng(0).fork('data')).x.shape; // [64, 16, 59]
 */
import type { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { checkBatchSize } from './batch.js';
import { SHAKESPEARE_CORIOLANUS } from './corpus-text.js';
import { TaskConfigError } from './errors.js';
import { nodeFiles, readUserFile } from './user-file.js';
import type { Baseline, Batch, LossKind, SequenceSpec, Task } from './task.js';

export interface CharLmOptions {
  /** Characters of context per example (the sequence length T). */
  length: number;
  /** The corpus; default the bundled Shakespeare excerpt. */
  text?: string;
  /** `task.path`: a UTF-8 file of the user's own to read the corpus from (Node only; see `readCorpus`). */
  path?: string | undefined;
  /** The file `text` was read from, so a refusal names `task.path` and the file rather than `task.text`. */
  textFile?: string;
}

/** The largest corpus file `task.path` reads; the text is held in memory as one id per character. */
export const CHAR_LM_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The text of `task.path`, a UTF-8 file of the user's own (relative to the working directory). Node's file system
 * is fetched at run time, as the csv task does, so this module still loads in a browser, where only `path` is
 * unavailable. An unreadable or too large file is a `TaskConfigError` naming task.path; an empty one is refused
 * by the task itself (its length check), naming task.path and the file too.
 *
 * @example createCharLmTask({ length: 32, path: 'poems.txt' })
 */
export function readCorpus(path: string): string {
  const { fs } = nodeFiles({
    path: 'task.path',
    value: path,
    problem: 'a char-lm reads task.path from disk, which needs Node (20.16 or newer)',
    hint: 'in a browser omit task.path for the bundled Shakespeare',
  });
  return readUserFile(fs, {
    path,
    file: path,
    maxBytes: CHAR_LM_MAX_BYTES,
    unreadable: {
      accepted: 'the path of a readable UTF-8 text file (a relative path is read from the working directory)',
      hint: 'or omit task.path for the bundled corpus',
    },
    tooLarge: {
      accepted: `a file of at most ${CHAR_LM_MAX_BYTES / (1024 * 1024)} MB`,
      hint: 'use an excerpt',
    },
  });
}

/** The share of the text held out for evaluation (its end). */
export const CHAR_LM_EVAL_SHARE = 0.1;
/** At most this many evaluation windows (non-overlapping, from the start of the held-out part). */
export const CHAR_LM_EVAL_WINDOWS = 64;

export class CharLmTask implements Task {
  readonly name = 'char-lm';
  readonly loss: LossKind = 'cross-entropy';
  readonly inputSize: number;
  readonly outputSize: number;
  readonly tokens = true;
  readonly sequence: SequenceSpec;
  readonly baseline: Baseline;
  /** The distinct characters; id i is `vocabulary[i]`. */
  readonly vocabulary: readonly string[];
  private readonly ids: Int32Array;
  private readonly trainEnd: number;
  private cachedEval: Batch | null = null;

  constructor(options: CharLmOptions) {
    const text = options.text ?? SHAKESPEARE_CORIOLANUS;
    const T = options.length;
    const chars = Array.from(text);
    const needed = Math.ceil((T + 1) / CHAR_LM_EVAL_SHARE);
    if (chars.length < needed) {
      const file = options.textFile;
      const field = file === undefined ? 'task.text' : 'task.path';
      throw new TaskConfigError({
        code: 'invalid_value',
        path: field,
        value: file ?? (chars.length === 0 ? '' : `${chars.slice(0, 20).join('')}…`),
        accepted: `at least ${needed} characters`,
        problem:
          `${file === undefined ? '' : `${JSON.stringify(file)} `}${chars.length === 0 ? 'is empty' : `has ${chars.length} characters`}; a char-lm with task.length ${T} needs ` +
          `at least ${needed} (the last 10% is held out, and each part needs a window of ${T + 1})`,
        hint: `give a longer text, lower task.length, or omit ${field} for the bundled corpus`,
      });
    }
    this.vocabulary = [...new Set(chars)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const index = new Map(this.vocabulary.map((c, i) => [c, i]));
    this.ids = Int32Array.from(chars, (c) => index.get(c) as number);
    this.trainEnd = Math.floor(chars.length * (1 - CHAR_LM_EVAL_SHARE));
    this.inputSize = this.vocabulary.length;
    this.outputSize = this.vocabulary.length;
    this.sequence = { length: T, scored: 'every' };
    this.baseline = this.unigramBaseline();
  }

  private unigramBaseline(): Baseline {
    const V = this.vocabulary.length;
    const counts = new Float64Array(V);
    for (let i = 0; i < this.trainEnd; i++) counts[this.ids[i] as number]! += 1;
    let majority = 0;
    for (let c = 1; c < V; c++) if (counts[c]! > counts[majority]!) majority = c;
    const { labels } = this.evalSet();
    const labelIds = labels as Int32Array;
    let loss = 0;
    let hits = 0;
    for (const c of labelIds) {
      loss -= Math.log((counts[c]! + 1) / (this.trainEnd + V));
      if (c === majority) hits++;
    }
    return {
      loss: loss / labelIds.length,
      accuracy: hits / labelIds.length,
      description: `the unigram model (character frequencies of the training text, add-one smoothed): no context`,
    };
  }

  /** One-hot inputs and next-character labels for windows starting at `offsets`. */
  private windows(offsets: readonly number[]): Batch {
    const T = this.sequence.length;
    const V = this.inputSize;
    const B = offsets.length;
    const x = new Float32Array(T * B * V);
    const y = new Float32Array(T * B * V);
    const labels = new Int32Array(T * B);
    offsets.forEach((o, b) => {
      for (let t = 0; t < T; t++) {
        const row = t * B + b;
        x[row * V + (this.ids[o + t] as number)] = 1;
        const next = this.ids[o + t + 1] as number;
        labels[row] = next;
        y[row * V + next] = 1;
      }
    });
    return { x: new Tensor(x, [T, B, V]), y: new Tensor(y, [T, B, V]), labels };
  }

  trainBatch(batchSize: number, rng: Rng): Batch {
    checkBatchSize('char-lm', batchSize);
    const span = this.trainEnd - this.sequence.length; // offsets 0 .. span - 1 keep the window in the training part
    return this.windows(Array.from({ length: batchSize }, () => rng.int(span)));
  }

  evalSet(): Batch {
    if (this.cachedEval) return this.cachedEval;
    const T = this.sequence.length;
    const available = Math.floor((this.ids.length - 1 - this.trainEnd) / T);
    const count = Math.max(1, Math.min(CHAR_LM_EVAL_WINDOWS, available));
    return (this.cachedEval = this.windows(Array.from({ length: count }, (_, i) => this.trainEnd + i * T)));
  }
}

export function createCharLmTask(options: CharLmOptions, _seed?: number): CharLmTask {
  if (options.path === undefined) return new CharLmTask(options);
  return new CharLmTask({ length: options.length, text: readCorpus(options.path), textFile: options.path });
}
