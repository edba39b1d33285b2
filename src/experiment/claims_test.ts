import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";
import { bernoulli, fakeRow } from "../testing/rows.ts";
import { Rng } from "../util/rng.ts";
import {
  armPairs,
  contrastMarkdown,
  type ContrastRow,
  contrastTable,
  FROZEN_BASE,
  itemContrast,
  ItemsMismatchError,
  pairedClaim,
  pairedSeedClaim,
  pairItems,
  perTaskContrasts,
  perTaskLevels,
  powerLine,
} from "./claims.ts";
import { claimVerdict } from "./study.ts";

const spec = { claim: "A beats B", source: "test", a: "A", b: "B", direction: "greater" as const };

Deno.test("pairedClaim by hand: two seeds × four items; the evidence prints both means and Δ [lo, hi]", () => {
  const rows = [
    fakeRow("A", 0, { boolq: [1, 1, 1, 1] }),
    fakeRow("B", 0, { boolq: [0, 0, 0, 0] }),
    fakeRow("A", 1, { boolq: [1, 0, 1, 0] }),
    fakeRow("B", 1, { boolq: [1, 0, 1, 0] }),
  ];
  const c = pairedClaim(rows, "score", spec);
  // seed 0 gives Δ 1 whatever items are drawn, seed 1 gives 0: Δ* ∈ {1, ½, 0} with p ¼, ½, ¼
  assertEquals(c.interval, { delta: 0.5, lo: 0, hi: 1, n: 2 });
  assertEquals(c.verdict, "undecided");
  assertEquals(claimVerdict(c), "undecided (CI spans the bound)");
  assertEquals(c.evidence, "A 75.0 vs B 25.0: Δ +50.0 [0.0, +100.0] (2 seeds × 4 items)");
});

function study(pA: number, pB: number, seeds = [0, 1, 2, 3, 4]) {
  const rng = new Rng(17);
  return seeds.flatMap((s) => [
    fakeRow("A", s, { boolq: bernoulli(400, pA, rng), piqa: bernoulli(200, pA, rng) }),
    fakeRow("B", s, { boolq: bernoulli(400, pB, rng), piqa: bernoulli(200, pB, rng) }),
  ]);
}

Deno.test("pairedClaim: clearly better holds, clearly worse is contradicted, ≈ within a margin holds", () => {
  const better = pairedClaim(study(0.8, 0.6), "score", spec);
  assertEquals(better.verdict, "holds");
  assert(better.interval!.lo > 0.1, JSON.stringify(better.interval));
  assertEquals(claimVerdict(better), "holds");
  assertEquals(pairedClaim(study(0.6, 0.8), "score", spec).verdict, "contradicted");
  assertEquals(pairedClaim(study(0.8, 0.6), "score", { ...spec, direction: "less" }).verdict, "contradicted");
  // "beats by more than 30 points" cannot hold on a ~20-point gap
  assertEquals(pairedClaim(study(0.8, 0.6), "score", { ...spec, margin: 30 }).verdict, "contradicted");
  const same = study(0.7, 0.7);
  const rows = same.map((r) => (r.label === "B" ? { ...r, results: same.find((x) => x.seed === r.seed)!.results } : r));
  const eq = pairedClaim(rows, "score", { ...spec, direction: "within", margin: 1 });
  assertEquals([eq.verdict, eq.interval], ["holds", { delta: 0, lo: 0, hi: 0, n: 5 }]);
  // one task only: its own Δ
  const one = pairedClaim(study(0.8, 0.6), "score", { ...spec, task: "piqa" });
  assert(one.evidence.includes("on piqa") && one.evidence.includes("× 200 items"), one.evidence);
});

Deno.test("pairedClaim: the point estimate is the full-data macro Δ; pairs only shared seeds", () => {
  const rows = study(0.8, 0.6, [0, 1, 2]).concat(fakeRow("A", 9, { boolq: [1], piqa: [1] }));
  const { interval, meanA, meanB } = itemContrast(rows, "score", "A", "B");
  const acc = (label: string, t: "boolq" | "piqa") =>
    rows.filter((r) => r.label === label && r.seed !== 9).reduce((a, r) => a + r.results.score!.perTask[t]!, 0) / 3;
  const macro = (l: string) => (acc(l, "boolq") + acc(l, "piqa")) / 2;
  assert(Math.abs(interval.delta - (macro("A") - macro("B"))) < 1e-12);
  assert(Math.abs(meanA - macro("A")) < 1e-12 && Math.abs(meanB - macro("B")) < 1e-12);
  assertEquals(interval.n, 3);
});

