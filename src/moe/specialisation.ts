/**
 * Routing specialisation (statistics.md "Routing specialisation"): how much the routing weights tell about the
 * task, as the mutual information between task T and expert E, against a task-shuffled null.
 *
 * Each evaluated example x (a prompt, or all the rows of one record) contributes its routing sum s_x [N]: the
 * sum over its real tokens of the per-token weights renormalised to sum 1 (tokens whose weights are all zero —
 * sparse MoA where no type passes — contribute nothing). Its weight is w_x = Σ_e s_x[e] (its routed tokens)
 * and its distribution g_x = s_x / w_x. Token-weighted:
 *   p(t)     = Σ_{x∈t} w_x / Σ_x w_x                (the task's share of routed tokens)
 *   p(e | t) = Σ_{x∈t} w_x g_x[e] / Σ_{x∈t} w_x     (the mean normalised weight over the task's tokens)
 *   p(e)     = Σ_t p(t) p(e | t)
 *   I(T; E)  = Σ_t p(t) KL(p(e | t) ‖ p(e))         (nats)
 * normalised by log N (not by H(E)): 1 when every task routes all its weight to its own single expert and
 * there are at least N tasks; with K < N tasks the ceiling is log K / log N. Dividing by log N keeps one scale
 * across methods with the same N and does not inflate a router that is nearly one-hot for every task alike.
 *
 * The plug-in estimate is biased upward with finite samples, so it is read against a null: the same
 * statistic with the task labels shuffled across examples (weights travel with their examples), from a
 * seeded PRNG. Reported: the observed value, the null's mean and 95th percentile, observed / null95, and the
 * permutation p-value (1 + #{null ≥ observed}) / (1 + permutations).
 */
import { Rng } from "../util/rng.ts";

/** The specialisation of one layer's routing (one entry of `CellRow.routing.specialisation`). */
export interface LayerSpecialisation {
  /** Decoder layer. */
  layer: number;
  /** Experts (or MoA adapter types) of the layer's routers. */
  nExperts: number;
  /** Examples with routed tokens (the units the null shuffles). */
  examples: number;
  /** I(T; E) / log N. */
  nmi: number;
  /** Mean of the task-shuffled null (same normalisation). */
  nullMean: number;
  /** 95th percentile of the null. */
  null95: number;
  /** nmi / null95; null when null95 is 0 (JSON has no Infinity). */
  ratio: number | null;
  /** Permutation p-value, (1 + #{null ≥ nmi}) / (1 + permutations). */
  p: number;
  permutations: number;
}

export interface SpecialisationOptions {
  /** Task-shuffled null permutations (default 1000; at least 100 for the 95th percentile to mean much). */
  permutations?: number;
  /** Seed of the shuffles (default fixed, so a row's numbers are reproducible). */
  seed?: number;
}

export const DEFAULT_PERMUTATIONS = 1000;
const DEFAULT_SEED = 0x5bec;

/** Routing of a set of examples: `n` rows of `N` non-negative sums, flattened row-major, and a task index each. */
export interface ExampleRouting {
  nExperts: number;
  /** [n·N] per-example routing sums s_x (or any non-negative rows; each is weighted by its own total). */
  sums: Float64Array;
  /** [n] task index per example, in [0, nTasks). */
  labels: Int32Array;
  nTasks: number;
}

/** I(T; E) in nats for `labels` (which may be a permutation of `r.labels`). Rows with zero total are ignored. */
export function mutualInformation(r: ExampleRouting, labels: Int32Array = r.labels): number {
  const N = r.nExperts;
  const n = labels.length;
  const byTask = new Float64Array(r.nTasks * N);
  const pe = new Float64Array(N);
  for (let x = 0; x < n; x++) {
    const off = labels[x] * N;
    for (let e = 0; e < N; e++) {
      const v = r.sums[x * N + e];
      byTask[off + e] += v;
      pe[e] += v;
    }
  }
  let W = 0;
  for (let e = 0; e < N; e++) W += pe[e];
  if (!(W > 0)) return 0;
  let I = 0;
  for (let t = 0; t < r.nTasks; t++) {
    let Wt = 0;
    for (let e = 0; e < N; e++) Wt += byTask[t * N + e];
    if (!(Wt > 0)) continue;
    for (let e = 0; e < N; e++) {
      const s = byTask[t * N + e];
      // p(t) p(e|t) log(p(e|t) / p(e)) = (s/W) log((s/Wt) / (pe/W))
      if (s > 0) I += (s / W) * Math.log((s * W) / (Wt * pe[e]));
    }
  }
  return Math.max(0, I);
}

/** Percentile of sorted values with linear interpolation (type 7). */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * p;
  const i = Math.floor(h);
  return i + 1 < sorted.length ? sorted[i] + (h - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
}

