import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../testing/asserts.ts";
import { Rng } from "../util/rng.ts";
import {
  allOf,
  formatInterval,
  hierarchicalPairedBootstrap,
  type Interval,
  pairedSeedBootstrap,
  type PairedTask,
  seedMeanBootstrap,
  verdictOf,
  verdictWithin,
} from "./paired.ts";

const bits = (xs: number[]) => Uint8Array.from(xs);
const task = (a: number[], b: number[]): PairedTask => ({ a: bits(a), b: bits(b) });

Deno.test("hierarchical bootstrap, two seeds × four items by hand: Δ* takes 1, ½, 0 with p ¼, ½, ¼", () => {
  // Seed 1: A right on every item, B on none (Δ 1 whatever items are drawn); seed 2: A and B agree (Δ 0).
  const ci = hierarchicalPairedBootstrap([[task([1, 1, 1, 1], [0, 0, 0, 0])], [task([1, 0, 1, 0], [1, 0, 1, 0])]]);
  assertEquals(ci, { delta: 0.5, lo: 0, hi: 1, n: 2 });
});

Deno.test("hierarchical bootstrap, one seed × four items by hand: Δ* = k/4, k ~ Bin(4, ¼); 97.5th pct is ¾", () => {
  // P(k ≤ 2) = 0.949 < 0.975 < P(k ≤ 3) = 0.996, and P(k = 0) = 0.316 > 0.025.
  const ci = hierarchicalPairedBootstrap([[task([1, 1, 0, 0], [0, 1, 0, 0])]]);
  assertEquals(ci, { delta: 0.25, lo: 0, hi: 0.75, n: 1 });
});

Deno.test("hierarchical bootstrap: identical A and B give Δ 0 and CI [0, 0]", () => {
  const rng = new Rng(3);
  const seeds = [0, 1, 2].map(() =>
    [50, 30].map((n) => {
      const a = Uint8Array.from({ length: n }, () => (rng.next() < 0.6 ? 1 : 0));
      return { a, b: a.slice() };
    })
  );
  const ci = hierarchicalPairedBootstrap(seeds);
  assertEquals(ci, { delta: 0, lo: 0, hi: 0, n: 3 });
  assertEquals(formatInterval(ci), "Δ 0.0 [0.0, 0.0]");
  assertEquals(verdictOf(ci, "greater"), "undecided");
});

/** Same draws as the implementation (a seed, then each task's items, then the next seed), written plainly. */
function naive(seeds: PairedTask[][], reps: number, rngSeed: number): number[] {
  const rng = new Rng(rngSeed);
  const out: number[] = [];
  for (let r = 0; r < reps; r++) {
    const taskMeans = seeds[0].map(() => [] as number[]);
    for (let k = 0; k < seeds.length; k++) {
      const s = seeds[Math.floor(rng.next() * seeds.length)];
      s.forEach((t, k) => {
        for (let i = 0; i < t.a.length; i++) {
          const j = Math.floor(rng.next() * t.a.length);
          taskMeans[k].push(t.a[j] - t.b[j]);
        }
      });
    }
    const means = taskMeans.map((xs) => xs.reduce((a, b) => a + b, 0) / xs.length);
    out.push(means.reduce((a, b) => a + b, 0) / means.length);
  }
  return out.sort((a, b) => a - b);
}

Deno.test("hierarchical bootstrap: matches a naive implementation; Δ is the macro average of task means", () => {
  const rng = new Rng(11);
  const gen = (n: number, p: number) => Array.from({ length: n }, () => (rng.next() < p ? 1 : 0));
  const seeds = [0, 1, 2].map(() => [task(gen(7, 0.7), gen(7, 0.5)), task(gen(20, 0.4), gen(20, 0.45))]);
  const ci = hierarchicalPairedBootstrap(seeds, { reps: 400, rngSeed: 9 });
  // full-data Δ: per task, mean over all (seed, item) differences; then the mean of the two task means
  const taskDelta = (k: number) => {
    const ds = seeds.flatMap((s) => Array.from(s[k].a, (v, i) => v - s[k].b[i]));
    return ds.reduce((a, b) => a + b, 0) / ds.length;
  };
  assertAlmostEquals(ci.delta, (taskDelta(0) + taskDelta(1)) / 2, 1e-12);
  const ref = naive(seeds, 400, 9);
  const pct = (p: number) => {
    const h = (ref.length - 1) * p;
    const i = Math.floor(h);
    return ref[i] + (h - i) * (ref[i + 1] - ref[i]);
  };
  assertAlmostEquals(ci.lo, Math.min(pct(0.025), ci.delta), 1e-12);
  assertAlmostEquals(ci.hi, Math.max(pct(0.975), ci.delta), 1e-12);
  assertEquals(ci.n, 3);
});

