/**
 * Claims and contrasts from paired bootstrap CIs (shared/design/statistics.md): rows of two group labels are
 * paired by seed, their per-item results by item (after checking both were evaluated on the same items), and
 * the hierarchical bootstrap (seeds, then items; macro average over tasks) gives Δ = A − B with its 95 % CI.
 * A claim's verdict follows from the interval; its evidence always prints Δ [lo, hi].
 */
import { type TaskName, TASKS } from "../data/types.ts";
import {
  formatInterval,
  hierarchicalPairedBootstrap,
  type Interval,
  pairedSeedBootstrap,
  type PairedTask,
  type Verdict,
  verdictOf,
  verdictWithin,
} from "../report/paired.ts";
import type { Protocol } from "../train/evaluate.ts";
import type { CellRow } from "./cell.ts";
import { decodeBits, type ItemResults } from "./items.ts";
import type { ClaimCheck } from "./study.ts";

/** As `b` of a contrast: the frozen base on the same evaluation (from each A row's `baseline`). */
export const FROZEN_BASE = "frozen base";

/** The contrast cannot be computed from these rows (not run, no per-item results): the claim is not tested. */
export class NotTestedError extends Error {}

/** The two arms were evaluated on different test items: pairing them is refused. */
export class ItemsMismatchError extends Error {}

const LACK_ITEMS = "rows lack per-item results; rerun";

/** The rows of `label`, one per seed (a later row of the same seed replaces an earlier one). */
export function rowsBySeed(rows: CellRow[], label: string): Map<number, CellRow> {
  const out = new Map<number, CellRow>();
  for (const r of rows) if (r.label === label) out.set(r.seed, r);
  return out;
}

/** One seed's per-item results of both arms. */
export interface ItemPair {
  seed: number;
  a: ItemResults | undefined;
  b: ItemResults | undefined;
}

/**
 * Per-seed per-task paired correctness, for `hierarchicalPairedBootstrap`. Every seed and both arms must have
 * been evaluated on the same items (same hash, same tasks, same counts); `task` restricts to one task.
 */
export function pairItems(pairs: ItemPair[], task?: TaskName): { tasks: TaskName[]; seeds: PairedTask[][] } {
  if (pairs.length === 0) throw new NotTestedError("no seeds to pair");
  if (pairs.some((p) => !p.a || !p.b)) throw new NotTestedError(LACK_ITEMS);
  const ref = pairs[0].a!;
  for (const p of pairs) {
    for (const [arm, items] of [["A", p.a!], ["B", p.b!]] as const) {
      if (items.hash !== ref.hash) {
        throw new ItemsMismatchError(
          `cannot pair: seed ${p.seed} (${arm}) was evaluated on items ${items.hash}, seed ${pairs[0].seed} (A) on ` +
            `${ref.hash}; rerun both on the same evaluation`,
        );
      }
    }
  }
  const taskSet = (items: ItemResults) => TASKS.filter((t) => items.perTask[t] !== undefined).join(",");
  for (const p of pairs) {
    for (const [arm, items] of [["A", p.a!], ["B", p.b!]] as const) {
      if (taskSet(items) !== taskSet(ref)) {
        throw new ItemsMismatchError(
          `cannot pair: seed ${p.seed} (${arm}) was evaluated on tasks ${taskSet(items)}, seed ${
            pairs[0].seed
          } (A) on ${taskSet(ref)}`,
        );
      }
    }
  }
  const tasks = task ? [task] : TASKS.filter((t) => ref.perTask[t] !== undefined);
  if (tasks.length === 0 || !ref.perTask[tasks[0]]) {
    throw new NotTestedError(task ? `task ${task} was not evaluated` : "no evaluated tasks");
  }
  const seeds = pairs.map((p) =>
    tasks.map((t) => {
      const a = p.a!.perTask[t];
      const b = p.b!.perTask[t];
      if (!a || !b || a.n !== b.n) {
        throw new ItemsMismatchError(`cannot pair: task ${t} of seed ${p.seed} has ${a?.n ?? 0} vs ${b?.n ?? 0} items`);
      }
      return { a: decodeBits(a.bits, a.n), b: decodeBits(b.bits, b.n) };
    })
  );
  return { tasks, seeds };
}

