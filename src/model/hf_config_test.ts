import { join } from "node:path";
import { CheckpointError, ConfigError } from "../errors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../testing/asserts.ts";
import { type LlamaConfig, parseLlamaConfig } from "./config.ts";
import {
  checkHfTensors,
  hfParamName,
  hfParamShape,
  hfParamShapes,
  llamaConfigFromHf,
  llamaConfigToHf,
  readHfConfig,
  writeHfConfig,
} from "./hf_config.ts";

/** meta-llama/Llama-2-7b-hf config.json, as published. */
const LLAMA_2_7B = {
  _name_or_path: "meta-llama/Llama-2-7b-hf",
  architectures: ["LlamaForCausalLM"],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: "silu",
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 11008,
  max_position_embeddings: 4096,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  pretraining_tp: 1,
  rms_norm_eps: 1e-05,
  rope_scaling: null,
  tie_word_embeddings: false,
  torch_dtype: "float16",
  transformers_version: "4.31.0.dev0",
  use_cache: true,
  vocab_size: 32000,
};

/** meta-llama/Llama-3.1-8B config.json, as published. */
const LLAMA_31_8B = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: 128001,
  hidden_act: "silu",
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-05,
  rope_scaling: {
    factor: 8.0,
    low_freq_factor: 1.0,
    high_freq_factor: 4.0,
    original_max_position_embeddings: 8192,
    rope_type: "llama3",
  },
  rope_theta: 500000.0,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  transformers_version: "4.43.0.dev0",
  use_cache: true,
  vocab_size: 128256,
};

/** meta-llama/Llama-3.2-1B: explicit head_dim and tied embeddings. */
const LLAMA_32_1B = {
  ...LLAMA_31_8B,
  head_dim: 64,
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  rope_scaling: { ...LLAMA_31_8B.rope_scaling, factor: 32.0 },
  tie_word_embeddings: true,
};

const TINY: LlamaConfig = parseLlamaConfig({
  vocabSize: 96,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  headDim: 8,
  dFF: 64,
  maxSeqLen: 128,
});

Deno.test("llamaConfigFromHf maps Llama-2-7B's config.json", () => {
  assertEquals(llamaConfigFromHf(LLAMA_2_7B, "llama2/config.json"), {
    vocabSize: 32000,
    dModel: 4096,
    nLayers: 32,
    nHeads: 32,
    nKvHeads: 32,
    headDim: 128,
    dFF: 11008,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    maxSeqLen: 4096,
    tieEmbeddings: false,
  });
});

Deno.test("llamaConfigFromHf maps Llama-3.1-8B's config.json incl. GQA and llama3 rope scaling", () => {
  assertEquals(llamaConfigFromHf(LLAMA_31_8B, "llama31/config.json"), {
    vocabSize: 128256,
    dModel: 4096,
    nLayers: 32,
    nHeads: 32,
    nKvHeads: 8,
    headDim: 128,
    dFF: 14336,
    rmsNormEps: 1e-5,
    ropeTheta: 500000,
    ropeScaling: {
      type: "llama3",
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    },
    maxSeqLen: 131072,
    tieEmbeddings: false,
  });
});

Deno.test("llamaConfigFromHf reads an explicit head_dim and tied embeddings (Llama-3.2-1B)", () => {
  const cfg = llamaConfigFromHf(LLAMA_32_1B, "llama32/config.json");
  assertEquals([cfg.dModel, cfg.nHeads, cfg.headDim, cfg.tieEmbeddings], [2048, 32, 64, true]);
  assertEquals(cfg.ropeScaling?.factor, 32);
});

Deno.test("llamaConfigFromHf applies transformers' defaults for optional fields", () => {
  const minimal = {
    model_type: "llama",
    vocab_size: 100,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
  };
  const cfg = llamaConfigFromHf(minimal, "m");
  assertEquals(
    [cfg.nKvHeads, cfg.headDim, cfg.rmsNormEps, cfg.ropeTheta, cfg.ropeScaling, cfg.maxSeqLen, cfg.tieEmbeddings],
    [4, 16, 1e-6, 10000, null, 2048, false],
  );
  // null num_key_value_heads / head_dim mean "default", as in transformers
  assertEquals(llamaConfigFromHf({ ...minimal, num_key_value_heads: null, head_dim: null }, "m").headDim, 16);
});

Deno.test("llamaConfigFromHf reads transformers 5's rope_parameters and a rope_type 'default'", () => {
  const v5 = {
    ...LLAMA_31_8B,
    rope_scaling: undefined,
    rope_theta: undefined,
    rope_parameters: { ...LLAMA_31_8B.rope_scaling, rope_theta: 500000.0 },
  };
  assertEquals(llamaConfigFromHf(v5, "v5"), llamaConfigFromHf(LLAMA_31_8B, "v4"));
  const plain = { ...LLAMA_2_7B, rope_parameters: { rope_type: "default", rope_theta: 20000.0 } };
  const cfg = llamaConfigFromHf(plain, "v5");
  assertEquals([cfg.ropeTheta, cfg.ropeScaling], [20000, null]);
});

