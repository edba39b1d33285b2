/**
 * Determinism: the same grid, seeds and backend give bit-identical cells.jsonl metrics on rerun (every
 * field but timings, memory, timestamps and cache reuse), on cpu and on blas. Two fresh output
 * directories per backend, the same base-model cache, both runs at once.
 */
import { join } from "node:path";
import { loadBlas } from "../../src/backend/blas_ffi.ts";
import { assertEquals } from "../../src/testing/asserts.ts";
import {
  assertComplete,
  assertOk,
  experiment,
  firstDifference,
  GRID3,
  gridFile,
  metrics,
  warmCache,
} from "./helpers.ts";

// Top-k and DynMoLE with dropout: routing, aux losses and dropout masks all come from the seed.
const GRID = GRID3.slice(1);

for (const backend of ["cpu", "blas"] as const) {
  Deno.test({
    name: `${backend}: rerunning a grid gives bit-identical metrics in cells.jsonl`,
    ignore: backend === "blas" && !loadBlas(),
    fn: async () => {
      await warmCache();
      const out = await Deno.makeTempDir({ prefix: `mole-det-${backend}-` });
      const grid = await gridFile(out, "det", GRID);
      const run = (dir: string) =>
        experiment(["--cells", grid, "--quick", "--seeds", "1", "--out", join(out, dir), "--backend", backend]);
      const [a, b] = await Promise.all([run("a"), run("b")]);
      assertOk(a);
      assertOk(b);
      const labels = GRID.map((c) => c.label);
      const rowsA = await assertComplete(join(out, "a", "det"), labels);
      const rowsB = await assertComplete(join(out, "b", "det"), labels);
      for (const row of rowsA) {
        const twin = rowsB.find((r) => r.hash === row.hash)!;
        assertEquals(row.env.backend, backend);
        assertEquals(firstDifference(metrics(row), metrics(twin)), null);
      }
      await Deno.remove(out, { recursive: true });
    },
  });
}
