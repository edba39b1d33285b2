import { assertAlmostEquals, assertEquals } from "../src/testing/asserts.ts";
import { seedStats } from "./common.ts";

Deno.test("seedStats: mean and sample std by hand; one seed has std 0; none is null", () => {
  const s = seedStats([44, 46, 45])!;
  assertEquals([s.mean, s.n], [45, 3]);
  assertAlmostEquals(s.std, 1, 1e-12); // ((−1)² + 1² + 0²) / (3 − 1) = 1
  assertEquals(seedStats([7]), { mean: 7, std: 0, n: 1 });
  assertEquals(seedStats([]), null);
});
