import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { initBackend } from "../backend/backend.ts";
import { CheckpointError } from "../errors.ts";
import { forwardContext } from "../moe/moe_linear.ts";
import { METHOD_NAMES, methodConfig } from "../routers/registry.ts";
import { assert, assertEquals, assertNotEquals, assertRejects } from "../testing/asserts.ts";
import { Rng } from "../testing/tensors.ts";
import { tinyConfig } from "../testing/toy.ts";
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loadAdapterInto, readAdapterMethod, saveAdapter } from "./adapter_io.ts";
import { BaseWeights } from "./base.ts";
import { loadHfModel, saveHfModel } from "./hf_model.ts";
import { LlamaModel } from "./llama.ts";
import { readSafetensorsFile } from "./safetensors.ts";

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
