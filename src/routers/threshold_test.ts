import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { ConfigError } from "../errors.ts";
import { assert, assertAllClose, assertEquals, assertThrows } from "../testing/asserts.ts";
import { baseOutput, output, route, testSite } from "../testing/sites.ts";
import { mat, vec } from "../testing/tensors.ts";
import { methodConfig } from "./registry.ts";

await initBackend("cpu");

Deno.test("fixed threshold τ = 1/N always keeps at least one expert (max p ≥ 1/N)", () => {
  const t = testSite("threshold", { nExperts: 8 }, { T: 64, xStd: 3 });
  const r = route(t);
  for (const row of mat(r.active)) assert(row.reduce((a, b) => a + b) >= 1);
  assertAllClose(vec(r.g.sum(1)), Array(64).fill(1), 1e-5);
  assertAllClose(vec(r.threshold!), Array(64).fill(1 / 8), 1e-7);
});

Deno.test("keeps exactly the experts with p ≥ τ and renormalises their probabilities", () => {
  const t = testSite("threshold", { nExperts: 4, threshold: 0.2 }, { xStd: 2 });
  const r = route(t);
  const p = mat(r.p);
  mat(r.g).forEach((g, i) => {
    const kept = p[i].map((v) => (v >= 0.2 ? v : 0));
    const s = kept.reduce((a, b) => a + b);
    assertAllClose(g, kept.map((v) => v / s), 1e-6);
  });
});

Deno.test("when no expert clears τ the zero-sum guard leaves exactly the frozen output", () => {
  const t = testSite("threshold", { nExperts: 4, threshold: 1 }); // p < 1 for every expert
  assertEquals(vec(route(t).g.abs().sum()), [0]);
  assertEquals(vec(output(t)), vec(baseOutput(t)));
  // and no NaN gradient flows from the guarded 0/1 division
  const { grads } = tf.variableGrads(() => output(t).sum() as tf.Scalar);
  for (const g of Object.values(grads)) assert(vec(g).every(Number.isFinite));
});

Deno.test("a threshold outside [0, 1] is rejected with one line", () => {
  const e = assertThrows(() => methodConfig("threshold", { threshold: 1.5 }), ConfigError);
  assertEquals(e.message, "method.threshold: must be in [0, 1]");
});
