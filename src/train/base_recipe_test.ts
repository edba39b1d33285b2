import type { HostTensor } from "../model/safetensors.ts";
import { join } from "node:path";
import { initBackend } from "../backend/backend.ts";
import { assert, assertEquals } from "../testing/asserts.ts";
import { prepareBase } from "./base_recipe.ts";

await initBackend("cpu");

const TINY = {
  suite: "quick",
  model: { dModel: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 24, maxSeqLen: 64 },
  pretrain: { steps: 4, batchSize: 4, seqLen: 16 },
};

Deno.test("the base recipe pretrains once, caches by hash, reuses the cache, and rebuilds a corrupt one", async () => {
  const cacheDir = await Deno.makeTempDir();
  const logs: string[] = [];
  const log = (l: string) => logs.push(l);
  const first = await prepareBase(TINY, { cacheDir, log });
  assertEquals(first.reused, false);
  assertEquals(first.base.trainable, false, "the prepared base is frozen");
  const files = [...Deno.readDirSync(first.dir)].map((e) => e.name).sort();
  assertEquals(files, ["config.json", "model.safetensors", "recipe.json", "word_tokenizer.json"]);
  const weights = await first.base.toHost();

  const second = await prepareBase(TINY, { cacheDir, log });
  assertEquals(second.reused, true);
  assertEquals(second.hash, first.hash);
  // (a loaded tensor also says which dtype it was stored in: F32 here, which the freshly trained one has no need of)
  const values = (m: Map<string, HostTensor>) => new Map([...m].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
  assertEquals(values(await second.base.toHost()), values(weights), "the cached weights load back bit for bit");
  assert([...(await second.base.toHost()).values()].every((t) => t.dtype === "F32"), "stored as F32");
  assertEquals(second.tokenizer.vocab, first.tokenizer.vocab);

  // flip bytes in the middle of the weights: the checksum catches it and the base is rebuilt identically
  const path = join(first.dir, "model.safetensors");
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 7] ^= 0xff;
  await Deno.writeFile(path, bytes);
  const third = await prepareBase(TINY, { cacheDir, log });
  assertEquals(third.reused, false);
  assert(logs.some((l) => l.includes("unusable") && l.includes("checksum mismatch")), logs.join("\n"));
  assertEquals(await third.base.toHost(), weights, "pretraining is deterministic: the rebuild is identical");

  const other = await prepareBase({ ...TINY, seed: 1 }, { cacheDir, log });
  assert(other.hash !== first.hash, "a different recipe gets its own cache entry");
  for (const p of [first, second, third, other]) p.base.dispose();
  await Deno.remove(cacheDir, { recursive: true });
});
