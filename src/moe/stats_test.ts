import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { assertAllClose, assertAlmostEquals, assertEquals } from "../testing/asserts.ts";
import { testSite } from "../testing/sites.ts";
import { forwardContext } from "./moe_linear.ts";
import { collectStats, exampleRouting, siteStats } from "./stats.ts";

await initBackend("cpu");

Deno.test("routing stats: active experts, entropy, load and weight on a hand-built routing", async () => {
  const r = {
    g: tf.tensor2d([[0.6, 0.4, 0], [0, 0, 1], [1, 0, 0]]),
    p: tf.tensor2d([[0.6, 0.4, 0], [0, 0, 1], [1 / 3, 1 / 3, 1 / 3]]),
    active: tf.tensor2d([[1, 1, 0], [0, 0, 1], [1, 0, 0]]),
  };
  const s = await siteStats(r, null);
  assertEquals(s.nExperts, 3);
  assertAlmostEquals(s.meanActive, 4 / 3, 1e-6);
  const h0 = -(0.6 * Math.log(0.6) + 0.4 * Math.log(0.4)) / Math.log(3);
  assertAlmostEquals(s.entropy, (h0 + 0 + 1) / 3, 1e-5);
  assertAllClose(s.load, [2 / 3, 1 / 3, 1 / 3], 1e-6);
  assertAllClose(s.weight, [1.6 / 3, 0.4 / 3, 1 / 3], 1e-6);
  const masked = await siteStats(r, tf.tensor1d([1, 1, 0]));
  assertAllClose(masked.load, [0.5, 0.5, 0.5], 1e-6);
});

Deno.test("a forward with `routings` stores every site's routing; collectStats reads and disposes them", async () => {
  const t = testSite("adamole", { nExperts: 4 });
  const ctx = forwardContext({ routings: new Map() });
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    t.site.forward(t.x, ctx);
  });
  const stats = await collectStats(ctx.routings!, null);
  assertEquals(tf.memory().numTensors, before, "nothing left after collectStats");
  assertEquals(Object.keys(stats), ["site"]);
  assertEquals(stats.site.load.length, 4);
  assertEquals(typeof stats.site.threshold, "number");
});

Deno.test("exampleRouting: per layer, the site mean of renormalised weights summed over each row's real tokens", async () => {
  // batch 2 × S 2 → T 4 tokens; the last token is padding
  const mask = tf.tensor1d([1, 1, 1, 0]);
  const site = (g: number[][]) => ({ g: tf.tensor2d(g), p: tf.tensor2d(g), active: tf.tensor2d(g) });
  const routings = new Map([
    ["model.layers.0.self_attn.q_proj", site([[0.6, 0.2, 0.2], [0, 0, 0], [1, 0, 0], [0, 0, 9]])],
    ["model.layers.0.mlp.up_proj", site([[2, 2, 0], [0, 1, 0], [0, 0, 4], [0, 0, 9]])],
    ["model.layers.1.adapter_type_router", site([[0.5, 0.5], [0.9, 0.1], [0.2, 0.2], [0, 0]])],
  ]);
  const before = tf.memory().numTensors;
  const ex = (await exampleRouting(routings, mask, 2))!;
  assertEquals(tf.memory().numTensors, before, "no tensors left");
  assertEquals(ex.layers, [{ layer: 0, nExperts: 3, offset: 0 }, { layer: 1, nExperts: 2, offset: 3 }]);
  assertEquals(ex.width, 5);
  // row 0 = tokens 0, 1: layer 0 = ((0.6, 0.2, 0.2) + (0.5, 0.5, 0))/2 + ((0, 0, 0) + (0, 1, 0))/2
  // row 1 = token 2 only: layer 0 = ((1, 0, 0) + (0, 0, 1))/2; layer 1 = (0.5, 0.5)
  assertAllClose(Array.from(ex.data), [0.55, 0.85, 0.1, 1.4, 0.6, 0.5, 0, 0.5, 0.5, 0.5], 1e-6);
  assertEquals(routings.size, 3, "routings are left for collectStats");
  for (const r of routings.values()) tf.dispose([r.g, r.p, r.active]);
  mask.dispose();
});
