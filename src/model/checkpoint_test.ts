import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { initBackend } from "../backend/backend.ts";
import { CheckpointError, ConfigError } from "../errors.ts";
import { forwardContext } from "../moe/moe_linear.ts";
import { METHOD_NAMES, methodConfig } from "../routers/registry.ts";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "../testing/asserts.ts";
import { LLAMA2_CONFIG, llama2StyleJson } from "../testing/hf_tokenizers.ts";
import { Rng } from "../testing/tensors.ts";
import { tinyConfig } from "../testing/toy.ts";
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loadAdapterInto, readAdapterMethod, saveAdapter } from "./adapter_io.ts";
import { BaseWeights } from "./base.ts";
import { loadHfModel, saveHfModel } from "./hf_model.ts";
import { LlamaModel } from "./llama.ts";
import { mergeLora } from "./merge.ts";
import { f16ToNumber, f32BitsToBf16, numberToF16, readSafetensorsFile } from "./safetensors.ts";

await initBackend("cpu");

const CFG = tinyConfig(19);

async function logits(model: LlamaModel, rows = [[1, 4, 9, 16, 7]]): Promise<number[]> {
  const t = tf.tidy(() => model.logits(tf.tensor2d(rows, undefined, "int32"), forwardContext()));
  const out = Array.from(await t.data());
  t.dispose();
  return out;
}

for (const shardBytes of [undefined, 4096]) {
  Deno.test(`a tiny checkpoint written in the Hugging Face layout (${shardBytes ? "sharded" : "single file"}) loads back to the same logits`, async () => {
    const dir = await Deno.makeTempDir();
    const base = BaseWeights.random(CFG, new Rng(1), 0.2);
    const model = new LlamaModel(base, null, new Rng(2));
    await saveHfModel(dir, base, { shardBytes });
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    if (shardBytes) {
      assert(files.includes("model.safetensors.index.json"), files.join(","));
      assert(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length > 1);
    } else {
      assertEquals(files, ["config.json", "model.safetensors"]);
    }
    const config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    assertEquals([config.model_type, config.hidden_size, config.num_key_value_heads], ["llama", 16, 2]);
    const loaded = await loadHfModel(dir);
    assertEquals(loaded.cfg, CFG);
    assertEquals(loaded.base.trainable, false, "a loaded base is frozen");
    const again = new LlamaModel(loaded.base, null, new Rng(3));
    assertEquals(await logits(again), await logits(model));
    for (const x of [model, again]) x.dispose();
    base.dispose();
    loaded.base.dispose();
    await Deno.remove(dir, { recursive: true });
  });
}

for (const name of METHOD_NAMES) {
  Deno.test(`${name}: an adapter checkpoint round-trips — a fresh model loads it to the same logits`, async () => {
    const dir = await Deno.makeTempDir();
    const base = BaseWeights.random(CFG, new Rng(1), 0.2);
    const method = methodConfig(name, name === "mola" ? { experts: "24" } : {});
    const trained = new LlamaModel(base, method, new Rng(2));
    const rng = new Rng(3);
    for (const v of trained.adapterParams().values()) v.assign(tf.tensor(rng.normalArray(v.size, 0.2), v.shape));
    await saveAdapter(dir, trained);
    assertEquals(await readAdapterMethod(dir), method);
    const fresh = new LlamaModel(base, await readAdapterMethod(dir), new Rng(99));
    assertNotEquals(await logits(fresh), await logits(trained), "before loading, the fresh adapters differ");
    await loadAdapterInto(dir, fresh);
    assertEquals(await logits(fresh), await logits(trained));
    trained.dispose();
    fresh.dispose();
    base.dispose();
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("a LoRA adapter is saved exactly as PEFT saves one: names, [r, d_in]/[d_out, r] shapes, peft_type LORA", async () => {
  const dir = await Deno.makeTempDir();
  const base = BaseWeights.random(CFG, new Rng(1));
  const model = new LlamaModel(base, methodConfig("lora", { rank: 4, targets: ["q", "down"] }), new Rng(2));
  await saveAdapter(dir, model);
  const { tensors } = await readSafetensorsFile(join(dir, ADAPTER_WEIGHTS));
  assertEquals([...tensors.keys()].sort(), [
    "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight",
    "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight",
    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
    "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight",
    "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight",
    "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
    "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight",
  ]);
  assertEquals(tensors.get("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight")!.shape, [4, 24]);
  assertEquals(tensors.get("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight")!.shape, [16, 4]);
  const cfg = JSON.parse(await Deno.readTextFile(join(dir, ADAPTER_CONFIG)));
  assertEquals([cfg.peft_type, cfg.r, cfg.lora_alpha, cfg.target_modules], ["LORA", 4, 16, ["q_proj", "down_proj"]]);
  model.dispose();
  base.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a truncated or mismatched adapter checkpoint is rejected with a one-line CheckpointError", async () => {
  const dir = await Deno.makeTempDir();
  const base = BaseWeights.random(CFG, new Rng(1));
  const model = new LlamaModel(base, methodConfig("topk", { nExperts: 4 }), new Rng(2));
  await saveAdapter(dir, model);
  const other = new LlamaModel(base, methodConfig("topk", { nExperts: 3 }), new Rng(2));
  const e1 = await assertRejects(() => loadAdapterInto(dir, other), CheckpointError);
  assert(e1.message.includes("experts.3") && !e1.message.includes("\n"), e1.message);
  const path = join(dir, ADAPTER_WEIGHTS);
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 100));
  const e2 = await assertRejects(() => loadAdapterInto(dir, model), CheckpointError);
  assert(e2.message.includes("truncated"), e2.message);
  await Deno.writeTextFile(join(dir, ADAPTER_CONFIG), "{not json");
  await assertRejects(() => readAdapterMethod(dir), CheckpointError, "cannot read adapter config");
  for (const m of [model, other]) m.dispose();
  base.dispose();
  await Deno.remove(dir, { recursive: true });
});

for (const dtype of ["BF16", "F16"] as const) {
  Deno.test(`a ${dtype} checkpoint saved back keeps its dtype and tokenizer and loads to identical logits`, async () => {
    const [src, out] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
    const base = BaseWeights.random(CFG, new Rng(1), 0.2);
    await saveHfModel(src, base, { dtype, shardBytes: 4096 });
    await Deno.writeTextFile(join(src, "tokenizer.json"), JSON.stringify(llama2StyleJson()));
    await Deno.writeTextFile(join(src, "tokenizer_config.json"), JSON.stringify(LLAMA2_CONFIG));
    const first = await loadHfModel(src);
    await saveHfModel(out, first.base, { shardBytes: 4096 }); // as loaded: source dtype, tokenizer copied
    const second = await loadHfModel(out);
    const bytes = async (dir: string) =>
      // tensor bytes, from the shard index
      JSON.parse(await Deno.readTextFile(join(dir, "model.safetensors.index.json"))).metadata.total_size as number;
    assertEquals(await bytes(out), await bytes(src), "same storage as the source, not F32");
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
      assertEquals(await Deno.readTextFile(join(out, f)), await Deno.readTextFile(join(src, f)), f);
    }
    assertEquals(
      JSON.parse(await Deno.readTextFile(join(out, "config.json"))).torch_dtype,
      dtype === "BF16" ? "bfloat16" : "float16",
    );
    assert(second.tokenizer !== null, "the saved directory has a tokenizer again");
    assertEquals(second.tokenizer!.encode("hello world"), first.tokenizer!.encode("hello world"));
    const [a, b] = [new LlamaModel(first.base, null, new Rng(2)), new LlamaModel(second.base, null, new Rng(2))];
    assertEquals(await logits(b), await logits(a), "bit for bit");
    await saveHfModel(out, first.base, { dtype: "F32", shardBytes: 4096 });
    assertEquals(await bytes(out), 2 * (await bytes(src)), "dtype F32 on request");
    for (const x of [a, b]) x.dispose();
    for (const x of [base, first.base, second.base]) x.dispose();
    for (const d of [src, out]) await Deno.remove(d, { recursive: true });
  });
}