Deno.test("hierarchical bootstrap: clearly better A holds, clearly worse is contradicted; reproducible", () => {
  const rng = new Rng(5);
  const gen = (n: number, p: number) => Uint8Array.from({ length: n }, () => (rng.next() < p ? 1 : 0));
  const seeds = [0, 1, 2, 3].map(() => [{ a: gen(300, 0.8), b: gen(300, 0.5) }]);
  const better = hierarchicalPairedBootstrap(seeds);
  assert(better.lo > 0.2 && better.hi < 0.4, `${JSON.stringify(better)}`);
  assertEquals(verdictOf(better, "greater"), "holds");
  assertEquals(verdictOf(better, "less"), "contradicted");
  const worse = hierarchicalPairedBootstrap(seeds.map((s) => s.map(({ a, b }) => ({ a: b, b: a }))));
  assertEquals(verdictOf(worse, "greater"), "contradicted");
  assertAlmostEquals(worse.delta, -better.delta, 1e-12);
  assertEquals(hierarchicalPairedBootstrap(seeds), better); // fixed default RNG seed
  assert(JSON.stringify(hierarchicalPairedBootstrap(seeds, { rngSeed: 1 })) !== JSON.stringify(better));
});

Deno.test("hierarchical bootstrap: refuses mismatched shapes", () => {
  assertThrows(() => hierarchicalPairedBootstrap([]), Error, "no seeds");
  assertThrows(() => hierarchicalPairedBootstrap([[task([1, 0], [1])]]), Error, "expected 2");
  assertThrows(
    () => hierarchicalPairedBootstrap([[task([1], [1])], [task([1], [1]), task([1], [0])]]),
    Error,
    "seed 1 has 2 tasks",
  );
});

Deno.test("hierarchical bootstrap: 2000 reps × 5 seeds × 2000 items is fast", () => {
  const rng = new Rng(1);
  const gen = () => Uint8Array.from({ length: 2000 }, () => (rng.next() < 0.7 ? 1 : 0));
  const seeds = [0, 1, 2, 3, 4].map(() => [{ a: gen(), b: gen() }]);
  const t0 = performance.now();
  hierarchicalPairedBootstrap(seeds);
  const ms = performance.now() - t0;
  // well under a second alone; generous here because tests share two cores
  assert(ms < 3000, `took ${ms.toFixed(0)} ms`);
});

Deno.test("seed bootstraps: point estimate is the full-data mean; identical pairs give [0, 0]", () => {
  const one = seedMeanBootstrap([2, 4]);
  // resampled means are 2, 3 or 4 with p ¼, ½, ¼
  assertEquals(one, { delta: 3, lo: 2, hi: 4, n: 2 });
  assertEquals(pairedSeedBootstrap([1, 2, 3], [1, 2, 3]), { delta: 0, lo: 0, hi: 0, n: 3 });
  const d = pairedSeedBootstrap([5, 6, 7, 8], [1, 1, 2, 2]);
  assertEquals(d.delta, 5);
  assertEquals([d.lo >= 4, d.hi <= 6], [true, true]);
  assertThrows(() => pairedSeedBootstrap([1], [1, 2]), Error, "unpaired");
  assertThrows(() => seedMeanBootstrap([]), Error, "no values");
});

Deno.test("verdicts and formatting", () => {
  const ci = (lo: number, hi: number): Interval => ({ delta: (lo + hi) / 2, lo, hi, n: 3 });
  assertEquals(verdictOf(ci(0.01, 0.03), "greater"), "holds");
  assertEquals(verdictOf(ci(-0.03, -0.01), "greater"), "contradicted");
  assertEquals(verdictOf(ci(-0.01, 0.03), "greater"), "undecided");
  assertEquals(verdictOf(ci(-0.03, -0.01), "less"), "holds");
  assertEquals(verdictOf(ci(0, 0), "less"), "undecided");
  // with a margin: "beats by more than 10 points"
  assertEquals(verdictOf(ci(0.12, 0.2), "greater", 0.1), "holds");
  assertEquals(verdictOf(ci(0.02, 0.08), "greater", 0.1), "contradicted");
  assertEquals(verdictOf(ci(0.05, 0.15), "greater", 0.1), "undecided");
  assertEquals(verdictWithin(ci(-0.005, 0.008), 0.01), "holds");
  assertEquals(verdictWithin(ci(0.02, 0.04), 0.01), "contradicted");
  assertEquals(verdictWithin(ci(-0.005, 0.02), 0.01), "undecided");
  assertEquals(allOf(["holds", "holds"]), "holds");
  assertEquals(allOf(["holds", "undecided"]), "undecided");
  assertEquals(allOf(["holds", "contradicted", "undecided"]), "contradicted");
  assertEquals(formatInterval({ delta: 0.012, lo: 0.003, hi: 0.021, n: 3 }), "Δ +1.2 [+0.3, +2.1]");
  assertEquals(formatInterval({ delta: -0.0123, lo: -0.03, hi: 0.00001, n: 3 }, 2), "Δ -1.23 [-3.00, 0.00]");
  assertEquals(formatInterval({ delta: 0.5, lo: 0.25, hi: 1, n: 3 }, 2, 1), "Δ +0.50 [+0.25, +1.00]");
});