/** The arms' item pairs for labels `a` and `b` (`b` may be FROZEN_BASE), paired by seed. */
export function armPairs(rows: CellRow[], protocol: Protocol, a: string, b: string): ItemPair[] {
  const as = rowsBySeed(rows, a);
  if (as.size === 0) throw new NotTestedError(`not run (no rows of ${a})`);
  if (b === FROZEN_BASE) {
    return [...as].map(([seed, r]) => ({ seed, a: r.results[protocol]?.items, b: r.baseline[protocol]?.items }));
  }
  const bs = rowsBySeed(rows, b);
  if (bs.size === 0) throw new NotTestedError(`not run (no rows of ${b})`);
  const seeds = [...as.keys()].filter((s) => bs.has(s)).sort((x, y) => x - y);
  if (seeds.length === 0) throw new NotTestedError(`${a} and ${b} share no seed`);
  return seeds.map((seed) => ({
    seed,
    a: as.get(seed)!.results[protocol]?.items,
    b: bs.get(seed)!.results[protocol]?.items,
  }));
}

/** Mean accuracy of one arm over seeds and items, macro-averaged over tasks. */
function armMean(seeds: PairedTask[][], arm: "a" | "b"): number {
  const nTasks = seeds[0].length;
  let total = 0;
  for (let t = 0; t < nTasks; t++) {
    let s = 0;
    let n = 0;
    for (const seed of seeds) {
      const xs = seed[t][arm];
      for (let i = 0; i < xs.length; i++) s += xs[i];
      n += xs.length;
    }
    total += s / n;
  }
  return total / nTasks;
}

/** Δ = A − B with its CI, A's and B's mean accuracy, and how many items each seed contributes. */
export function itemContrast(
  rows: CellRow[],
  protocol: Protocol,
  a: string,
  b: string,
  task?: TaskName,
): { interval: Interval; meanA: number; meanB: number; items: number } {
  const { seeds } = pairItems(armPairs(rows, protocol, a, b), task);
  return {
    interval: hierarchicalPairedBootstrap(seeds),
    meanA: armMean(seeds, "a"),
    meanB: armMean(seeds, "b"),
    items: seeds[0].reduce((n, t) => n + t.a.length, 0),
  };
}

export type ClaimDirection = "greater" | "less" | "within";

export interface PairedClaimSpec {
  claim: string;
  source: string;
  /** Group labels (row `label`); `b` may be FROZEN_BASE. */
  a: string;
  b: string;
  /** "A > B", "A < B", or "|A − B| ≤ margin". */
  direction: ClaimDirection;
  /** In points: "A beats B by more than `margin`" (greater), "A below B by more than" (less), or the band (within). */
  margin?: number;
  /** One task instead of the macro average. */
  task?: TaskName;
  /** Short names for the evidence (default: the labels). */
  names?: [string, string];
}

function verdictFor(ci: Interval, direction: ClaimDirection, marginPts: number): Verdict {
  const m = marginPts / 100;
  return direction === "within" ? verdictWithin(ci, m) : verdictOf(ci, direction, m);
}

/** The "not tested" check for an error a contrast raised (rethrows anything else). */
export function notTestedClaim(claim: string, source: string, e: unknown): ClaimCheck {
  if (e instanceof NotTestedError || e instanceof ItemsMismatchError) {
    return { claim, source, verdict: null, evidence: `not tested: ${e.message}` };
  }
  throw e;
}

/**
 * A claim about accuracy, "A > B" / "A < B" / "A ≈ B": rows of labels `a` and `b` paired by seed and item,
 * hierarchical paired bootstrap (2000 reps, fixed RNG seed), verdict from the 95 % CI.
 */
