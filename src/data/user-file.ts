/**
 * A text file of the user's own named by `task.path` (the csv table, a char-lm corpus): Node's file system fetched
 * at run time (`process.getBuiltinModule`), so the modules that call this still load in a browser; a path that is
 * not a readable regular file, or is larger than the task reads, is a `TaskConfigError` naming task.path.
 */
import { TaskConfigError } from './errors.js';

type TaskConfigDetails = Omit<ConstructorParameters<typeof TaskConfigError>[0], 'code'>;

/** Node's `fs` and `path`, or the task's own refusal where there is no Node (a browser). */
export function nodeFiles(unavailable: TaskConfigDetails): {
  fs: typeof import('node:fs');
  path: typeof import('node:path');
} {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule;
  if (typeof get !== 'function') throw new TaskConfigError({ code: 'not_applicable', ...unavailable });
  return {
    fs: get('node:fs') as typeof import('node:fs'),
    path: get('node:path') as typeof import('node:path'),
  };
}

export interface UserFileOptions {
  /** The path as the config wrote it (what errors show). */
  path: string;
  /** The resolved file to read. */
  file: string;
  maxBytes: number;
  /** The unreadable error's accepted text and hint. */
  unreadable: { accepted?: string; hint: string };
  /** The too-large error's accepted text and hint. */
  tooLarge: { accepted: string; hint: string };
}

function megabytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** The file's text, after checking it is a regular file of at most `maxBytes`. */
export function readUserFile(fs: typeof import('node:fs'), options: UserFileOptions): string {
  const { path, file, maxBytes } = options;
  let size: number;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new Error('not a file');
    size = stat.size;
  } catch (error) {
    throw new TaskConfigError({
      code: 'unreadable',
      path: 'task.path',
      value: path,
      problem: `cannot read ${JSON.stringify(path)} (${error instanceof Error ? error.message : String(error)})`,
      ...(options.unreadable.accepted ? { accepted: options.unreadable.accepted } : {}),
      hint: options.unreadable.hint,
    });
  }
  if (size > maxBytes)
    throw new TaskConfigError({
      code: 'invalid_value',
      path: 'task.path',
      value: path,
      problem: `${JSON.stringify(path)} is ${megabytes(size)}`,
      accepted: options.tooLarge.accepted,
      hint: options.tooLarge.hint,
    });
  return fs.readFileSync(file, 'utf8');
}