Deno.test("pairedClaim: not tested without rows or per-item results; different items are refused", () => {
  const rows = study(0.8, 0.6, [0, 1]);
  const missing = pairedClaim(rows, "score", { ...spec, b: "C" });
  assertEquals([missing.verdict, claimVerdict(missing), missing.evidence], [
    null,
    "not tested",
    "not tested: not run (no rows of C)",
  ]);
  const old = [fakeRow("A", 0, { boolq: [1] }, { items: false }), fakeRow("B", 0, { boolq: [0] }, { items: false })];
  assertEquals(pairedClaim(old, "score", spec).evidence, "not tested: rows lack per-item results; rerun");
  const other = [fakeRow("A", 0, { boolq: [1, 0] }), fakeRow("B", 0, { boolq: [0, 1] }, { hash: "fedcba9876543210" })];
  const refused = pairedClaim(other, "score", spec);
  assertEquals(refused.verdict, null);
  assert(refused.evidence.startsWith("not tested: cannot pair: seed 0 (B) was evaluated on items fedcba"));
  assertThrows(() => pairItems(armPairs(other, "score", "A", "B")), ItemsMismatchError, "rerun both");
});

Deno.test("frozen base: per-task contrasts against each row's baseline; per-task levels of one arm", () => {
  const rng = new Rng(2);
  const base = { boolq: bernoulli(300, 0.5, rng), piqa: bernoulli(300, 0.5, rng) };
  const rows = [0, 1, 2].map((s) =>
    fakeRow("LoRA", s, { boolq: bernoulli(300, 0.9, rng), piqa: bernoulli(300, 0.55, rng) }, { baseline: base })
  );
  const per = perTaskContrasts(rows, "score", "LoRA", FROZEN_BASE);
  assertEquals(per.map((p) => p.task), ["boolq", "piqa"]);
  assert(per[0].interval.lo > 0.3 && per[1].interval.hi < 0.2, JSON.stringify(per));
  const levels = perTaskLevels(rows, "score", "LoRA");
  assert(Math.abs(levels[0].interval.delta - per[0].meanA) < 1e-12);
  assert(levels[0].interval.lo < levels[0].interval.delta && levels[0].interval.hi > levels[0].interval.delta);
});

Deno.test("pairedSeedClaim: per-seed scalars paired by seed, Δ [lo, hi] in their own unit", () => {
  const rows = [0, 1, 2, 3].flatMap((s) => [
    fakeRow("A", s, { boolq: [1] }, { routing: { meanActive: 2 + s * 0.1, entropy: 0.5 } }),
    fakeRow("B", s, { boolq: [1] }, { routing: { meanActive: 4 + s * 0.1, entropy: 0.5 } }),
  ]);
  const value = (r: (typeof rows)[number]) => r.routing!.layers[0].meanActive;
  const c = pairedSeedClaim(rows, { claim: "A fewer", source: "t", a: "A", b: "B", direction: "less", value });
  assertEquals(c.verdict, "holds");
  assertEquals(c.evidence, "A 2.15 vs B 4.15: Δ -2.00 [-2.00, -2.00] (4 seeds)");
  const none = pairedSeedClaim(rows, { claim: "x", source: "t", a: "A", b: "C", direction: "less", value });
  assertEquals([none.verdict, none.evidence], [null, "not tested: not run"]);
});

Deno.test("contrastTable: every label − reference in points with CI, half-width, verdict; markdown", () => {
  const rows = study(0.8, 0.6, [0, 1, 2]);
  const rng = new Rng(8);
  for (const s of [0, 1, 2]) rows.push(fakeRow("C", s, { boolq: bernoulli(400, 0.6, rng) }));
  const table = contrastTable(rows, "score", "B", ["A", "B", "C"]);
  assertEquals(table.map((r) => r.label), ["A", "C"]);
  const a = table[0];
  assertEquals([a.verdict, a.seeds], ["holds", 3]);
  assert(a.delta > 10 && a.lo < a.delta && a.hi > a.delta, JSON.stringify(a));
  assert(Math.abs(a.halfWidth - (a.hi - a.lo) / 2) < 1e-9);
  // C was evaluated on other items (only boolq, same hash in this fake): refused as a mismatch, not tested
  assertEquals(table[1].verdict, null);
  const md = contrastMarkdown(table, "B");
  assert(md.startsWith("| configuration | Δ vs B (points) | 95 % CI | ± | seeds | verdict |"), md);
  assert(md.includes(`| A | +${a.delta.toFixed(1)} | [`) && md.includes("| above |"), md);
  assert(md.includes("| C | – | – | – | – | not tested: cannot pair"), md);
});

Deno.test("powerLine: met or not met against the half-width target, with the widest contrast and by how much", () => {
  const row = (label: string, halfWidth: number): ContrastRow => ({
    label,
    delta: 0,
    lo: -halfWidth,
    hi: halfWidth,
    halfWidth,
    verdict: "undecided",
    seeds: 5,
  });
  assertEquals(
    powerLine([row("A", 1.2), row("B", 1.7)]),
    "Power (every CI half-width ≤ 2.0 points): **met** (half-widths 1.2–1.7, widest B).",
  );
  assertEquals(
    powerLine([row("A", 1.5), row("B", 2.6), row("C", 2.0)]),
    "Power (every CI half-width ≤ 2.0 points): **not met**: 2 of 3 within; half-widths 1.5–2.6, widest B, 0.6 over.",
  );
  const untested = { ...row("D", NaN), verdict: null };
  assertEquals(powerLine([untested]), "Power (every CI half-width ≤ 2.0 points): not tested.");
  assertEquals(powerLine([row("A", 1.0), untested], 0.5).endsWith("widest A, 0.5 over."), true);
});
