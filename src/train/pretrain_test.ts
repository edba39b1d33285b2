import { assert, assertEquals } from "../testing/asserts.ts";
import { Rng } from "../util/rng.ts";
import { packBatches } from "./pretrain.ts";

Deno.test("packing keeps documents whole, pads the rest of a window, and predicts only within documents", () => {
  const docs = [[1, 5, 6, 2], [1, 7, 2], [1, 8, 9, 10, 2], [1, 11, 2]];
  const batches = packBatches(docs, 6, 2, new Rng(0));
  assert(batches.length >= 1);
  for (const b of batches) {
    for (let row = 0; row < 2; row++) {
      const ids = Array.from(b.inputIds.slice(row * 6, row * 6 + 6));
      const real = b.attnMask.slice(row * 6, row * 6 + 6).reduce((a, v) => a + v, 0);
      // the window is whole documents back to back: split at eos, each piece is one of the inputs
      const pieces = ids.slice(0, real).join(",").split(",2").filter((p) => p).map((p) => `${p.replace(/^,/, "")},2`);
      for (const p of pieces) assert(docs.some((d) => d.join(",") === p), `${p} is a whole document`);
      for (let t = 0; t < 6; t++) {
        const loss = b.lossMask[row * 6 + t];
        if (t + 1 >= real) assertEquals(loss, 0, "no target past the last real token");
        else assertEquals([loss, b.targetIds[row * 6 + t]], [1, ids[t + 1]]);
      }
    }
  }
  const again = packBatches(docs, 6, 2, new Rng(0));
  assertEquals(again, batches, "deterministic for a seed");
});
