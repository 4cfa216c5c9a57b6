/**
 * The lab's address options, so a teacher can hand out a link that opens (and runs) a given experiment and a test
 * can drive the page without clicking:
 *
 * - `preset=<name>`: the experiment to load (default `deep-sigmoid`); `config=<JSON>` loads a whole config instead.
 * - `steps=<N>`, `seed=<S>`: written into the loaded config (`train.steps`, `seed`).
 * - `autorun=1`: start training at once.
 * - `fix=<K>`: when run A is over, apply fix K (1-based) of its most serious finding and run B beside it.
 * - `speed=slow|medium|fast`.
 *
 * @example parseLabQuery('?preset=adding-rnn&steps=60&autorun=1').options.steps // 60
 */

export const SPEEDS = ['slow', 'medium', 'fast'] as const;
export type Speed = (typeof SPEEDS)[number];

/** Training steps per second at each speed (fast: as many as the machine allows). */
export const STEPS_PER_SECOND: Readonly<Record<Speed, number>> = { slow: 4, medium: 20, fast: Infinity };

export const DEFAULT_PRESET = 'deep-sigmoid';

export interface LabOptions {
  preset: string;
  /** Config text from `config=`, shown and run instead of the preset. */
  configText: string | null;
  steps: number | null;
  seed: number | null;
  autorun: boolean;
  /** 1-based index of the fix to apply automatically when run A is over. */
  fix: number | null;
  speed: Speed;
}

function integerParam(
  params: URLSearchParams,
  key: string,
  min: number,
  max: number,
  problems: string[],
): number | null {
  const raw = params.get(key);
  if (raw === null || raw === '') return null;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${key}=${raw} in the address is ignored: expected a whole number from ${min} to ${max}.`);
    return null;
  }
  return value;
}

/** Reads the options from a query string (`location.search`); unusable values are reported and ignored. */
export function parseLabQuery(search: string): { options: LabOptions; problems: string[] } {
  const params = new URLSearchParams(search);
  const problems: string[] = [];
  const speedText = params.get('speed');
  let speed: Speed = 'fast';
  if (speedText !== null) {
    if ((SPEEDS as readonly string[]).includes(speedText)) speed = speedText as Speed;
    else problems.push(`speed=${speedText} in the address is ignored: expected ${SPEEDS.join(', ')}.`);
  }
  const autorun = params.get('autorun');
  return {
    options: {
      preset: params.get('preset') || DEFAULT_PRESET,
      configText: params.get('config'),
      steps: integerParam(params, 'steps', 1, 1_000_000, problems),
      seed: integerParam(params, 'seed', 0, 2 ** 32 - 1, problems),
      autorun: autorun !== null && autorun !== '0' && autorun !== 'false',
      fix: integerParam(params, 'fix', 1, 99, problems),
      speed,
    },
    problems,
  };
}

/** A query string that reopens this config (for "copy link"). */
export function linkQuery(configText: string, extra: Readonly<Record<string, string>> = {}): string {
  const params = new URLSearchParams({ config: compactJson(configText), ...extra });
  return `?${params.toString()}`;
}

/** The text re-serialised without whitespace when it is valid JSON, otherwise as it is. */
function compactJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}
