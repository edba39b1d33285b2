import { assertAlmostEquals, assertEquals } from "../src/testing/asserts.ts";
import { claimVerdict } from "../src/experiment/study.ts";
import { orderClaim, seedStats } from "./common.ts";

Deno.test("seedStats: mean and sample std by hand; one seed has std 0; none is null", () => {
  const s = seedStats([44, 46, 45])!;
  assertEquals([s.mean, s.n], [45, 3]);
  assertAlmostEquals(s.std, 1, 1e-12); // ((−1)² + 1² + 0²) / (3 − 1) = 1
  assertEquals(seedStats([7]), { mean: 7, std: 0, n: 1 });
  assertEquals(seedStats([]), null);
});

Deno.test("orderClaim: a gap beyond 2·SE is clear; within it the verdict says the seed spread cannot decide", () => {
  // Δ = 45 − 41 = 4; SE = √(1/3 + 1/3) = 0.816; 2·SE = 1.63 < 4: clear.
  const clear = orderClaim("a beats b", "test", { name: "a", values: [44, 46, 45] }, {
    name: "b",
    values: [40, 41, 42],
  });
  assertEquals([clear.holds, clear.clear, claimVerdict(clear)], [true, true, "yes"]);
  assertEquals(clear.evidence, "a 45.0 ± 1.0 vs b 41.0 ± 1.0 (Δ +4.0, 2·SE 1.6; n 3, 3)");
  // Δ = 45 − 43 = 2; SE = √(25/3 + 1/3) = 2.94: within the spread.
  const noisy = orderClaim("a beats b", "test", { name: "a", values: [40, 50, 45] }, {
    name: "b",
    values: [42, 43, 44],
  });
  assertEquals([noisy.holds, noisy.clear, claimVerdict(noisy)], [true, false, "yes (within the seed spread)"]);
  // `lower`: the claim is that a is below b.
  const lower = orderClaim("a below b", "test", { name: "a", values: [1, 1] }, { name: "b", values: [2, 2] }, {
    lower: true,
  });
  assertEquals([lower.holds, lower.clear], [true, true]);
  const missing = orderClaim("a beats b", "test", { name: "a", values: [] }, { name: "b", values: [1] });
  assertEquals([missing.holds, claimVerdict(missing), missing.evidence], [null, "not tested", "not run"]);
});
