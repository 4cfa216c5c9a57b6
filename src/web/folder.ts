/**
 * The page's side of the run folder (server.ts): the list of runs, each opened run's records, and for a run still
 * being written an EventSource on `/api/stream` that appends records as the server pushes them (from the byte
 * offset `/api/run` stopped at, so nothing is missed or doubled). Browser-only (fetch, EventSource); no DOM.
 *
 * @example
 * const folder = new RunFolder(() => render());
 * await folder.refresh();
 * await folder.open('deep-sigmoid');
 * folder.opened.get('deep-sigmoid')?.records.length;
 */
import { parseFinite } from '../io/json.js';
import type { MetricsRecord } from '../io/runlog.js';
import type { RunData, RunEntry } from './runs.js';

/** A run of the folder as the page holds it. */
export interface FolderRun {
  name: string;
  entry: RunEntry;
  config: unknown;
  summary: unknown;
  records: MetricsRecord[];
  /** Whether the page is following it live. */
  following: boolean;
  problems: string[];
}

async function getJson(path: string): Promise<unknown> {
  const response = await fetch(path, { headers: { Accept: 'application/json' } });
  const text = await response.text();
  if (!response.ok) throw new Error(text.trim() || `${path}: HTTP ${response.status}`);
  return parseFinite(text);
}

export class RunFolder {
  /** The folder's path on the server, null when the lab runs without one (or the page is not served by it). */
  runsDir: string | null = null;
  list: RunEntry[] = [];
  skipped: string[] = [];
  /** Why the list could not be read (the page opened from disk, the server gone). */
  error: string | null = null;
  readonly opened = new Map<string, FolderRun>();
  private readonly streams = new Map<string, EventSource>();

  constructor(private readonly changed: () => void) {}

  async refresh(): Promise<void> {
    try {
      const body = (await getJson('/api/runs')) as {
        runsDir: string | null;
        runs: RunEntry[];
        skipped: string[];
      };
      this.runsDir = body.runsDir;
      this.list = body.runs;
      this.skipped = body.skipped;
      this.error = null;
    } catch (error) {
      this.error = error instanceof Error ? error.message : String(error);
    }
    this.changed();
  }

  /** Loads a run's records; a run still being written is then followed live. */
  async open(name: string): Promise<void> {
    if (this.opened.has(name)) return;
    const data = (await getJson(`/api/run?name=${encodeURIComponent(name)}`)) as RunData;
    const run: FolderRun = {
      name,
      entry: data.entry,
      config: data.config,
      summary: data.summary,
      records: data.records,
      following: false,
      problems: data.problems,
    };
    this.opened.set(name, run);
    if (data.summary === null && data.entry.kind !== 'tensorboard') this.follow(run, data.offset);
    this.changed();
  }

  close(name: string): void {
    this.streams.get(name)?.close();
    this.streams.delete(name);
    this.opened.delete(name);
    this.changed();
  }

  private follow(run: FolderRun, offset: number): void {
    const source = new EventSource(`/api/stream?name=${encodeURIComponent(run.name)}&from=${offset}`);
    this.streams.set(run.name, source);
    run.following = true;
    source.addEventListener('records', (event) => {
      const records = parseFinite((event as MessageEvent<string>).data) as MetricsRecord[];
      run.records.push(...records);
      const last = records.at(-1);
      if (last) run.entry = { ...run.entry, steps: last.step, status: 'live', mtime: Date.now() };
      this.changed();
    });
    source.addEventListener('reset', () => {
      run.records = [];
      this.changed();
    });
    source.addEventListener('problem', (event) => {
      run.problems.push(String(JSON.parse((event as MessageEvent<string>).data)));
    });
    source.addEventListener('summary', (event) => {
      run.summary = parseFinite((event as MessageEvent<string>).data);
      const verdict = (run.summary as { verdict?: unknown }).verdict;
      run.entry = { ...run.entry, status: 'finished', verdict: typeof verdict === 'string' ? verdict : null };
      this.changed();
    });
    source.addEventListener('end', () => {
      source.close();
      this.streams.delete(run.name);
      run.following = false;
      void this.refresh();
    });
  }
}
