/**
 * TensorBoard event files on disk: a writer for gradscope's runs and readers of a file or a folder of them. The
 * encoding itself (framing, CRC-32C, protobuf, histograms) is the pure codec in tfevents-codec.ts, which this
 * module re-exports so existing imports keep working.
 *
 * @example
 * const writer = EventWriter.open('runs/mlp');
 * writer.scalar('loss', 0.42, 100);
 * const { nonFinite } = writer.histogram('grad/layer0', gradient, 100);
 * writer.close();
 * const { events, errors } = readEvents(writer.path);
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { GradscopeError, type ErrorCode } from '../util/errors.js';
import {
  buildHistogram,
  decodeEvents,
  encodeEvent,
  encodeRecord,
  FILE_VERSION,
  type EventFileReadout,
  type EventInput,
  type HistogramResult,
  type SummaryValueInput,
} from './tfevents-codec.js';

export * from './tfevents-codec.js';

// ---------------------------------------------------------------------------------------------------------
// Writer

/** Why an {@link EventWriter} call was refused. */
export type EventWriterErrorCode = Extract<ErrorCode, 'invalid_value' | 'invalid_state'>;

/** A `GradscopeError` from the event writer: a bad step, tag or wall time, or a call after `close()`. */
export class EventWriterError extends GradscopeError {
  override name = 'EventWriterError';
  constructor(code: EventWriterErrorCode, message: string, path = '') {
    super({ code, path, message });
  }
}

export interface EventWriterOptions {
  /** Appended to the file name, e.g. `.v2` or `.train`. */
  readonly filenameSuffix?: string;
  /** Seconds since the Unix epoch, for the file name and default wall times. Default `Date.now() / 1000`. */
  readonly wallClock?: () => number;
  /**
   * Whether {@link EventWriter.histogram} also writes `<tag>/nan_count`, `<tag>/pos_inf_count` and
   * `<tag>/neg_inf_count` scalars (in the same event as the histogram): `'when-present'` (default) only at
   * steps where some value was non-finite, `'always'` at every step, `'never'`.
   */
  readonly nonFiniteScalars?: 'when-present' | 'always' | 'never';
}

/**
 * Appends TensorBoard events to one new file `events.out.tfevents.<unix seconds>.<hostname><suffix>` in a
 * directory (seconds zero-padded to 10 digits as TensorFlow does, so names sort by time; if that name exists,
 * `.1`, `.2`, ... is inserted before the suffix).
 *
 * Every call writes its whole record with one `write(2)`, so records reach the operating system at once and a
 * killed training run keeps everything written before the kill; a crash mid-write leaves at most one
 * truncated record, which {@link readEvents} reports and skips. `flush()` additionally asks the OS to put the
 * bytes on disk (`fsync`), which only matters for a power loss; call it at checkpoints, not every step.
 *
 * Scalars are stored in `simple_value`, a float32: values are rounded to float32 precision and magnitudes
 * beyond ~3.4e38 become ±Infinity.
 *
 * @example
 * const writer = EventWriter.open('runs/lstm', { filenameSuffix: '.gradscope' });
 * for (let step = 0; step < 1000; step++) {
 *   writer.scalars({ loss, 'grad_norm/total': total }, step);
 *   if (step % 50 === 0) writer.histogram('grad/lstm.weight_hh', gradient, step);
 * }
 * writer.close();
 */
export class EventWriter {
  private fd: number | null;
  private readonly wallClock: () => number;
  private readonly nonFiniteScalars: 'when-present' | 'always' | 'never';

  private constructor(
    fd: number,
    /** Path of the event file being written. */
    readonly path: string,
    options: EventWriterOptions,
  ) {
    this.fd = fd;
    this.wallClock = options.wallClock ?? ((): number => Date.now() / 1000);
    this.nonFiniteScalars = options.nonFiniteScalars ?? 'when-present';
  }