Deno.test("llamaConfigFromHf accepts mistral without sliding-window attention", () => {
  const mistral = { ...LLAMA_2_7B, model_type: "mistral", architectures: ["MistralForCausalLM"], sliding_window: null };
  assertEquals(llamaConfigFromHf(mistral, "m"), llamaConfigFromHf(LLAMA_2_7B, "l"));
});

const REJECTIONS: { name: string; json: unknown; fragment: string }[] = [
  { name: "a non-object", json: [1], fragment: "cfg.json: not a JSON object" },
  { name: "qwen2", json: { ...LLAMA_2_7B, model_type: "qwen2" }, fragment: `model_type "qwen2" is unsupported` },
  { name: "gpt2", json: { ...LLAMA_2_7B, model_type: "gpt2" }, fragment: `model_type "gpt2" is unsupported` },
  {
    name: "mistral with a sliding window",
    json: { ...LLAMA_2_7B, model_type: "mistral", sliding_window: 4096 },
    fragment: "sliding_window 4096 is unsupported",
  },
  { name: "gelu", json: { ...LLAMA_2_7B, hidden_act: "gelu" }, fragment: `hidden_act "gelu" is unsupported` },
  {
    name: "attention bias",
    json: { ...LLAMA_2_7B, attention_bias: true },
    fragment: "attention_bias: true is unsupported",
  },
  { name: "mlp bias", json: { ...LLAMA_2_7B, mlp_bias: true }, fragment: "mlp_bias: true is unsupported" },
  {
    name: "linear rope scaling",
    json: { ...LLAMA_2_7B, rope_scaling: { type: "linear", factor: 2.0 } },
    fragment: `rope_scaling type "linear" is unsupported`,
  },
  {
    name: "yarn rope scaling",
    json: { ...LLAMA_2_7B, rope_scaling: { rope_type: "yarn", factor: 4.0 } },
    fragment: `rope_scaling type "yarn" is unsupported`,
  },
  {
    name: "llama3 scaling without low_freq_factor",
    json: { ...LLAMA_31_8B, rope_scaling: { ...LLAMA_31_8B.rope_scaling, low_freq_factor: undefined } },
    fragment: "rope_scaling.low_freq_factor is missing",
  },
  {
    name: "a missing hidden_size",
    json: { ...LLAMA_2_7B, hidden_size: undefined },
    fragment: `missing "hidden_size"`,
  },
  {
    name: "a string vocab_size",
    json: { ...LLAMA_2_7B, vocab_size: "32000" },
    fragment: `vocab_size must be a positive integer, got "32000"`,
  },
  {
    name: "heads not a multiple of kv heads",
    json: { ...LLAMA_2_7B, num_key_value_heads: 5 },
    fragment: "num_attention_heads (32) must be a multiple of num_key_value_heads (5)",
  },
  {
    name: "hidden_size not divisible by heads without head_dim",
    json: { ...LLAMA_2_7B, hidden_size: 4000, num_attention_heads: 48, num_key_value_heads: 48 },
    fragment: "hidden_size (4000) is not divisible by num_attention_heads (48)",
  },
  {
    name: "negative rms_norm_eps",
    json: { ...LLAMA_2_7B, rms_norm_eps: -1 },
    fragment: "rms_norm_eps must be a positive",
  },
];

for (const r of REJECTIONS) {
  Deno.test(`llamaConfigFromHf rejects ${r.name} with a one-line ConfigError`, () => {
    const e = assertThrows(() => llamaConfigFromHf(r.json, "cfg.json"), ConfigError, r.fragment);
    assert(e.message.startsWith("cfg.json: ") && !e.message.includes("\n"), e.message);
  });
}

Deno.test("llamaConfigToHf writes a transformers LlamaForCausalLM config; cfg → hf → cfg is the identity", () => {
  const hf = llamaConfigToHf(TINY, { bos_token_id: 1, eos_token_id: 2 });
  assertEquals(hf.architectures, ["LlamaForCausalLM"]);
  assertEquals(hf.model_type, "llama");
  assertEquals(Object.keys(hf), Object.keys(hf).sort());
  assertEquals(
    [hf.hidden_size, hf.num_key_value_heads, hf.head_dim, hf.hidden_act, hf.rope_scaling, hf.bos_token_id],
    [32, 2, 8, "silu", null, 1],
  );
  assertEquals(llamaConfigFromHf(hf, "rt"), TINY);
  for (const json of [LLAMA_2_7B, LLAMA_31_8B, LLAMA_32_1B]) {
    const cfg = llamaConfigFromHf(json, "x");
    assertEquals(llamaConfigFromHf(llamaConfigToHf(cfg), "rt"), cfg);
  }
  assertEquals(llamaConfigToHf(llamaConfigFromHf(LLAMA_31_8B, "x")).rope_scaling, {
    factor: 8,
    high_freq_factor: 4,
    low_freq_factor: 1,
    original_max_position_embeddings: 8192,
    rope_type: "llama3",
  });
});

