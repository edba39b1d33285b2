/**
 * Paired bootstrap confidence intervals for the studies' claims (see shared/design/statistics.md).
 *
 * All cells of a study share the seeds and the test items, so a contrast A − B is paired: resample seeds
 * with replacement, then, for each drawn seed, the items of each task with replacement (the same items for
 * A and B). The average is a mean of task means (macro average, as the tables report). The CI is the
 * 2.5th–97.5th percentile of the resampled Δ; the point estimate is Δ on the full data. A fixed RNG seed
 * makes every interval reproducible.
 */

import { Rng } from "../util/rng.ts";

/** A contrast with its 95 % CI. Values are in the scale of the inputs (fractions for per-item results). */
export interface Interval {
  delta: number;
  lo: number;
  hi: number;
  /** Number of seeds (paired units). */
  n: number;
}

export type Verdict = "holds" | "contradicted" | "undecided";

export interface BootstrapOptions {
  /** Bootstrap replicates (default 2000). */
  reps?: number;
  /** Seed of the resampling RNG (default fixed, so reports are reproducible). */
  rngSeed?: number;
}

export const DEFAULT_REPS = 2000;
export const DEFAULT_RNG_SEED = 0x5eed;

function options(opts?: BootstrapOptions): { reps: number; rng: Rng } {
  const reps = opts?.reps ?? DEFAULT_REPS;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`bootstrap: reps must be a positive integer, got ${reps}`);
  return { reps, rng: new Rng(opts?.rngSeed ?? DEFAULT_RNG_SEED) };
}

/** Percentile of sorted values with linear interpolation (type 7). */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 1) return sorted[0];
  const h = (sorted.length - 1) * p;
  const i = Math.floor(h);
  const f = h - i;
  return i + 1 < sorted.length ? sorted[i] + f * (sorted[i + 1] - sorted[i]) : sorted[i];
}

function interval(delta: number, stats: Float64Array, n: number): Interval {
  stats.sort();
  // The CI always contains the point estimate (in a rare, very skewed case the percentiles alone may not:
  // widening to it is conservative).
  const lo = Math.min(percentile(stats, 0.025), delta);
  const hi = Math.max(percentile(stats, 0.975), delta);
  return { delta, lo: clean(lo), hi: clean(hi), n };
}

function clean(x: number): number {
  return Math.abs(x) < 1e-12 ? 0 : x;
}

/** One-sample bootstrap over seeds: CI of the mean of `x`. */
export function seedMeanBootstrap(x: number[], opts?: BootstrapOptions): Interval {
  const n = x.length;
  if (n === 0) throw new Error("seedMeanBootstrap: no values");
  if (x.some((v) => !Number.isFinite(v))) throw new Error("seedMeanBootstrap: non-finite value");
  const { reps, rng } = options(opts);
  const xs = Float64Array.from(x);
  let total = 0;
  for (let i = 0; i < n; i++) total += xs[i];
  const stats = new Float64Array(reps);
  for (let r = 0; r < reps; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += xs[(rng.next() * n) | 0];
    stats[r] = s / n;
  }
  return interval(total / n, stats, n);
}

/** Paired bootstrap over seeds of per-seed scalars (a[i], b[i] from the same seed): Δ = mean(a − b), CI = 2.5/97.5 percentiles. */
export function pairedSeedBootstrap(a: number[], b: number[], opts?: BootstrapOptions): Interval {
  if (a.length !== b.length) throw new Error(`pairedSeedBootstrap: ${a.length} vs ${b.length} values (unpaired)`);
  return seedMeanBootstrap(a.map((v, i) => v - b[i]), opts);
}

/** Per-item correctness of A and B on one task for one seed, in the same item order. */
export interface PairedTask {
  a: Uint8Array;
  b: Uint8Array;
}

/**
 * Hierarchical paired bootstrap (seeds, then items). `seeds[s][t]` holds the per-item correctness (0/1) of A
 * and B for seed s on task t; every seed must list the same tasks with the same item counts. Δ is the mean
 * over tasks of the per-task mean of correct_A − correct_B (a single task is the plain mean).
 */