export function pairedClaim(rows: CellRow[], protocol: Protocol, spec: PairedClaimSpec): ClaimCheck {
  const { claim, source } = spec;
  try {
    const c = itemContrast(rows, protocol, spec.a, spec.b, spec.task);
    const [na, nb] = spec.names ?? [spec.a, spec.b];
    const pts = (x: number) => (x * 100).toFixed(1);
    return {
      claim,
      source,
      verdict: verdictFor(c.interval, spec.direction, spec.margin ?? 0),
      interval: c.interval,
      evidence: `${na} ${pts(c.meanA)} vs ${nb} ${pts(c.meanB)}${spec.task ? ` on ${spec.task}` : ""}: ${
        formatInterval(c.interval)
      } (${c.interval.n} seed${c.interval.n === 1 ? "" : "s"} × ${c.items} items)`,
    };
  } catch (e) {
    return notTestedClaim(claim, source, e);
  }
}

export interface SeedClaimSpec {
  claim: string;
  source: string;
  a: string;
  b: string;
  direction: "greater" | "less";
  /** The per-seed scalar compared (null: missing for that row). */
  value: (row: CellRow) => number | null;
  names?: [string, string];
  digits?: number;
}

/**
 * A claim about a per-seed scalar (active experts, router entropy, steps to converge): paired bootstrap over
 * seeds of value(A) − value(B); the evidence prints Δ [lo, hi] in the scalar's own unit.
 */
export function pairedSeedClaim(rows: CellRow[], spec: SeedClaimSpec): ClaimCheck {
  const { claim, source } = spec;
  const as = rowsBySeed(rows, spec.a);
  const bs = rowsBySeed(rows, spec.b);
  const pairs = [...as.keys()].filter((s) => bs.has(s)).sort((x, y) => x - y)
    .map((s) => [spec.value(as.get(s)!), spec.value(bs.get(s)!)] as const)
    .filter((p): p is readonly [number, number] => p[0] !== null && p[1] !== null);
  if (pairs.length === 0) return { claim, source, verdict: null, evidence: "not tested: not run" };
  const ci = pairedSeedBootstrap(pairs.map((p) => p[0]), pairs.map((p) => p[1]));
  const d = spec.digits ?? 2;
  const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
  const [na, nb] = spec.names ?? [spec.a, spec.b];
  return {
    claim,
    source,
    verdict: verdictOf(ci, spec.direction),
    interval: ci,
    evidence: `${na} ${mean(pairs.map((p) => p[0])).toFixed(d)} vs ${nb} ${mean(pairs.map((p) => p[1])).toFixed(d)}: ${
      formatInterval(ci, d, 1)
    } (${ci.n} seed${ci.n === 1 ? "" : "s"})`,
  };
}

/** Per-task contrasts A − B, each with its CI (tasks both arms were evaluated on). */
export function perTaskContrasts(
  rows: CellRow[],
  protocol: Protocol,
  a: string,
  b: string,
): { task: TaskName; interval: Interval; meanA: number; meanB: number }[] {
  const pairs = armPairs(rows, protocol, a, b);
  const { tasks } = pairItems(pairs);
  return tasks.map((task) => {
    const c = itemContrast(rows, protocol, a, b, task);
    return { task, interval: c.interval, meanA: c.meanA, meanB: c.meanB };
  });
}

/**
 * Per task, the CI of one label's accuracy itself (A − 0; seeds then items resampled as for a contrast).
 */
export function perTaskLevels(
  rows: CellRow[],
  protocol: Protocol,
  label: string,
): { task: TaskName; interval: Interval }[] {
  const as = [...rowsBySeed(rows, label)].map(([seed, r]) => ({ seed, items: r.results[protocol]?.items }));
  if (as.length === 0) throw new NotTestedError(`not run (no rows of ${label})`);
  const { tasks, seeds } = pairItems(as.map((x) => ({ seed: x.seed, a: x.items, b: x.items })));
  return tasks.map((task, k) => ({
    task,
    interval: hierarchicalPairedBootstrap(seeds.map((s) => [{ a: s[k].a, b: new Uint8Array(s[k].a.length) }])),
  }));
}

