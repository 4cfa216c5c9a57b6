/**
 * The lab's Web Worker: the in-browser trainer (lab-trainer.ts) off the page's thread, so the page answers clicks
 * and redraws while a run trains; the same worker script also trains the doctor's fixes as trials (lab-trials.ts),
 * one worker per trial. Commands arrive by `postMessage`, snapshots go back the same way. Bundled by
 * scripts/build-web.mjs into web/dist/lab-worker.js.
 */
import { LabTrainer, type TrainerCommand, type TrainerMessage } from './lab-trainer.js';
import { TrialRunner, type TrialCommand, type TrialMessage } from './lab-trials.js';

interface WorkerScope {
  postMessage(message: TrainerMessage | TrialMessage): void;
  addEventListener(
    type: 'message',
    listener: (event: MessageEvent<TrainerCommand | TrialCommand>) => void,
  ): void;
}

const scope = globalThis as unknown as WorkerScope;
let trainer: LabTrainer | null = null;
let trials: TrialRunner | null = null;
scope.addEventListener('message', (event) => {
  const command = event.data;
  if (command.type === 'trial' || command.type === 'cancel')
    (trials ??= new TrialRunner((message) => scope.postMessage(message))).handle(command);
  else (trainer ??= new LabTrainer((message) => scope.postMessage(message), 'worker')).handle(command);
});
