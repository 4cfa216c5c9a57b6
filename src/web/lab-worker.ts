/**
 * The lab's Web Worker: the in-browser trainer (lab-trainer.ts) off the page's thread, so the page answers clicks
 * and redraws while a run trains. Commands arrive by `postMessage`, snapshots go back the same way. Bundled by
 * scripts/build-web.mjs into web/dist/lab-worker.js.
 */
import { LabTrainer, type TrainerCommand, type TrainerMessage } from './lab-trainer.js';

interface WorkerScope {
  postMessage(message: TrainerMessage): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<TrainerCommand>) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
const trainer = new LabTrainer((message) => scope.postMessage(message), 'worker');
scope.addEventListener('message', (event) => trainer.handle(event.data));
