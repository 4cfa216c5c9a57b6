/**
 * Where output may go (Node): the folder a user chose for output, and run directories inside it. A run
 * directory is `root/<name>` with a name that is one path segment, and it stays inside `root` after every
 * symlink is followed; nothing is written under /proc, /sys or /dev (writing there hangs or reads forever).
 * One rule for `run`, `compare`, `fix` and the lab.
 *
 * @example
 * const root = checkOutputRoot('runs/compare', '--out'); // '/home/me/runs/compare'
 * runDirInside(root, 'deep-sigmoid');                   // '/home/me/runs/compare/deep-sigmoid'
 * runDirInside(root, '../victim');                      // throws OutputPathError
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { GradscopeError } from '../util/errors.js';

/** A path output may not use: `message` names it, the problem and the fix (the CLI exits 2 with it). */
export class OutputPathError extends GradscopeError {
  override readonly name = 'OutputPathError';
  declare readonly problem: string;
  constructor(
    path: string,
    problem: string,
    readonly fix: string,
  ) {
    super({ code: 'invalid_value', path, value: path, problem, hint: fix });
  }
}

/** Kernel and device file systems: a "file" there is an interface, never a place for a run's files. */
const SYSTEM_ROOTS = ['/proc', '/sys', '/dev'] as const;

/** Whether `inner` is `outer` or lies below it (both absolute). */
export function isInside(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

/**
 * The real location of `path` once every symlink is followed: the real path of its nearest existing ancestor
 * with the rest appended (the rest does not exist yet, so it holds no symlink).
 */
export function realLocation(path: string): string {
  let head = resolve(path);
  const rest: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(head), ...rest.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return resolve(path);
      rest.push(basename(head));
      head = parent;
    }
  }
}

/** The system root `path` really lies under, or null. */
function systemRoot(path: string): string | null {
  const locations = [resolve(path), realLocation(path)];
  for (const root of SYSTEM_ROOTS) if (locations.some((p) => isInside(p, root))) return root;
  return null;
}

/**
 * The folder a user chose for output (`--out`), absolute: refused when it lies under /proc, /sys or /dev (also
 * through a symlink) or exists as something other than a directory.
 */
export function checkOutputRoot(path: string, flag = '--out'): string {
  const absolute = resolve(path);
  const root = systemRoot(absolute);
  if (root !== null)
    throw new OutputPathError(
      `${flag} ${path}`,
      `lies under ${root}, a system file system where nothing can be written as files`,
      'choose a folder of your own, e.g. --out runs/my-run',
    );
  let stat;
  try {
    stat = statSync(absolute);
  } catch {
    return absolute;
  }
  if (!stat.isDirectory())
    throw new OutputPathError(
      `${flag} ${path}`,
      `exists and is not a directory (${describeKind(stat)})`,
      'give a directory, or a path that does not exist yet',
    );
  return absolute;
}

function describeKind(stat: ReturnType<typeof statSync>): string {
  if (!stat) return 'missing';
  if (stat.isFile()) return 'a file';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * `root/name`, checked: `name` is one path segment (no separator, not `.` or `..`) and the directory, once every
 * symlink is followed, is inside `root` (a symlink `root/name` pointing elsewhere is refused).
 */
export function runDirInside(root: string, name: string): string {
  const base = resolve(root);
  if (name === '' || name === '.' || name === '..' || /[/\\\u0000]/.test(name))
    throw new OutputPathError(
      `run name ${JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}...` : name)}`,
      'is not a single folder name',
      'use letters, digits, ".", "_" and "-" only',
    );
  const dir = join(base, name);
  if (!isInside(dir, base) || dir === base)
    throw new OutputPathError(dir, `leaves the output folder ${base}`, 'choose a run name without a path');
  let link = false;
  try {
    link = lstatSync(dir).isSymbolicLink();
  } catch {
    // Does not exist yet: created as a plain directory below.
  }
  if (link && !isInside(realLocation(dir), realLocation(base)))
    throw new OutputPathError(
      dir,
      `is a symlink to ${realLocation(dir)}, outside the output folder ${base}`,
      'remove the link or choose another --out',
    );
  const root2 = systemRoot(dir);
  if (root2 !== null)
    throw new OutputPathError(dir, `lies under ${root2}`, 'choose a folder of your own with --out');
  return dir;
}
