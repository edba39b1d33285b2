/**
 * The base-model cache (MOLE_CACHE_DIR) and base checkpoints: killed while the pretrained base is being
 * written, the cache never holds a half entry and the next run pretrains again; a truncated or corrupted
 * cached base is detected by its checksum and rebuilt; a truncated Hugging Face checkpoint (--base, or a
 * cell's `base.dir`) is one line naming the file and the fix, exit 1, with nothing written to results.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../../src/testing/asserts.ts";
import { loadCheckpointTensors } from "../../src/model/safetensors.ts";
import {
  assertComplete,
  assertKilled,
  assertOk,
  BACKEND,
  experiment,
  gridFile,
  leftovers,
  oneLineError,
  quickCell,
} from "./helpers.ts";

/** A base recipe smaller than --quick's, so that pretraining it twice costs little. */
const TINY_BASE = {
  kind: "embedded",
  recipe: {
    suite: "quick",
    model: { dModel: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 24, maxSeqLen: 128 },
    pretrain: { steps: 4, batchSize: 4, seqLen: 16 },
  },
};
const CELL = quickCell("LoRA r4", { method: "lora", rank: 4, targets: ["q", "v"] }, { base: TINY_BASE });

const entries = async (dir: string) => (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();

Deno.test("the base-model cache: killed mid-write it holds no half entry; a truncated entry is rebuilt", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "mole-cache-" });
  const cache = join(tmp, "cache");
  const grid = await gridFile(tmp, "cache", [CELL]);
  const run = (out: string, fault?: string) =>
    experiment(["--cells", grid, "--quick", "--out", join(tmp, out), "--backend", BACKEND], { fault, cache });

  // Killed after pretraining, between writing the weights' temp file and renaming it.
  assertKilled(await run("a", "kill:write:model.safetensors"), "write:model.safetensors");
  const after = await entries(cache);
  assertEquals(after.length, 1);
  assert(/^base-[0-9a-f]+\.tmp-[0-9a-f]{8}$/.test(after[0]), `only a temp directory, never a half entry: ${after}`);

  // The rerun pretrains again and finishes. (The killed run's temp directory is ignored; clearing it needs
  // prepareBase to remove stale `base-*.tmp-*` siblings, reported to the lead.)
  let r = await run("a");
  assertOk(r);
  assert(r.stdout.includes("base model: pretraining"), r.stdout);
  await assertComplete(join(tmp, "a", "cache"), ["LoRA r4"]);
  const entry = (await entries(cache)).find((n) => /^base-[0-9a-f]+$/.test(n))!;
  assertEquals(await entries(join(cache, entry)), [
    "config.json",
    "model.safetensors",
    "recipe.json",
    "word_tokenizer.json",
  ]);

  // Truncate the cached weights: the checksum catches it, the base is rebuilt, the run completes.
  const weights = join(cache, entry, "model.safetensors");
  const good = await Deno.readFile(weights);
  await Deno.writeFile(weights, good.subarray(0, good.length >> 1));
  r = await run("b");
  assertOk(r);
  assert(/cache \S+ is unusable \(.*checksum mismatch.*\); rebuilding it/.test(r.stdout), r.stdout);
  await assertComplete(join(tmp, "b", "cache"), ["LoRA r4"]);
  assertEquals(await Deno.readFile(weights), good, "the rebuild is bit for bit the same base");
  assertEquals(await leftovers(join(cache, entry)), []);

  // The same weights as a Hugging Face checkpoint directory, truncated: one line, exit 1, no results.
  const hf = join(tmp, "hf");
  await Deno.mkdir(hf);
  await Deno.copyFile(join(cache, entry, "config.json"), join(hf, "config.json"));
  await Deno.writeFile(join(hf, "model.safetensors"), good.subarray(0, good.length - 64));
  const hfGrid = await gridFile(tmp, "hf", [{ ...CELL, base: { kind: "hf", dir: hf } }]);
  r = await experiment(["--cells", hfGrid, "--quick", "--out", join(tmp, "c"), "--backend", BACKEND], { cache });
  const err = oneLineError(r, 1);
  assert(err.startsWith(`error: hf: cell 'LoRA r4' seed 0: ${join(hf, "model.safetensors")}: truncated: `), err);
  assert(err.endsWith("; re-save or re-download it"), err);
  assertEquals(await entries(join(tmp, "c")).catch(() => []), [], "nothing written to results");
  // The fix (the file whole again) loads.
  await Deno.writeFile(join(hf, "model.safetensors"), good);
  assert((await loadCheckpointTensors(hf)).size > 0);
  await Deno.remove(tmp, { recursive: true });
});
