/**
 * Timing statistics for the benchmarks: repeat an async step after warm-up until both a minimum number of
 * repetitions and a minimum time are reached, then summarise the samples by median and interquartile range.
 */

/** Summary of repeated timings, all in milliseconds. */
export interface Timing {
  median: number;
  /** First and third quartiles (linear interpolation, as numpy's default). */
  q1: number;
  q3: number;
  min: number;
  max: number;
  reps: number;
}

/** How long to time one cell. */
export interface TimingPlan {
  /** Untimed runs first (kernel compilation, buffer pools, JIT). */
  warmup: number;
  /** At least this many timed repetitions… */
  minReps: number;
  /** …and keep repeating until this much time has passed… */
  minMs: number;
  /** …but never more than this many. */
  maxReps: number;
}

/** The q-quantile (0 ≤ q ≤ 1) of ascending `sorted`, linearly interpolated. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median, quartiles and range of `samples` (ms). */
export function summarize(samples: readonly number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  return {
    median: quantile(s, 0.5),
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
    min: s[0] ?? NaN,
    max: s.at(-1) ?? NaN,
    reps: s.length,
  };
}

/** Time `step` (which must await its own completion) per `plan`; returns the summary of the timed runs. */
export async function timeSteps(step: () => Promise<void>, plan: TimingPlan): Promise<Timing> {
  for (let i = 0; i < plan.warmup; i++) await step();
  const samples: number[] = [];
  const start = performance.now();
  while (
    samples.length < plan.maxReps && (samples.length < plan.minReps || performance.now() - start < plan.minMs)
  ) {
    const t0 = performance.now();
    await step();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

/** Geometric mean of positive values (NaN for none). */
export function geomean(xs: readonly number[]): number {
  const ok = xs.filter((x) => x > 0 && Number.isFinite(x));
  if (ok.length === 0) return NaN;
  return Math.exp(ok.reduce((s, x) => s + Math.log(x), 0) / ok.length);
}

/**
 * Time several steps in interleaved rounds (one run of each per round, in turn) so that a change in machine
 * load falls on all of them alike: after `warmup` runs of each, rounds continue until every step has
 * `minReps` samples and the rounds have taken `minMs` per step, at most `maxReps` rounds. Each round starts
 * one step later than the last, so a cost one step leaves behind (garbage collection after a big step) does
 * not always land on the same neighbour.
 */
export async function timeInterleaved(steps: (() => Promise<void>)[], plan: TimingPlan): Promise<Timing[]> {
  for (const step of steps) for (let i = 0; i < plan.warmup; i++) await step();
  const samples = steps.map(() => [] as number[]);
  const start = performance.now();
  for (let round = 0; round < plan.maxReps; round++) {
    if (round >= plan.minReps && performance.now() - start >= plan.minMs * steps.length) break;
    for (let j = 0; j < steps.length; j++) {
      const i = (j + round) % steps.length;
      const t0 = performance.now();
      await steps[i]();
      samples[i].push(performance.now() - t0);
    }
  }
  return samples.map(summarize);
}

/** Median GFLOP/s of `run`, which performs `flop` floating-point operations, over repetitions lasting ≥ minMs. */
export async function gflopRate(flop: number, minMs: number, run: () => Promise<void> | void): Promise<number> {
  await run(); // warm-up
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || performance.now() - start < minMs) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
    if (times.length >= 50) break;
  }
  times.sort((a, b) => a - b);
  return flop / (times[Math.floor(times.length / 2)] * 1e6);
}
