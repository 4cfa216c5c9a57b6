/**
 * `gradscope torch [--path]`: where the bundled PyTorch watcher is (`python/gradscope_torch.py`, only torch and the
 * standard library) and how to use it (../shared/CONTRACT.md). docs/TORCH.md has the whole story.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, UsageError } from '../args.js';
import { EXIT, type Command } from '../common.js';

const USAGE = 'torch [--path]';

const HELP = [
  `usage: gradscope ${USAGE}`,
  '  (no option)        print the path of the PyTorch watcher gradscope_torch.py and a three-line usage',
  '  --path             print the path only, e.g. cp "$(npx gradscope torch --path)" .',
  'examples:',
  '  gradscope torch',
  '  gradscope doctor runs/mine     (after training with the watcher)',
].join('\n');

/** The absolute path of the watcher in this installation (dist/cli/commands -> the package root's python/). */
export function torchWatcherPath(): string {
  return fileURLToPath(new URL('../../../python/gradscope_torch.py', import.meta.url));
}

/** The three lines to paste into a training script. */
export function torchUsage(path: string): string[] {
  return [
    `import sys; sys.path.insert(0, ${JSON.stringify(dirname(path))}); import gradscope_torch`,
    'w = gradscope_torch.watch(model, "runs/mine", every=10)   # before training',
    'w.step(loss)   # after each optimizer.step(); then: npx gradscope doctor runs/mine',
  ];
}

function runTorch(argv: string[]): number {
  const args = parseArgs(argv, { values: [], switches: ['path'], usage: HELP }, 'torch');
  if (args.positionals.length > 0)
    throw new UsageError(`torch takes no arguments, got ${args.positionals.join(' ')}: gradscope ${USAGE}.`);
  const path = torchWatcherPath();
  if (!existsSync(path)) {
    process.stderr.write(
      `gradscope torch: the watcher is missing from this installation (${path}); reinstall gradscope.\n`,
    );
    return EXIT.failure;
  }
  process.stdout.write(
    args.switches.has('path') ? `${path}\n` : [path, ...torchUsage(path)].join('\n') + '\n',
  );
  return EXIT.ok;
}

export const torchCommand: Command = {
  summary: `${USAGE}  print the path and usage of the PyTorch watcher gradscope_torch.py`,
  run: runTorch,
};
