/**
 * The studies' claims on synthetic rows: every verdict comes from a paired bootstrap CI, every tested claim's
 * evidence prints Δ [lo, hi], and old rows without per-item results render as "not tested".
 */
import { claimVerdict } from "../src/experiment/study.ts";
import type { CellRow } from "../src/experiment/cell.ts";
import { studySection } from "../src/report/report.ts";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { bernoulli, fakeRow, type FakeRowOptions } from "../src/testing/rows.ts";
import { Rng } from "../src/util/rng.ts";
import { thresholdClaims } from "./adamole_threshold.ts";
import { compare, compareClaims } from "./compare.ts";
import { dynmoleClaims } from "./dynmole_q.ts";
import { moaClaims } from "./moa_sparsity.ts";

const SEEDS = [0, 1, 2];

/** Rows of `label` on boolq and piqa (300 items each) with accuracy p, for every seed. */
function arm(label: string, p: number | [number, number], rng: Rng, opts: FakeRowOptions = {}): CellRow[] {
  const [pb, pp] = typeof p === "number" ? [p, p] : p;
  return SEEDS.map((s) => fakeRow(label, s, { boolq: bernoulli(300, pb, rng), piqa: bernoulli(300, pp, rng) }, opts));
}

function compareRows(lora: [number, number], items = true): CellRow[] {
  const rng = new Rng(21);
  const baseline = { boolq: bernoulli(300, 0.5, rng), piqa: bernoulli(300, 0.5, rng) };
  const opts = { baseline, items };
  return [
    ...arm("LoRA", lora, rng, opts),
    ...arm("MoLE top-2", 0.85, rng, opts),
    ...arm("AdaMoLE", 0.95, rng, opts),
    ...arm("DynMoLE", 0.55, rng, opts),
    ...arm("MoLA 2-6", 0.75, rng, opts),
  ];
}

const verdicts = (cs: ReturnType<typeof compareClaims>) => cs.map((c) => c.verdict);

Deno.test("compare claims: per-task suite checks against the frozen base and method contrasts, from CIs", () => {
  // the first six: the suite checks and the papers' accuracy orderings (later claims use other row fields)
  const claims = compareClaims(compareRows([0.75, 0.75])).slice(0, 6);
  assertEquals(claims.map((c) => c.claim.slice(0, 30)), [
    "The suite is learnable: LoRA b",
    "The suite is not at ceiling: n",
    "AdaMoLE beats MoLE (top-k)",
    "MoLE beats LoRA",
    "DynMoLE beats LoRA",
    "DynMoLE beats MoLA",
  ]);
  assertEquals(verdicts(claims), ["holds", "holds", "holds", "holds", "contradicted", "contradicted"]);
  for (const c of claims) assert(/\[[-+]?\d+\.\d, [-+]?\d+\.\d\]/.test(c.evidence), c.evidence);
  assert(claims[0].evidence.startsWith("Δ LoRA − frozen base per task (points, 95 % CI): boolq +"), claims[0].evidence);
  assert(claims[0].evidence.includes("; piqa +"));
  // one task no better than the base: LoRA does not beat it by 10 points there
  const weak = compareClaims(compareRows([0.75, 0.45]));
  assertEquals(weak[0].verdict, "contradicted");
  // one task at ceiling
  const easy = compareClaims(compareRows([0.995, 0.75]));
  assertEquals(easy[1].verdict, "contradicted");
  assert(easy[1].evidence.includes("highest task boolq 99."), easy[1].evidence);
});

Deno.test("compare: old rows without per-item results are not tested, and the report section still renders", async () => {
  const rows = compareRows([0.75, 0.75], false);
  const claims = compareClaims(rows);
  assertEquals(verdicts(claims), claims.map(() => null));
  for (const c of claims.slice(0, 6)) {
    assertEquals([claimVerdict(c), c.evidence], ["not tested", "not tested: rows lack per-item results; rerun"]);
  }
  const md = await studySection({ study: compare, rows, dir: "/nonexistent" }, "/nonexistent");
  assert(md.includes("| verdict (95 % CI) |"), md);
  assert(md.includes("Each configuration − LoRA"), md);
  assert(md.includes("| MoLE top-2 | – | – | – | – | not tested: rows lack per-item results; rerun |"), md);
});

