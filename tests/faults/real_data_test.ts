/**
 * Real data as users bring it, end to end through the CLI: a tiny Hugging Face Llama directory (config.json,
 * model.safetensors, a Llama-2-style tokenizer.json) and LLM-Adapters files for all eight tasks, written here.
 * Every study runs with `--data D --base B --quick` (the documented smoke preset) narrowed further with
 * `--limit-train` / `--limit-test`, and each cell holds both protocols' results on the limited test set.
 */
import { join } from "node:path";
import { TASKS } from "../../src/data/types.ts";
import { BaseWeights } from "../../src/model/base.ts";
import { parseLlamaConfig } from "../../src/model/config.ts";
import { saveHfModel } from "../../src/model/hf_model.ts";
import { assert, assertEquals } from "../../src/testing/asserts.ts";
import { LLAMA2_CONFIG, llama2StyleJson } from "../../src/testing/hf_tokenizers.ts";
import { llmAdaptersRecord } from "../../src/testing/llm_adapters.ts";
import { Rng } from "../../src/util/rng.ts";
import { assertOk, BACKEND, cells, experiment } from "./helpers.ts";

const STUDIES = ["compare", "adamole-threshold", "dynmole-q", "moa-sparsity"];

async function realFiles(tmp: string): Promise<{ data: string; base: string }> {
  const data = join(tmp, "data");
  const base = join(tmp, "base");
  await Deno.mkdir(base, { recursive: true });
  const tokenizer = llama2StyleJson();
  const vocab = Object.keys((tokenizer.model as { vocab: Record<string, number> }).vocab).length;
  const cfg = parseLlamaConfig({
    vocabSize: vocab,
    dModel: 32,
    nLayers: 1,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 8,
    dFF: 64,
    maxSeqLen: 1024,
    tieEmbeddings: true,
  });
  const weights = BaseWeights.random(cfg, new Rng(1), 0.05);
  await saveHfModel(base, weights, { dtype: "BF16" });
  weights.dispose();
  await Deno.writeTextFile(join(base, "tokenizer.json"), JSON.stringify(tokenizer));
  await Deno.writeTextFile(join(base, "tokenizer_config.json"), JSON.stringify(LLAMA2_CONFIG));
  const train = TASKS.flatMap((t) => [llmAdaptersRecord(t), llmAdaptersRecord(t), llmAdaptersRecord(t)]);
  await Deno.mkdir(data, { recursive: true });
  await Deno.writeTextFile(join(data, "commonsense_170k.json"), JSON.stringify(train));
  for (const t of TASKS) {
    await Deno.mkdir(join(data, t), { recursive: true });
    await Deno.writeTextFile(join(data, t, "test.json"), JSON.stringify([llmAdaptersRecord(t), llmAdaptersRecord(t)]));
  }
  return { data, base };
}

Deno.test("every study runs on real-format files with --quick and --limit-train/--limit-test: both protocols per cell", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "mole-real-" });
  const { data, base } = await realFiles(tmp);
  const out = join(tmp, "results");
  for (const study of STUDIES) {
    const r = await experiment([
      study,
      "--data",
      data,
      "--base",
      base,
      "--quick",
      "--limit-train",
      "2",
      "--limit-test",
      "1",
      "--out",
      out,
      "--backend",
      BACKEND,
    ]);
    assertOk(r);
    const { rows, torn } = await cells(join(out, study));
    assertEquals(torn, [], study);
    assert(rows.length >= 2, `${study}: ${rows.length} cells`);
    for (const row of rows) {
      assertEquals(Object.keys(row.results).sort(), ["generate", "score"], `${study} ${row.label}`);
      assertEquals(row.results.score!.n, TASKS.length, `${study} ${row.label}: one test record per task`);
      assertEquals(row.config.data.kind, "commonsense");
      if (row.config.data.kind === "commonsense") assertEquals(row.config.data.trainPerTask, 2);
    }
  }
  await Deno.remove(tmp, { recursive: true });
});
