/**
 * Canonical option groups: an inventory of values (colours, habitats, rule labels, reactions …) cut into fixed
 * groups of `k`, always shown in the same order. A question whose answer is `v` shows `v`'s group, so the correct
 * label ("answer3") is a fixed function of the answer's content — the model only has to know the content (the
 * pretraining corpus states it) and map it to its position, which a tiny model learns, instead of searching the
 * options for a match and copying its label (symbol binding), which it does not.
 *
 * Group g holds inventory[g·k … g·k + k) in order. When the inventory's size m is not a multiple of k, the last
 * group's r = m mod k values sit at positions lastAt, lastAt + 1, … (mod k) and the other positions are filled,
 * in order, with the inventory's first values; a filler is never its group's answer (every value answers in
 * exactly one group, at exactly one index). `lastAt` lets a family spread those values over the rarer positions.
 */

/** The fixed groups of `k` options over `inventory` (distinct values, in their given order); [] if it has < k. */
export function optionGroups<T>(inventory: readonly T[], k: number, lastAt = 0): T[][] {
  const m = inventory.length;
  if (m < k || k < 1) return [];
  const groups: T[][] = [];
  for (let start = 0; start + k <= m; start += k) groups.push(inventory.slice(start, start + k));
  const r = m % k;
  if (r > 0) {
    const last: (T | undefined)[] = Array(k).fill(undefined);
    for (let j = 0; j < r; j++) last[(lastAt + j) % k] = inventory[m - r + j];
    let filler = 0;
    groups.push(last.map((v) => v === undefined ? inventory[filler++] : v) as T[]);
  }
  return groups;
}

/** Where `value` is answered: its group's options and its 0-based index there; null if it has no group. */
export function canonicalOptions<T>(
  inventory: readonly T[],
  k: number,
  value: T,
  lastAt = 0,
): { options: T[]; index: number } | null {
  const i = inventory.indexOf(value);
  const groups = optionGroups(inventory, k, lastAt);
  if (i < 0 || groups.length === 0) return null;
  const options = groups[Math.floor(i / k)];
  return { options, index: options.indexOf(value) };
}
