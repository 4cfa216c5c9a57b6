/**
 * One `gradscope fix` trial in a worker thread: trains the config it is given into its run directory and posts
 * the summary back. The same code and seed as in the main thread, so a trial's numbers do not depend on where it ran.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ResolvedConfig } from '../../config/types.js';
import { train } from '../../train/trainer.js';

const { config, dir } = workerData as { config: ResolvedConfig; dir: string };
// The trials already run side by side, one worker each: "threads": "auto" means one kernel thread per trial here
// (this worker's environment is its own copy).
process.env['GRADSCOPE_THREADS'] ??= '1';
try {
  const { summary } = train(config, { outDir: dir });
  parentPort?.postMessage({ ok: true, summary });
} catch (error) {
  parentPort?.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error) });
}
