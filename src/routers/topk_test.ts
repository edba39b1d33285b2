import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { ConfigError } from "../errors.ts";
import { assertAllClose, assertAlmostEquals, assertEquals, assertThrows } from "../testing/asserts.ts";
import { baseOutput, output, route, testSite } from "../testing/sites.ts";
import { mat, vec } from "../testing/tensors.ts";
import { methodConfig } from "./registry.ts";

await initBackend("cpu");

Deno.test("topk with k = N is dense softmax routing: g = p", () => {
  const t = testSite("topk", { nExperts: 4, topK: 4 });
  const r = route(t);
  assertAllClose(vec(r.g), vec(r.p), 1e-7);
  assertEquals(vec(r.active.sum()), [4 * 8]);
});

Deno.test("topk with one expert equals W0·x + (α/r)·B·A·x computed independently", () => {
  const t = testSite("topk", { nExperts: 1, topK: 1, rank: 3, alpha: 6 });
  const bank = t.site.bank!;
  const A = bank.A.squeeze([0]); // [r, d_in]
  const B = bank.Bt.squeeze([0]).transpose(); // [d_out, r]
  const want = baseOutput(t).add(tf.matMul(tf.matMul(t.x, A, false, true), B, false, true).mul(6 / 3));
  assertAllClose(vec(output(t)), vec(want), 1e-5);
});

Deno.test("topk picks the lower index among tied probabilities (a zero router gives a uniform p)", () => {
  const t = testSite("topk", { nExperts: 4, topK: 2 });
  t.site.router!.params.weight.assign(tf.zeros([4, 6]));
  const r = route(t);
  for (const row of mat(r.active)) assertEquals(row, [1, 1, 0, 0]);
  for (const row of mat(r.g)) assertAllClose(row, [0.5, 0.5, 0, 0], 1e-7);
});

Deno.test("load-balance f sums to k per token (lbNorm slots) or to 1 (lbNorm tokens, official MoLA)", () => {
  for (const [lbNorm, total] of [["slots", 3], ["tokens", 1]] as const) {
    const t = testSite("topk", { nExperts: 5, topK: 3, lbNorm });
    const aux = t.site.router!.route(t.x, { training: true, mask: null }).aux!;
    assertAlmostEquals(vec(aux.f.sum())[0], total, 1e-6, lbNorm);
  }
});

Deno.test("padding is excluded from f and P only with lbMaskPadding", () => {
  const mask = tf.tensor1d([1, 1, 1, 1, 0, 0, 0, 0]);
  const plain = testSite("topk", { nExperts: 4, topK: 1 });
  const masked = testSite("topk", { nExperts: 4, topK: 1, lbMaskPadding: true });
  const a = plain.site.router!.route(plain.x, { training: true, mask }).aux!;
  const b = masked.site.router!.route(masked.x, { training: true, mask }).aux!;
  const p = mat(route(masked).p);
  const meanFirst4 = p[0].map((_, i) => (p[0][i] + p[1][i] + p[2][i] + p[3][i]) / 4);
  assertAllClose(vec(b.P), meanFirst4, 1e-6);
  assertAllClose(vec(a.P), vec(route(plain).p.mean(0)), 1e-6);
});

Deno.test("no aux terms outside training or with a zero coefficient", () => {
  const t = testSite("topk");
  assertEquals(route(t).aux, undefined);
  const off = testSite("topk", { auxLossCoef: 0 });
  assertEquals(off.site.router!.route(off.x, { training: true, mask: null }).aux, undefined);
});

Deno.test("topk > nExperts is rejected at construction with one line naming the field", () => {
  const e = assertThrows(() => methodConfig("topk", { nExperts: 2, topK: 3 }), ConfigError);
  assertEquals(e.message, "method.topK: topK (3) must be ≤ nExperts (2); lower topK or add experts");
});