/** One row of a study's contrast table; numbers in points (accuracy × 100). */
export interface ContrastRow {
  label: string;
  delta: number;
  lo: number;
  hi: number;
  /** (hi − lo) / 2. */
  halfWidth: number;
  /** "holds": above the reference, "contradicted": below, "undecided": the CI spans 0; null: not tested. */
  verdict: Verdict | null;
  seeds: number;
  /** Why it was not tested. */
  note?: string;
}

/** Every label − reference on the macro-average accuracy, with paired bootstrap CIs. */
export function contrastTable(rows: CellRow[], protocol: Protocol, reference: string, labels: string[]): ContrastRow[] {
  return labels.filter((l) => l !== reference).map((label) => {
    try {
      const { interval: ci } = itemContrast(rows, protocol, label, reference);
      return {
        label,
        delta: ci.delta * 100,
        lo: ci.lo * 100,
        hi: ci.hi * 100,
        halfWidth: (ci.hi - ci.lo) * 50,
        verdict: verdictOf(ci, "greater"),
        seeds: ci.n,
      };
    } catch (e) {
      if (!(e instanceof NotTestedError || e instanceof ItemsMismatchError)) throw e;
      return { label, delta: NaN, lo: NaN, hi: NaN, halfWidth: NaN, verdict: null, seeds: 0, note: e.message };
    }
  });
}

function signed(x: number, digits = 1): string {
  const s = x.toFixed(digits);
  return Number(s) === 0 ? (0).toFixed(digits) : x > 0 ? `+${s}` : s;
}

/** Issue 14's power target: every contrast's 95 % CI half-width at most this many points. */
export const POWER_TARGET_POINTS = 2.0;

/** One line on whether a contrast table meets the power target, with its widest half-width. */
export function powerLine(table: ContrastRow[], target = POWER_TARGET_POINTS): string {
  const tested = table.filter((r) => r.verdict !== null);
  if (tested.length === 0) return `Power (every CI half-width ≤ ${target.toFixed(1)} points): not tested.`;
  const widest = tested.reduce((a, b) => (b.halfWidth > a.halfWidth ? b : a));
  const within = tested.filter((r) => r.halfWidth <= target).length;
  const head = `Power (every CI half-width ≤ ${target.toFixed(1)} points): `;
  const range = `half-widths ${Math.min(...tested.map((r) => r.halfWidth)).toFixed(1)}–${widest.halfWidth.toFixed(1)}`;
  return within === tested.length
    ? `${head}**met** (${range}, widest ${widest.label}).`
    : `${head}**not met**: ${within} of ${tested.length} within; ${range}, widest ${widest.label}, ` +
      `${(widest.halfWidth - target).toFixed(1)} over.`;
}

/** Markdown of a contrast table. */
export function contrastMarkdown(table: ContrastRow[], reference: string): string {
  const { columns, rows } = contrastCells(table, reference);
  const esc = (s: string) => s.replaceAll("|", "\\|");
  return [
    `| ${columns.map(esc).join(" | ")} |`,
    "| --- | ---: | --- | ---: | ---: | --- |",
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

/** The contrast table as a header and text cells (Markdown and the results explorer render it). */
export function contrastCells(table: ContrastRow[], reference: string): { columns: string[]; rows: string[][] } {
  const word = (r: ContrastRow) =>
    r.verdict === null
      ? `not tested: ${r.note ?? ""}`
      : r.verdict === "holds"
      ? "above"
      : r.verdict === "contradicted"
      ? "below"
      : "CI spans 0";
  return {
    columns: ["configuration", `Δ vs ${reference} (points)`, "95 % CI", "±", "seeds", "verdict"],
    rows: table.map((r) =>
      r.verdict === null ? [r.label, "–", "–", "–", "–", word(r)] : [
        r.label,
        signed(r.delta),
        `[${signed(r.lo)}, ${signed(r.hi)}]`,
        r.halfWidth.toFixed(1),
        `${r.seeds}`,
        word(r),
      ]
    ),
  };
}
