import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { assert, assertAllClose, assertAlmostEquals, assertEquals } from "../testing/asserts.ts";
import { baseOutput, output, route, testSite } from "../testing/sites.ts";
import { mat, vec } from "../testing/tensors.ts";
import { type AdaMoleConfig, adamoleMethod } from "./adamole.ts";

await initBackend("cpu");

Deno.test("AdaMoLE never activates an expert whose probability is below its token's threshold", () => {
  for (const maxThreshold of [null, 0.2, 0.3]) {
    const t = testSite("adamole", { nExperts: 4, maxThreshold }, { T: 64, xStd: 3 });
    const r = route(t);
    const p = mat(r.p);
    const tau = vec(r.threshold!);
    mat(r.active).forEach((row, i) =>
      row.forEach((a, j) => assertEquals(a === 1, p[i][j] >= tau[i], `token ${i} expert ${j} τ_max ${maxThreshold}`))
    );
    tau.forEach((v) => assert(v > 0 && v < (maxThreshold ?? 0.25)));
  }
});

Deno.test("AdaMoLE weights are (p − τ) renormalised to sum 1 over the active experts", () => {
  const t = testSite("adamole", { nExperts: 4 }, { T: 32, xStd: 2 });
  const r = route(t);
  const p = mat(r.p);
  const tau = vec(r.threshold!);
  mat(r.g).forEach((g, i) => {
    const a = p[i].map((v) => Math.max(0, v - tau[i]));
    const s = a.reduce((x, y) => x + y);
    assertAllClose(g, a.map((v) => v / s), 1e-6);
  });
  assertAllClose(vec(r.g.sum(1)), Array(32).fill(1), 1e-5);
});

Deno.test("with τ_max ≤ 1/N at least one expert always passes", () => {
  const t = testSite("adamole", { nExperts: 8, maxThreshold: 1 / 8 }, { T: 256, xStd: 4 });
  for (const row of mat(route(t).active)) assert(row.some((a) => a === 1));
});

Deno.test("when no expert clears τ (possible only for τ_max > 1/N) the token gets exactly the frozen output", () => {
  const t = testSite("adamole", { nExperts: 4, maxThreshold: 1, constThreshold: true });
  const r = route(t);
  assertEquals(vec(r.active.sum()), [0]);
  assertEquals(vec(r.g.abs().sum()), [0]);
  assertEquals(vec(output(t)), vec(baseOutput(t)));
});

Deno.test("τ_max = 0 activates every expert and equals dense softmax routing", () => {
  const t = testSite("adamole", { nExperts: 4, maxThreshold: 0 });
  const r = route(t);
  assertEquals(vec(r.active.sum()), [4 * 8]);
  assertAllClose(vec(r.g), vec(r.p), 1e-6);
});

Deno.test("a constant threshold has no threshold network; a learned one gets gradients through p − τ", () => {
  const c = testSite("adamole", { constThreshold: true, maxThreshold: 0.1 });
  assertEquals(Object.keys(c.site.router!.params), ["weight"]);
  assertAllClose(vec(route(c).threshold!), Array(8).fill(0.1), 1e-7);
  const l = testSite("adamole");
  assertEquals(Object.keys(l.site.router!.params), ["weight", "threshold.weight", "threshold.bias"]);
  const thr = l.site.router!.params["threshold.weight"];
  const { grads } = tf.variableGrads(() => output(l).square().sum() as tf.Scalar, [thr]);
  assert(vec(grads[thr.name].abs().sum())[0] > 0);
});

Deno.test("the aux loss uses the adapted a = p − τ, so it can be negative (methods.md §5)", () => {
  const t = testSite("adamole", { nExperts: 4, maxThreshold: 0.6, constThreshold: true }, { T: 32, xStd: 4 });
  const r = t.site.router!.route(t.x, { training: true, mask: null });
  const p = mat(r.p);
  const active = mat(r.active);
  const f = [0, 1, 2, 3].map((j) => active.reduce((s, row) => s + row[j], 0) / 32);
  const P = [0, 1, 2, 3].map((j) => p.reduce((s, row) => s + row[j] - 0.6, 0) / 32);
  const want = 4 * f.reduce((s, v, j) => s + v * P[j], 0);
  const loss = adamoleMethod.auxLoss(t.cfg as AdaMoleConfig, [r.aux!])!;
  assertAlmostEquals(vec(loss.parts.load_balance)[0], want, 1e-5);
  assert(want < 0, `a τ_max well above 1/N gives a negative loss (${want})`);
  assertAlmostEquals(vec(loss.total)[0], want * 1e-3, 1e-8);
});
