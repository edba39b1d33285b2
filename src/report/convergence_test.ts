import type { CellRow } from "../experiment/cell.ts";
import { assert, assertAlmostEquals, assertEquals } from "../testing/asserts.ts";
import { compileSpec } from "./charts.ts";
import { curveChart, curveSummary, fasterClaim, stepsTo90, stepsToFraction } from "./convergence.ts";

const curve = (...acc: number[]) => acc.map((a, i) => ({ step: 10 * i, valAccuracy: a, valLoss: 2 - a }));

Deno.test("stepsToFraction: first logged step at base + 0.9·(final − base), relative to the step-0 value", () => {
  // base 0.30, final 0.50: the target is 0.30 + 0.9·0.20 = 0.48, first reached at step 30
  assertEquals(stepsToFraction(curve(0.3, 0.4, 0.45, 0.48, 0.47, 0.5)), 30);
  // a jump straight to the final value at the first update
  assertEquals(stepsToFraction(curve(0.3, 0.5, 0.5)), 10);
  // only the last point reaches it
  assertEquals(stepsToFraction(curve(0.3, 0.35, 0.4, 0.5)), 30);
  // an early spike above the target counts (first crossing), even if the curve dips after it
  assertEquals(stepsToFraction(curve(0.3, 0.6, 0.4, 0.5)), 10);
  // another fraction: half-way is 0.40, reached at step 20
  assertEquals(stepsToFraction(curve(0.3, 0.35, 0.4, 0.5), 0.5), 20);
  // the points' order in the array does not matter
  assertEquals(stepsToFraction([...curve(0.3, 0.4, 0.45, 0.48, 0.47, 0.5)].reverse()), 30);
});

Deno.test("stepsToFraction: a flat, falling, missing, one-point or non-finite curve never converges (null)", () => {
  assertEquals(stepsToFraction(curve(0.4, 0.4, 0.4)), null);
  assertEquals(stepsToFraction(curve(0.4, 0.5, 0.35)), null);
  assertEquals(stepsToFraction(undefined), null);
  assertEquals(stepsToFraction(curve(0.4)), null);
  assertEquals(stepsToFraction(curve(NaN, 0.5)), null);
  assertEquals(stepsTo90({ curve: curve(0.3, 0.49, 0.5) } as CellRow), 10);
  assertEquals(stepsTo90({} as CellRow), null);
});

function row(label: string, seed: number, acc: number[]): CellRow {
  return { label, seed, group: { method: label }, curve: curve(...acc) } as unknown as CellRow;
}

Deno.test("curveSummary: per series and step, the mean over seeds (accuracy in %) inside its bootstrap CI", () => {
  const rows = [row("A", 0, [0.3, 0.5]), row("A", 1, [0.3, 0.7]), row("B", 0, [0.3, 0.4]), { label: "old" } as CellRow];
  const s = curveSummary(rows, (r) => r.label, "valAccuracy");
  assertEquals(s.map((x) => [x.series, x.step, x.seeds]), [["A", 0, 2], ["A", 10, 2], ["B", 0, 1], ["B", 10, 1]]);
  const a10 = s[1];
  assertAlmostEquals(a10.mean as number, 60, 1e-9);
  assert((a10.lo as number) >= 50 - 1e-9 && (a10.hi as number) <= 70 + 1e-9, "the CI lies within the seeds' range");
  assert((a10.lo as number) < 60 && (a10.hi as number) > 60, "two different seeds: a band of non-zero width");
  assertEquals([s[3].lo, s[3].mean, s[3].hi], [40, 40, 40]); // one seed: the band is the line
  const loss = curveSummary(rows, (r) => (r.label === "A" ? r.label : null), "valLoss");
  assertEquals(loss.map((x) => x.series), ["A", "A"]);
  assertAlmostEquals(loss[1].mean as number, 2 - 0.6, 1e-9); // nats, unscaled
});

Deno.test("curveChart: one line per series with a CI band, compiles cleanly; null when no row has a curve", () => {
  const rows = [row("LoRA", 0, [0.3, 0.5, 0.6]), row("DynMoLE", 0, [0.3, 0.55, 0.6])];
  const spec = curveChart({
    rows,
    series: (r) => r.label,
    metric: "valAccuracy",
    title: "Validation accuracy during training",
    order: ["LoRA", "MoLE top-2", "DynMoLE"],
  })!;
  assertEquals(compileSpec(spec).warnings, []);
  const layer = (spec as unknown as { layer: { mark: { type: string }; encoding: Record<string, unknown> }[] }).layer;
  assertEquals(layer.map((l) => l.mark.type), ["area", "line"]);
  // the legend lists only the series that have data, in the given order
  assertEquals((layer[1].encoding.color as { sort: string[] }).sort, ["LoRA", "DynMoLE"]);
  assertEquals(
    curveChart({ rows: [{ label: "x" } as CellRow], series: (r) => r.label, metric: "valLoss", title: "t" }),
    null,
  );
});

Deno.test("fasterClaim: Δ steps to 90 % paired by seed; holds when the CI is below 0; flat curves left out", () => {
  const rows = [0, 1, 2].flatMap((seed) => [
    row("DynMoLE", seed, [0.3, 0.5 + seed / 100, 0.5 + seed / 100, 0.5 + seed / 100]), // 90 % at step 10
    row("LoRA", seed, [0.3, 0.35, 0.4, 0.5 + seed / 100]), // only at step 30
  ]);
  const spec = { claim: "DynMoLE converges faster than LoRA", source: "test", a: "DynMoLE", b: "LoRA" };
  const c = fasterClaim(rows, spec);
  assertEquals(c.verdict, "holds");
  assertEquals([c.interval?.delta, c.interval?.lo, c.interval?.hi, c.interval?.n], [-20, -20, -20, 3]);
  assertEquals(c.evidence, "steps to 90 % of final: DynMoLE 10 vs LoRA 30: Δ -20 [-20, -20] (3 seeds)");
  const reversed = fasterClaim(rows, { ...spec, a: "LoRA", b: "DynMoLE" });
  assertEquals(reversed.verdict, "contradicted");
  // seed 2's LoRA curve falls: that seed is left out, and the evidence says so
  const flat = rows.map((r) => (r.label === "LoRA" && r.seed === 2 ? row("LoRA", 2, [0.5, 0.4, 0.4, 0.4]) : r));
  const f = fasterClaim(flat, spec);
  assertEquals(f.interval?.n, 2);
  assert(f.evidence.endsWith("(2 seeds); 1 run whose curve does not rise left out"), f.evidence);
  const old = fasterClaim(rows.map((r) => ({ ...r, curve: undefined })), spec);
  assertEquals([old.verdict, old.evidence], [null, "not tested: the rows have no validation curve (eval.curve)"]);
  assertEquals(fasterClaim([], spec).verdict, null);
});
