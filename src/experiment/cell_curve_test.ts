/** The convergence curve inside a cell: where its points fall, and that measuring it leaves training untouched. */
import { initBackend } from "../backend/backend.ts";
import { assert, assertEquals } from "../testing/asserts.ts";
import { runCell, Workbench } from "./cell.ts";
import { resolveCell } from "./spec.ts";

await initBackend("cpu");
const cache = await Deno.makeTempDir({ prefix: "mole-cache-" });
Deno.env.set("MOLE_CACHE_DIR", cache);
globalThis.addEventListener("unload", () => Deno.removeSync(cache, { recursive: true }));

const RECIPE = {
  suite: "quick",
  model: { dModel: 32, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 64, maxSeqLen: 128 },
  pretrain: { steps: 5, batchSize: 8, seqLen: 32 },
};
const config = (curve?: Record<string, unknown>) => ({
  method: { method: "dynmole", nExperts: 2, rank: 2, targets: ["q", "v"] },
  base: { kind: "embedded", recipe: RECIPE },
  train: { lr: 2e-3, batchSize: 8, maxSteps: 5, logEvery: 5 },
  eval: { batchSize: 16, limitPerTask: 2, ...(curve ? { curve } : {}) },
  seed: 0,
});

Deno.test({
  name: "a cell's curve: step 0, every k updates and the last; training and results are the same without it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const bench = new Workbench(() => {});
    try {
      const on = await runCell(
        "t",
        await resolveCell({ label: "on", group: {}, config: config({ every: 2 }) }, "c"),
        bench,
      );
      const off = await runCell("t", await resolveCell({ label: "off", group: {}, config: config() }, "c"), bench);
      assertEquals(on.curve?.map((p) => p.step), [0, 2, 4, 5]);
      assert(on.curve!.every((p) => p.valAccuracy >= 0 && p.valAccuracy <= 1 && p.valLoss > 0), "curve values");
      assert(on.cost.curveMs! >= 0, "curve time recorded");
      assertEquals([off.curve, off.cost.curveMs], [undefined, undefined]);
      assertEquals(on.history.map((h) => h.loss), off.history.map((h) => h.loss));
      assertEquals(on.results, off.results);
      assertEquals(on.baseline, off.baseline, "the baseline is shared (the curve is not part of its key)");
    } finally {
      await bench.dispose();
    }
  },
});