  /**
   * Creates `dir` if needed, creates a new event file in it and writes the `file_version` header event.
   */
  static open(dir: string, options: EventWriterOptions = {}): EventWriter {
    mkdirSync(dir, { recursive: true });
    const clock = options.wallClock ?? ((): number => Date.now() / 1000);
    const now = clock();
    const seconds = String(Math.floor(now)).padStart(10, '0');
    const base = `events.out.tfevents.${seconds}.${hostname()}`;
    const suffix = options.filenameSuffix ?? '';
    for (let attempt = 0; ; attempt++) {
      const path = join(dir, `${base}${attempt === 0 ? '' : `.${attempt}`}${suffix}`);
      let fd: number;
      try {
        fd = openSync(path, 'wx');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      const writer = new EventWriter(fd, path, options);
      writer.append({ wallTime: now, step: 0, fileVersion: FILE_VERSION });
      return writer;
    }
  }

  /**
   * Continues an event file that a checkpoint measured: cut at `bytes` (whatever a killed run wrote after the
   * checkpoint goes, and is written again by the resumed run), then appended to. No header is written again.
   */
  static resume(path: string, bytes: number, options: EventWriterOptions = {}): EventWriter {
    truncateSync(path, bytes);
    return new EventWriter(openSync(path, 'a'), path, options);
  }

  /** Bytes written so far (what a checkpoint records, after `flush`). */
  size(): number {
    return fstatSync(this.openFd()).size;
  }

  /**
   * Writes one scalar as `simple_value`.
   *
   * @example
   * writer.scalar('loss', 0.42, 100);
   */
  scalar(tag: string, value: number, step: number, wallTime?: number): void {
    checkTag(tag);
    this.append({ wallTime: this.wallTimeOf(wallTime), step, values: [{ kind: 'scalar', tag, value }] });
  }

  /**
   * Writes several scalars of one step as one event (one record, one write), the cheap way to log many
   * series per step.
   *
   * @example
   * writer.scalars({ loss: 0.42, 'grad_norm/layer0': 1e-6 }, 100);
   */
  scalars(values: Readonly<Record<string, number>>, step: number, wallTime?: number): void {
    const entries: SummaryValueInput[] = [];
    for (const [tag, value] of Object.entries(values)) {
      checkTag(tag);
      entries.push({ kind: 'scalar', tag, value });
    }
    if (entries.length === 0) return;
    this.append({ wallTime: this.wallTimeOf(wallTime), step, values: entries });
  }

  /**
   * Writes a histogram of `values` with TensorFlow's default bucket edges ({@link DEFAULT_BUCKET_LIMITS})
   * and returns what it measured, including the NaN/±Infinity counts that the histogram itself cannot show
   * (see {@link buildHistogram}; with the `nonFiniteScalars` option they are also written as scalars).
   *
   * @example
   * const { nonFinite } = writer.histogram('grad/dense0.weight', gradient, step);
   * if (nonFinite.nan > 0) console.warn(`NaN gradients at step ${step}`);
   */
  histogram(tag: string, values: ArrayLike<number>, step: number, wallTime?: number): HistogramResult {
    checkTag(tag);
    const result = buildHistogram(values);
    const entries: SummaryValueInput[] = [{ kind: 'histogram', tag, histogram: result.histogram }];
    const { nan, positiveInfinity, negativeInfinity } = result.nonFinite;
    const anyNonFinite = nan + positiveInfinity + negativeInfinity > 0;
    if (this.nonFiniteScalars === 'always' || (this.nonFiniteScalars === 'when-present' && anyNonFinite)) {
      entries.push(
        { kind: 'scalar', tag: `${tag}/nan_count`, value: nan },
        { kind: 'scalar', tag: `${tag}/pos_inf_count`, value: positiveInfinity },
        { kind: 'scalar', tag: `${tag}/neg_inf_count`, value: negativeInfinity },
      );
    }
    this.append({ wallTime: this.wallTimeOf(wallTime), step, values: entries });
    return result;
  }

  /** Asks the OS to write this file's bytes to disk (`fsync`). Records are already visible to readers. */
  flush(): void {
    fsyncSync(this.openFd());
  }

  /** Flushes and closes the file; later writes throw. Closing twice is harmless. */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  private openFd(): number {
    if (this.fd === null) {
      throw new EventWriterError(
        'invalid_state',
        `event file ${this.path} is closed; open a new EventWriter to write more`,
      );
    }
    return this.fd;
  }

  private wallTimeOf(wallTime: number | undefined): number {
    if (wallTime === undefined) return this.wallClock();
    if (!Number.isFinite(wallTime)) {
      throw new EventWriterError(
        'invalid_value',
        `wallTime must be finite seconds since the Unix epoch (got ${wallTime}); omit it to use the clock`,
      );
    }
    return wallTime;
  }

  private append(event: EventInput): void {
    const fd = this.openFd();
    if (!Number.isSafeInteger(event.step)) {
      throw new EventWriterError(
        'invalid_value',
        `step must be an integer within ±2^53 (got ${event.step}); TensorBoard stores steps as int64, pass Math.round(step)`,
      );
    }
    const record = encodeRecord(encodeEvent(event));
    let written = 0;
    while (written < record.length) written += writeSync(fd, record, written, record.length - written);
  }
}

function checkTag(tag: string): void {
  if (typeof tag !== 'string' || tag.length === 0) {
    throw new EventWriterError(
      'invalid_value',
      `tag must be a non-empty string (got ${JSON.stringify(tag)})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Readers

/**
 * Reads one event file (a path, or its bytes), verifying both CRCs of every record: {@link decodeEvents} on
 * the file's bytes. Only failing to read the file itself throws.
 *
 * @example
 * const { events, errors } = readEvents('runs/mlp/events.out.tfevents.1700000000.host');
 * for (const e of events) for (const v of e.values) if (v.kind === 'scalar') console.log(v.tag, e.step, v.value);
 */
export function readEvents(source: string | Uint8Array | Buffer): EventFileReadout {
  const raw = typeof source === 'string' ? readFileSync(source) : source;
  return decodeEvents(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
}

/** {@link EventFileReadout} of one file found by {@link readEventDir}. */
export interface EventFileInDir extends EventFileReadout {
  readonly path: string;
}

/**
 * Reads every event file in `dir` (by TensorBoard's rule: the name contains `tfevents`), in name order, which
 * is time order for TensorFlow/PyTorch/gradscope names. With `recursive`, subdirectories too (TensorBoard
 * shows each directory as a separate run; PyTorch's `add_scalars` writes one subdirectory per series).
 *
 * @example
 * for (const file of readEventDir('runs/')) console.log(file.path, file.events.length, file.errors);
 */
export function readEventDir(
  dir: string,
  options: { readonly recursive?: boolean; readonly maxBytes?: number } = {},
): EventFileInDir[] {
  const files: EventFileInDir[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const entry of entries) {
    const path = join(dir, entry.name);
    // Regular files only (a symlink, FIFO or device named like an event file is not read); oversized ones named.
    if (!entry.isFile() || !entry.name.includes('tfevents')) continue;
    const size = statSync(path).size;
    if (size > (options.maxBytes ?? Infinity))
      files.push({
        path,
        events: [],
        errors: [
          {
            code: 'too-large',
            offset: 0,
            message: `${size} bytes, more than the ${options.maxBytes} read; not read`,
          },
        ],
      });
    else files.push({ path, ...readEvents(path) });
  }
  if (options.recursive === true) {
    for (const entry of entries) {
      if (entry.isDirectory()) files.push(...readEventDir(join(dir, entry.name), options));
    }
  }
  return files;
}