Deno.test("compare report: the contrast table lists each method − LoRA with its CI", async () => {
  const md = await studySection({ study: compare, rows: compareRows([0.75, 0.75]), dir: "/nonexistent" }, "/x");
  assert(md.includes("| configuration | Δ vs LoRA (points) | 95 % CI | ± | seeds | verdict |"), md);
  assert(/\| AdaMoLE \| \+\d+\.\d \| \[\+\d+\.\d, \+\d+\.\d\] \| \d+\.\d \| 3 \| above \|/.test(md), md);
  assert(/\| DynMoLE \| -\d+\.\d \| \[-\d+\.\d, -\d+\.\d\] \| \d+\.\d \| 3 \| below \|/.test(md), md);
  assert(!md.includes("| LoRA |"), "the reference has no row of its own");
});

Deno.test("adamole-threshold claims: monotone active experts (endpoints, no reversal) and τ_max = 1 collapse", () => {
  const rng = new Rng(5);
  const taus: [string, number, number][] = [
    ["0", 4, 0.8],
    ["1/2N", 3.5, 0.8],
    ["1/N", 2.5, 0.8],
    ["3/2N", 1.5, 0.75],
    ["2/N", 1, 0.7],
    ["1", 0.2, 0.3],
  ];
  const rows = (reverse: boolean) =>
    taus.flatMap(([t, active, p], i) =>
      SEEDS.map((s) =>
        fakeRow(`AdaMoLE τmax=${t}`, s, { boolq: bernoulli(200, p, rng) }, {
          group: { tau: t, tauMax: i, threshold: "learned" },
          routing: { meanActive: (reverse && t === "3/2N" ? 3 : active) + 0.01 * s, entropy: 0.5 },
        })
      )
    );
  const claims = thresholdClaims(rows(false));
  assertEquals(verdicts(claims), ["holds", "holds"]);
  assert(claims[0].evidence.includes("τ_max 0 − 1: Δ +3.80 [+3.80, +3.80]"), claims[0].evidence);
  assert(claims[0].evidence.includes("no adjacent step reverses"), claims[0].evidence);
  const reversed = thresholdClaims(rows(true))[0];
  assertEquals(reversed.verdict, "contradicted");
  assert(reversed.evidence.includes("reversed at 1/N→3/2N Δ -0.50"), reversed.evidence);
  assertEquals(verdicts(thresholdClaims([])), [null, null]);
});

Deno.test("dynmole-q and moa-sparsity claims: accuracy contrasts and per-seed scalars with CIs", () => {
  const rng = new Rng(9);
  const dyn = [
    ...arm("DynMoLE q=1.1", 0.8, rng, { routing: { meanActive: 2, entropy: 0.3 } }),
    ...arm("DynMoLE no entropy loss", 0.6, rng, { routing: { meanActive: 2, entropy: 0.6 } }),
  ];
  const d = dynmoleClaims(dyn).slice(0, 2);
  assertEquals(verdicts(d), ["holds", "holds"]);
  assertEquals(d[1].evidence, "full 0.300 vs without the loss 0.600: Δ -0.300 [-0.300, -0.300] (3 seeds)");
  const soft = arm("Soft MoA", 0.7, rng, { routing: { meanActive: 7, entropy: 0.9 } });
  const sparse = soft.map((r) =>
    fakeRow("Sparse MoA (learned τ, τmax 0.5)", r.seed, {}, { routing: { meanActive: 3, entropy: 0.5 } })
  ).map((r, i) => ({ ...r, results: soft[i].results }));
  const m = moaClaims([...soft, ...sparse]).slice(0, 2);
  assertEquals(verdicts(m), ["holds", "holds"]);
  assert(m[0].evidence.includes("Δ 0.0 [0.0, 0.0]"), m[0].evidence);
  assertEquals(verdicts(moaClaims(soft).slice(0, 2)), [null, null]);
});
