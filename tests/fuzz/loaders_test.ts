/**
 * Mutation fuzzing of every loader a user's files reach (src/testing/fuzz.ts): the safetensors reader, the HF
 * config reader, tokenizer loading and the LLM-Adapters loaders. From valid seed files, a fixed-seed corpus of
 * `fuzzBudget()` inputs per loader (500 here; `deno task fuzz --long` runs more): every input loads or raises the
 * project's one-line error; none throws anything else, allocates beyond what its bytes describe, or hangs.
 */
import { join } from "node:path";
import { TASKS } from "../../src/data/types.ts";
import { parseCommonsenseJson } from "../../src/data/commonsense.ts";
import { llamaConfigToHf, readHfConfig } from "../../src/model/hf_config.ts";
import { loadHfTokenizer } from "../../src/model/hf_tokenizer.ts";
import { parseSafetensors, serializeSafetensors } from "../../src/model/safetensors.ts";
import { assert, assertEquals } from "../../src/testing/asserts.ts";
import { fuzz, fuzzBudget, type FuzzReport } from "../../src/testing/fuzz.ts";
import { LLAMA2_CONFIG, llama2StyleJson, llama3StyleJson } from "../../src/testing/hf_tokenizers.ts";
import { llmAdaptersRecord } from "../../src/testing/llm_adapters.ts";
import { tinyConfig } from "../../src/testing/toy.ts";

const N = fuzzBudget();
const text = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v, null, 2));
const decode = (b: Uint8Array) => new TextDecoder().decode(b); // lossy, as Deno.readTextFile reads

function check(loader: string, r: FuzzReport): void {
  const shown = r.findings.slice(0, 5).map((f) => `  #${f.index} (${f.mutation}): ${f.what}`).join("\n");
  console.log(
    `${loader}: ${r.tried} inputs — ${r.loaded} loaded, ${r.rejected} one-line errors, ${r.findings.length} findings`,
  );
  assertEquals(r.findings.length, 0, `${loader}: ${r.findings.length} inputs misbehaved:\n${shown}`);
  assert(r.loaded > 0 && r.rejected > 0, `${loader}: the mutations should both keep and break some inputs`);
}

Deno.test("fuzz: the safetensors reader loads or rejects every mutated file, within its bytes", async () => {
  const f32 = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
  const seeds = [
    serializeSafetensors({ w: { shape: [2, 3], data: f32(6) }, b: { shape: [3], data: f32(3) } }, { format: "pt" }),
    serializeSafetensors({
      h: { shape: [4], data: f32(4), dtype: "BF16" },
      g: { shape: [2, 2], data: f32(4), dtype: "F16" },
    }),
    serializeSafetensors({ s: { shape: [], data: f32(1) }, e: { shape: [0, 5], data: f32(0) } }),
  ];
  const r = await fuzz(seeds, N, 1, (bytes) => {
    const { tensors } = parseSafetensors(bytes, "fuzz.safetensors");
    let floats = 0;
    for (const t of tensors.values()) floats += t.data.length;
    // 16-bit tensors decode to twice their bytes; nothing may decode to more than that
    if (4 * floats > 2 * bytes.length) throw new Error(`decoded ${4 * floats} bytes from a ${bytes.length}-byte file`);
  });
  check("safetensors", r);
});

Deno.test("fuzz: the HF config reader loads or rejects every mutated config.json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mole-fuzz-config-" });
  const base = llamaConfigToHf(tinyConfig(64));
  const seeds = [
    text(base),
    text({
      ...base,
      rope_scaling: {
        rope_type: "llama3",
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 8192,
      },
    }),
    text({ ...base, model_type: "mistral", sliding_window: null, tie_word_embeddings: false }),
  ];
  const path = join(dir, "config.json");
  const r = await fuzz(seeds, N, 2, async (bytes) => {
    await Deno.writeFile(path, bytes);
    await readHfConfig(path);
  });
  await Deno.remove(dir, { recursive: true });
  check("HF config", r);
});

Deno.test("fuzz: tokenizer loading loads or rejects every mutated tokenizer.json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mole-fuzz-tokenizer-" });
  const seeds = [text(llama2StyleJson()), text(llama3StyleJson())];
  await Deno.writeTextFile(join(dir, "tokenizer_config.json"), JSON.stringify(LLAMA2_CONFIG));
  const path = join(dir, "tokenizer.json");
  const r = await fuzz(seeds, N, 3, async (bytes) => {
    await Deno.writeFile(path, bytes);
    const tok = await loadHfTokenizer(path);
    tok.decode(tok.encode("hello world"));
  });
  await Deno.remove(dir, { recursive: true });
  check("tokenizer", r);
});

Deno.test("fuzz: the LLM-Adapters loaders load or reject every mutated data file", async () => {
  const train = text(TASKS.map((t) => llmAdaptersRecord(t)));
  const test = text([llmAdaptersRecord("boolq"), llmAdaptersRecord("boolq", { answer: "true" })]);
  const r1 = await fuzz([train, test], N, 4, (bytes) => parseCommonsenseJson(decode(bytes), "train.json", null));
  check("LLM-Adapters train", r1);
  const r2 = await fuzz(
    [test, train],
    N,
    5,
    (bytes) => parseCommonsenseJson(decode(bytes), "boolq/test.json", "boolq"),
  );
  check("LLM-Adapters test", r2);
});