Deno.test("BF16 and F16 writes round to nearest even, keep specials, and read back exactly", () => {
  const xs = [0, -0, 1, -2.5, 1 + 2 ** -8, 1 + 3 * 2 ** -9, 65504, 70000, 2 ** -24, 2 ** -25 * 3, 1e-9, Infinity, NaN];
  const bf = xs.map((x) => f32BitsToBf16(new Uint32Array(Float32Array.of(x).buffer)[0]));
  assertEquals(bf.slice(0, 4), [0x0000, 0x8000, 0x3f80, 0xc020]);
  assertEquals(bf[4], 0x3f80, "1 + 2⁻⁸ is a tie: to even (1)");
  assertEquals(bf[5], 0x3f81, "1 + 3·2⁻⁹ (0.75 ulp) rounds up");
  assertEquals(bf[12] & 0x7fc0, 0x7fc0, "NaN stays NaN");
  const h = xs.map(numberToF16);
  assertEquals(h.slice(0, 4), [0x0000, 0x8000, 0x3c00, 0xc100]);
  assertEquals([h[6], h[7], h[8], h[9], h[10], h[11]], [0x7bff, 0x7c00, 0x0001, 0x0002, 0x0000, 0x7c00]);
  assertEquals(h[12], 0x7e00);
  for (let v = 0; v < 0x7c00; v += 37) assertEquals(numberToF16(f16ToNumber(v)), v, `f16 ${v} round-trips`);
});

Deno.test("mergeLora folds W0 + (α/r)·B·A into the base: merged logits equal the adapter model's; MoE refuses", async () => {
  const base = BaseWeights.random(CFG, new Rng(1), 0.2);
  const model = new LlamaModel(base, methodConfig("lora", { rank: 4, targets: ["q", "v", "down"] }), new Rng(2));
  const rng = new Rng(3);
  for (const v of model.adapterParams().values()) v.assign(tf.tensor(rng.normalArray(v.size, 0.3), v.shape));
  const merged = mergeLora(model);
  const plain = new LlamaModel(merged, null, new Rng(4));
  const [want, got] = [await logits(model), await logits(plain)];
  assertAllClose(got, want, 1e-5, 1e-4);
  assertNotEquals(got, await logits(new LlamaModel(base, null, new Rng(5))), "the adapters changed the outputs");
  const moe = new LlamaModel(base, methodConfig("topk", { nExperts: 2, topK: 1 }), new Rng(6));
  assertThrows(() => mergeLora(moe), ConfigError, "input-dependent routing");
  for (const x of [model, plain, moe]) x.dispose();
  merged.dispose();
  base.dispose();
});