Deno.test("writeHfConfig → readHfConfig round-trips; readHfConfig names a missing or malformed file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hf_config_test_" });
  try {
    await writeHfConfig(dir, TINY);
    assertEquals(await readHfConfig(dir), TINY);
    assertEquals(await readHfConfig(join(dir, "config.json")), TINY);
    const empty = join(dir, "empty");
    await assertRejects(() => readHfConfig(empty), ConfigError, `${join(empty, "config.json")}: not found`);
    await Deno.writeTextFile(join(dir, "bad.json"), "{,}");
    await assertRejects(() => readHfConfig(join(dir, "bad.json")), ConfigError, "bad.json: not valid JSON");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hfParamName gives LlamaForCausalLM's state-dict names", () => {
  assertEquals(hfParamName("embed_tokens"), "model.embed_tokens.weight");
  assertEquals(hfParamName("q_proj", 3), "model.layers.3.self_attn.q_proj.weight");
  assertEquals(hfParamName("o_proj", 0), "model.layers.0.self_attn.o_proj.weight");
  assertEquals(hfParamName("gate_proj", 11), "model.layers.11.mlp.gate_proj.weight");
  assertEquals(hfParamName("down_proj", 1), "model.layers.1.mlp.down_proj.weight");
  assertEquals(hfParamName("input_layernorm", 2), "model.layers.2.input_layernorm.weight");
  assertEquals(hfParamName("post_attention_layernorm", 2), "model.layers.2.post_attention_layernorm.weight");
  assertEquals(hfParamName("norm"), "model.norm.weight");
  assertEquals(hfParamName("lm_head"), "lm_head.weight");
  assertThrows(() => hfParamName("q_proj"), Error, "needs layer index");
  assertThrows(() => hfParamName("norm", 0), Error, "takes no layer index");
});

Deno.test("hfParamShape is [out, in] for Llama-3.1-8B (GQA: k/v are 1024 wide)", () => {
  const cfg = llamaConfigFromHf(LLAMA_31_8B, "x");
  assertEquals(hfParamShape("embed_tokens", cfg), [128256, 4096]);
  assertEquals(hfParamShape("q_proj", cfg), [4096, 4096]);
  assertEquals(hfParamShape("k_proj", cfg), [1024, 4096]);
  assertEquals(hfParamShape("v_proj", cfg), [1024, 4096]);
  assertEquals(hfParamShape("o_proj", cfg), [4096, 4096]);
  assertEquals(hfParamShape("gate_proj", cfg), [14336, 4096]);
  assertEquals(hfParamShape("up_proj", cfg), [14336, 4096]);
  assertEquals(hfParamShape("down_proj", cfg), [4096, 14336]);
  assertEquals(hfParamShape("input_layernorm", cfg), [4096]);
  assertEquals(hfParamShape("lm_head", cfg), [128256, 4096]);
  // 8.03 B parameters, the published count
  const total = [...hfParamShapes(cfg).values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  assertEquals(total, 8030261248);
});

Deno.test("hfParamShapes lists 2 + 9·L (+ lm_head unless tied) names in state-dict order", () => {
  const names = [...hfParamShapes(TINY).keys()];
  assertEquals(names.length, 2 + 9 * 2 + 1);
  assertEquals(names.slice(0, 3), [
    "model.embed_tokens.weight",
    "model.layers.0.input_layernorm.weight",
    "model.layers.0.self_attn.q_proj.weight",
  ]);
  assertEquals(names.slice(-2), ["model.norm.weight", "lm_head.weight"]);
  assert(!hfParamShapes({ ...TINY, tieEmbeddings: true }).has("lm_head.weight"));
});

Deno.test("checkHfTensors names a missing tensor and a wrong shape", () => {
  const tensors = new Map([...hfParamShapes(TINY)].map(([n, shape]) => [n, { shape }]));
  tensors.set("model.layers.0.self_attn.rotary_emb.inv_freq", { shape: [4] }); // extras are ignored
  checkHfTensors(tensors, TINY, "ckpt");
  tensors.set("model.layers.1.self_attn.k_proj.weight", { shape: [32, 32] });
  assertThrows(
    () => checkHfTensors(tensors, TINY, "ckpt"),
    CheckpointError,
    "ckpt: tensor 'model.layers.1.self_attn.k_proj.weight' has shape [32,32] but config.json implies [16,32]",
  );
  tensors.delete("model.layers.1.self_attn.k_proj.weight");
  assertThrows(
    () => checkHfTensors(tensors, TINY, "ckpt"),
    CheckpointError,
    "ckpt: missing tensor 'model.layers.1.self_attn.k_proj.weight'",
  );
});