/** Observed normalised MI and its task-shuffled null (without the layer fields). */
export function specialisation(
  r: ExampleRouting,
  opts: SpecialisationOptions = {},
): Omit<LayerSpecialisation, "layer"> {
  const P = opts.permutations ?? DEFAULT_PERMUTATIONS;
  if (!Number.isInteger(P) || P < 1) throw new Error(`specialisation: permutations must be ≥ 1, got ${P}`);
  const N = r.nExperts;
  if (r.sums.length !== r.labels.length * N) {
    throw new Error(`specialisation: ${r.sums.length} sums for ${r.labels.length} examples × ${N} experts`);
  }
  // Examples without routed tokens carry no information and are not shuffled.
  const keep: number[] = [];
  for (let x = 0; x < r.labels.length; x++) {
    let w = 0;
    for (let e = 0; e < N; e++) w += r.sums[x * N + e];
    if (w > 0) keep.push(x);
  }
  const sums = new Float64Array(keep.length * N);
  const labels = new Int32Array(keep.length);
  keep.forEach((x, i) => {
    sums.set(r.sums.subarray(x * N, (x + 1) * N), i * N);
    labels[i] = r.labels[x];
  });
  const kept: ExampleRouting = { nExperts: N, sums, labels, nTasks: r.nTasks };
  const norm = N > 1 ? Math.log(N) : 1;
  // Float noise of an exactly-zero MI (identical distributions) is snapped to 0.
  const stat = (ls?: Int32Array) => {
    const v = mutualInformation(kept, ls) / norm;
    return v < 1e-12 ? 0 : v;
  };
  const nmi = stat();
  const rng = new Rng(opts.seed ?? DEFAULT_SEED);
  const shuffled = Int32Array.from(labels);
  const nulls = new Float64Array(P);
  let atLeast = 0;
  for (let k = 0; k < P; k++) {
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = shuffled[i];
      shuffled[i] = shuffled[j];
      shuffled[j] = t;
    }
    nulls[k] = stat(shuffled);
    // A relative tolerance so a permutation that reproduces the observed grouping counts as "at least".
    if (nulls[k] >= nmi * (1 - 1e-9) - 1e-15) atLeast++;
  }
  nulls.sort();
  const null95 = percentile(nulls, 0.95);
  return {
    nExperts: N,
    examples: keep.length,
    nmi,
    nullMean: nulls.reduce((a, b) => a + b, 0) / P,
    null95,
    ratio: null95 > 0 ? nmi / null95 : null,
    p: (1 + atLeast) / (1 + P),
    permutations: P,
  };
}

/**
 * Per-example routing per layer, accumulated over evaluation batches: each call adds examples (their layer
 * sums, read back from the device) under a task; rows of one record (multi-token candidates) are summed into
 * one example by `owner` ids.
 */
export class SpecialisationCollector {
  private tasks = new Map<string, number>();
  private owners = new Map<unknown, number>();
  private labels: number[] = [];
  /** layer → { nExperts, sums per example (grown on demand) }. */
  private layers = new Map<number, { nExperts: number; sums: number[][] }>();

  /**
   * Add one batch: `layers[i]` covers columns offset…offset+nExperts of the row-major `data` [rows, width];
   * `owners[b]` is the example of row b (any value, compared by identity: e.g. the record; rows with the same
   * owner are summed).
   */
  add(
    task: string,
    owners: readonly unknown[],
    layers: { layer: number; nExperts: number; offset: number }[],
    data: ArrayLike<number>,
    width: number,
  ): void {
    if (!this.tasks.has(task)) this.tasks.set(task, this.tasks.size);
    const t = this.tasks.get(task)!;
    const index = owners.map((o) => {
      let i = this.owners.get(o);
      if (i === undefined) {
        i = this.labels.length;
        this.owners.set(o, i);
        this.labels.push(t);
      }
      return i;
    });
    for (const { layer, nExperts, offset } of layers) {
      let acc = this.layers.get(layer);
      if (!acc) this.layers.set(layer, acc = { nExperts, sums: [] });
      if (acc.nExperts !== nExperts) {
        throw new Error(`layer ${layer}: routing over ${nExperts} experts, earlier ${acc.nExperts}`);
      }
      index.forEach((x, b) => {
        const row = acc!.sums[x] ??= new Array(nExperts).fill(0);
        for (let e = 0; e < nExperts; e++) row[e] += data[b * width + offset + e];
      });
    }
  }

  /** Examples collected so far. */
  get size(): number {
    return this.labels.length;
  }

  /** The collected routing of one layer (examples a layer never saw get zero sums, and are dropped later). */
  routing(layer: number): ExampleRouting | null {
    const acc = this.layers.get(layer);
    if (!acc) return null;
    const N = acc.nExperts;
    const sums = new Float64Array(this.labels.length * N);
    acc.sums.forEach((row, x) => row && sums.set(row, x * N));
    return { nExperts: N, sums, labels: Int32Array.from(this.labels), nTasks: this.tasks.size };
  }

  /** Specialisation of every layer, by layer index. */
  result(opts: SpecialisationOptions = {}): LayerSpecialisation[] {
    return [...this.layers.keys()].sort((a, b) => a - b).map((layer) => ({
      layer,
      ...specialisation(this.routing(layer)!, opts),
    }));
  }
}
