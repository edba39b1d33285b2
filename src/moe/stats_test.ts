import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { assertAllClose, assertAlmostEquals, assertEquals } from "../testing/asserts.ts";
import { testSite } from "../testing/sites.ts";
import { forwardContext } from "./moe_linear.ts";
import { collectStats, siteStats } from "./stats.ts";

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
