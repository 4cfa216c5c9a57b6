/** `gradscope fix`: verified fixes (owned by the doctor work; placeholder until it lands). */
import { UsageError } from '../args.js';
import type { Command } from '../common.js';

export const fixCommand: Command = {
  summary: 'fix <config, preset or run dir> [--budget STEPS] [--top K] [--out DIR] [--json]  train the top fixes beside the control',
  run() {
    throw new UsageError('fix is not built yet.');
  },
};
