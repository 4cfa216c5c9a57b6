/** "Did you mean ...?": one spelling-suggestion helper for every error message in gradscope. */

/** Case, `-`, `_` and spaces do not count when comparing spellings: `batch_size` is `batchSize`. */
function normalise(word: string): string {
  return word.toLowerCase().replace(/[-_\s]/g, '');
}

/**
 * The optimal-string-alignment distance (Levenshtein with adjacent transpositions, Damerau 1964): the number of
 * single-character insertions, deletions, substitutions and swaps of neighbours that turn `a` into `b`.
 *
 * @example
 * editDistance('tahn', 'tanh'); // 1 (one swap)
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (d[(i - 1) * cols + j] as number) + 1,
        (d[i * cols + j - 1] as number) + 1,
        (d[(i - 1) * cols + j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (d[(i - 2) * cols + j - 2] as number) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1] as number;
}

/**
 * The valid spelling the user most likely meant, or undefined when none is close. In order: a known alias
 * (`lr` -> `learningRate`, keys compared without case and separators); the same word up to case and `-`/`_`
 * (`batch_size` -> `batchSize`); the smallest edit distance, if at most a third of the word's length (at least 1);
 * a candidate the word starts (`xavier` -> `xavier-uniform`) or that starts the word (`batchnorm` -> `batch`).
 * Ties go to the earlier candidate.
 *
 * @example
 * nearest('sigmod', ['sigmoid', 'tanh', 'relu']); // 'sigmoid'
 * nearest('banana', ['sigmoid', 'tanh', 'relu']); // undefined
 */
export function nearest(
  word: string,
  candidates: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const target = normalise(word);
  if (target === '') return undefined;
  for (const [alias, meant] of Object.entries(aliases)) {
    if (normalise(alias) === target && candidates.includes(meant)) return meant;
  }
  const normalised = candidates.map(normalise);
  const exact = normalised.indexOf(target);
  if (exact >= 0) return candidates[exact];

  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(target.length / 3)) + 1;
  normalised.forEach((candidate, index) => {
    const distance = editDistance(target, candidate);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidates[index];
    }
  });
  if (best !== undefined) return best;

  if (target.length >= 2) {
    const prefixOf = normalised.findIndex((candidate) => candidate.startsWith(target));
    if (prefixOf >= 0) return candidates[prefixOf];
  }
  const startsWord = normalised.findIndex(
    (candidate) => candidate.length >= 3 && target.startsWith(candidate),
  );
  return startsWord >= 0 ? candidates[startsWord] : undefined;
}