export function hierarchicalPairedBootstrap(seeds: PairedTask[][], opts?: BootstrapOptions): Interval {
  const nSeeds = seeds.length;
  if (nSeeds === 0) throw new Error("hierarchicalPairedBootstrap: no seeds");
  const nTasks = seeds[0].length;
  if (nTasks === 0) throw new Error("hierarchicalPairedBootstrap: no tasks");
  const sizes = seeds[0].map((t) => t.a.length);
  // diffs[s][t][i] = correct_A − correct_B ∈ {−1, 0, 1}; sums[s][t] = Σ_i diffs.
  const diffs: Int8Array[][] = [];
  const sums = new Float64Array(nSeeds * nTasks);
  for (let s = 0; s < nSeeds; s++) {
    if (seeds[s].length !== nTasks) {
      throw new Error(`hierarchicalPairedBootstrap: seed ${s} has ${seeds[s].length} tasks, seed 0 has ${nTasks}`);
    }
    const row: Int8Array[] = [];
    for (let t = 0; t < nTasks; t++) {
      const { a, b } = seeds[s][t];
      const n = sizes[t];
      if (a.length !== n || b.length !== n) {
        throw new Error(
          `hierarchicalPairedBootstrap: task ${t} of seed ${s} has ${a.length}/${b.length} items, expected ${n}`,
        );
      }
      if (n === 0) throw new Error(`hierarchicalPairedBootstrap: task ${t} has no items`);
      const d = new Int8Array(n);
      let sum = 0;
      for (let i = 0; i < n; i++) {
        d[i] = (a[i] ? 1 : 0) - (b[i] ? 1 : 0);
        sum += d[i];
      }
      row.push(d);
      sums[s * nTasks + t] = sum;
    }
    diffs.push(row);
  }
  let delta = 0;
  for (let t = 0; t < nTasks; t++) {
    let s = 0;
    for (let k = 0; k < nSeeds; k++) s += sums[k * nTasks + t];
    delta += s / (nSeeds * sizes[t]);
  }
  delta /= nTasks;

  const { reps, rng } = options(opts);
  const stats = new Float64Array(reps);
  const taskSums = new Float64Array(nTasks);
  for (let r = 0; r < reps; r++) {
    taskSums.fill(0);
    for (let k = 0; k < nSeeds; k++) {
      const row = diffs[(rng.next() * nSeeds) | 0];
      for (let t = 0; t < nTasks; t++) {
        const d = row[t];
        const n = d.length;
        let s = 0;
        for (let i = 0; i < n; i++) s += d[(rng.next() * n) | 0];
        taskSums[t] += s;
      }
    }
    let m = 0;
    for (let t = 0; t < nTasks; t++) m += taskSums[t] / (nSeeds * sizes[t]);
    stats[r] = m / nTasks;
  }
  return interval(clean(delta), stats, nSeeds);
}

/**
 * Claim "A > B" (direction "greater") or "A < B" ("less"): holds if the CI excludes 0 in that direction,
 * contradicted if it excludes 0 the other way, else undecided. With `margin` m (in the interval's scale) the
 * claim is "A − B > m" (greater) or "A − B < −m" (less): holds if the CI lies beyond it, contradicted if the CI
 * lies wholly on the other side.
 */
export function verdictOf(ci: Interval, direction: "greater" | "less", margin = 0): Verdict {
  if (direction === "greater") return ci.lo > margin ? "holds" : ci.hi < margin ? "contradicted" : "undecided";
  return ci.hi < -margin ? "holds" : ci.lo > -margin ? "contradicted" : "undecided";
}

/** Claim "|A − B| ≤ margin" (equivalence): holds if the CI lies within ±margin, contradicted if it lies wholly outside. */
export function verdictWithin(ci: Interval, margin: number): Verdict {
  if (ci.lo >= -margin && ci.hi <= margin) return "holds";
  return ci.lo > margin || ci.hi < -margin ? "contradicted" : "undecided";
}

/** All of several verdicts: contradicted if any is, holds if all do, else undecided. */
export function allOf(verdicts: Verdict[]): Verdict {
  if (verdicts.includes("contradicted")) return "contradicted";
  return verdicts.length && verdicts.every((v) => v === "holds") ? "holds" : "undecided";
}

function signed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  // Avoid "-0.0" and give positives an explicit sign.
  if (Number(s) === 0) return (0).toFixed(digits);
  return x > 0 ? `+${s}` : s;
}

/**
 * "Δ +1.2 [+0.3, +2.1]": the interval in points (fractions × 100) with the given digits; pass `scale` 1 for
 * values already in their own unit (active experts, entropy, steps).
 */
export function formatInterval(ci: Interval, digits = 1, scale = 100): string {
  const f = (x: number) => signed(x * scale, digits);
  return `Δ ${f(ci.delta)} [${f(ci.lo)}, ${f(ci.hi)}]`;
}
