/**
 * Hugging Face Llama checkpoints: `config.json` ↔ `LlamaConfig`, and the parameter names and shapes of
 * `LlamaForCausalLM` state dicts (weights in PyTorch orientation [out, in]).
 *
 * Field mapping and defaults follow transformers' `LlamaConfig`: hidden_size→dModel,
 * num_hidden_layers→nLayers, num_attention_heads→nHeads, num_key_value_heads→nKvHeads (default nHeads),
 * head_dim→headDim (default hidden_size / num_attention_heads), intermediate_size→dFF,
 * rms_norm_eps→rmsNormEps (default 1e-6), rope_theta→ropeTheta (default 10000), rope_scaling (or
 * transformers 5's rope_parameters) of type "llama3"→ropeScaling, max_position_embeddings→maxSeqLen
 * (default 2048), tie_word_embeddings→tieEmbeddings (default false), vocab_size→vocabSize.
 */
import { join } from "node:path";
import { CheckpointError, ConfigError } from "../errors.ts";
import { atomicWriteJson } from "../util/fs.ts";
import { type LlamaConfig, parseLlamaConfig, type RopeScaling } from "./config.ts";

type Json = Record<string, unknown>;

/** `llamaConfigFromHf` reads these; "mistral" only without sliding-window attention. */
const MODEL_TYPES = ["llama", "mistral"];

/** Map a Hugging Face Llama `config.json` (parsed) onto `LlamaConfig`; one-line ConfigErrors naming `source`. */
export function llamaConfigFromHf(json: unknown, source: string): LlamaConfig {
  const fail = (what: string): never => {
    throw new ConfigError(`${source}: ${what}`);
  };
  if (!isObject(json)) return fail("not a JSON object; expected a Hugging Face config.json");
  checkArchitecture(json, fail);
  const int = (key: string, fallback?: number): number => {
    const v = json[key] ?? fallback;
    if (v === undefined) return fail(`missing "${key}"; a Llama config.json needs it`);
    if (!Number.isSafeInteger(v) || (v as number) <= 0) fail(`${key} must be a positive integer, got ${show(v)}`);
    return v as number;
  };
  const nHeads = int("num_attention_heads");
  const nKvHeads = int("num_key_value_heads", nHeads);
  if (nHeads % nKvHeads !== 0) {
    fail(`num_attention_heads (${nHeads}) must be a multiple of num_key_value_heads (${nKvHeads})`);
  }
  const dModel = int("hidden_size");
  if (json.head_dim == null && dModel % nHeads !== 0) {
    fail(`hidden_size (${dModel}) is not divisible by num_attention_heads (${nHeads}) and no "head_dim" is given`);
  }
  const rope = ropeFromHf(json, fail);
  const tie = json.tie_word_embeddings ?? false;
  if (typeof tie !== "boolean") fail(`tie_word_embeddings must be true or false, got ${show(tie)}`);
  return parseLlamaConfig({
    vocabSize: int("vocab_size"),
    dModel,
    nLayers: int("num_hidden_layers"),
    nHeads,
    nKvHeads,
    headDim: int("head_dim", dModel / nHeads),
    dFF: int("intermediate_size"),
    rmsNormEps: positive(json, "rms_norm_eps", 1e-6, fail),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    maxSeqLen: int("max_position_embeddings", 2048),
    tieEmbeddings: tie,
  }, source);
}

/** Reject what this Llama implementation does not compute: other model types, activations and biases. */
function checkArchitecture(json: Json, fail: (what: string) => never): void {
  const type = json.model_type;
  if (type === "qwen2") {
    fail(`model_type "qwen2" is unsupported: its q/k/v projections have biases, which this Llama model lacks`);
  }
  if (typeof type !== "string" || !MODEL_TYPES.includes(type)) {
    fail(`model_type ${show(type)} is unsupported; expected "llama" (or "mistral" without sliding_window)`);
  }
  if (type === "mistral" && json.sliding_window != null) {
    fail(`sliding_window ${show(json.sliding_window)} is unsupported (full causal attention only); set it to null`);
  }
  const act = json.hidden_act ?? "silu";
  if (act !== "silu") fail(`hidden_act ${show(act)} is unsupported; only "silu" (SwiGLU) is implemented`);
  for (const key of ["attention_bias", "mlp_bias"]) {
    if (json[key] === true) fail(`${key}: true is unsupported (projections have no bias here); use a bias-free model`);
  }
}

/** rope_theta and the "llama3" rope_scaling, from rope_scaling or transformers 5's rope_parameters. */
function ropeFromHf(json: Json, fail: (what: string) => never): { theta: number; scaling: RopeScaling | null } {
  const key = isObject(json.rope_parameters) ? "rope_parameters" : "rope_scaling";
  const params = json[key] ?? null;
  if (params !== null && !isObject(params)) fail(`${key} must be an object or null, got ${show(params)}`);
  const p = (params ?? {}) as Json;
  const theta = p.rope_theta !== undefined
    ? positive(p, "rope_theta", 0, fail)
    : positive(json, "rope_theta", 1e4, fail);
  const type = p.rope_type ?? p.type ?? "default";
  if (type === "default") return { theta, scaling: null };
  if (type !== "llama3") {
    fail(`${key} type ${show(type)} is unsupported; only "llama3" (Llama 3.1) or no scaling are implemented`);
  }
  const field = (k: string) => {
    if (p[k] === undefined) fail(`${key}.${k} is missing; "llama3" scaling needs it`);
    return positive(p, k, 0, fail, `${key}.${k}`);
  };
  const original = field("original_max_position_embeddings");
  if (!Number.isSafeInteger(original)) fail(`${key}.original_max_position_embeddings must be an integer`);
  return {
    theta,
    scaling: {
      type: "llama3",
      factor: field("factor"),
      lowFreqFactor: field("low_freq_factor"),
      highFreqFactor: field("high_freq_factor"),
      originalMaxPositionEmbeddings: original,
    },
  };
}

/**
 * A `config.json` transformers loads as `LlamaForCausalLM` (keys sorted, as transformers writes them);
 * `extra` adds fields such as bos_token_id / eos_token_id.
 */
export function llamaConfigToHf(cfg: LlamaConfig, extra: Json = {}): Json {
  const s = cfg.ropeScaling;
  const hf: Json = {
    architectures: ["LlamaForCausalLM"],
    attention_bias: false,
    attention_dropout: 0.0,
    head_dim: cfg.headDim,
    hidden_act: "silu",
    hidden_size: cfg.dModel,
    initializer_range: 0.02,
    intermediate_size: cfg.dFF,
    max_position_embeddings: cfg.maxSeqLen,
    mlp_bias: false,
    model_type: "llama",
    num_attention_heads: cfg.nHeads,
    num_hidden_layers: cfg.nLayers,
    num_key_value_heads: cfg.nKvHeads,
    pretraining_tp: 1,
    rms_norm_eps: cfg.rmsNormEps,
    rope_scaling: s === null ? null : {
      factor: s.factor,
      high_freq_factor: s.highFreqFactor,
      low_freq_factor: s.lowFreqFactor,
      original_max_position_embeddings: s.originalMaxPositionEmbeddings,
      rope_type: "llama3",
    },
    rope_theta: cfg.ropeTheta,
    tie_word_embeddings: cfg.tieEmbeddings,
    torch_dtype: "float32",
    use_cache: true,
    vocab_size: cfg.vocabSize,
    ...extra,
  };
  return Object.fromEntries(Object.keys(hf).sort().map((k) => [k, hf[k]]));
}

/** `config.json` of a checkpoint directory (or the path of a .json file) as `LlamaConfig`. */
export async function readHfConfig(dirOrFile: string): Promise<LlamaConfig> {
  const path = dirOrFile.endsWith(".json") ? dirOrFile : join(dirOrFile, "config.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(`${path}: not found; a Hugging Face checkpoint directory needs its config.json`);
    }
    throw new ConfigError(`${path}: cannot read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message}); fix or re-download it`);
  }
  return llamaConfigFromHf(json, path);
}

/** Write `<dir>/config.json` for `cfg`. */
export function writeHfConfig(dir: string, cfg: LlamaConfig, extra: Json = {}): Promise<void> {
  return atomicWriteJson(join(dir, "config.json"), llamaConfigToHf(cfg, extra));
}

// ---------------------------------------------------------------------------------------------------------
// Parameter names and shapes of LlamaForCausalLM

/** State-dict names by module; `{i}` is the layer index. */
export const HF_PARAM_NAMES = {
  embed_tokens: "model.embed_tokens.weight",
  input_layernorm: "model.layers.{i}.input_layernorm.weight",
  q_proj: "model.layers.{i}.self_attn.q_proj.weight",
  k_proj: "model.layers.{i}.self_attn.k_proj.weight",
  v_proj: "model.layers.{i}.self_attn.v_proj.weight",
  o_proj: "model.layers.{i}.self_attn.o_proj.weight",
  post_attention_layernorm: "model.layers.{i}.post_attention_layernorm.weight",
  gate_proj: "model.layers.{i}.mlp.gate_proj.weight",
  up_proj: "model.layers.{i}.mlp.up_proj.weight",
  down_proj: "model.layers.{i}.mlp.down_proj.weight",
  norm: "model.norm.weight",
  lm_head: "lm_head.weight",
} as const;
export type HfParamKind = keyof typeof HF_PARAM_NAMES;

/** Per-layer kinds, in state-dict order. */
export const HF_LAYER_PARAMS = [
  "input_layernorm",
  "q_proj",
  "k_proj",
  "v_proj",
  "o_proj",
  "post_attention_layernorm",
  "gate_proj",
  "up_proj",
  "down_proj",
] as const satisfies readonly HfParamKind[];

/** The state-dict name of `kind` (in `layer`, for per-layer kinds). */
export function hfParamName(kind: HfParamKind, layer?: number): string {
  const template: string = HF_PARAM_NAMES[kind];
  const perLayer = template.includes("{i}");
  if (perLayer !== (layer !== undefined)) {
    throw new Error(`hfParamName: ${kind} ${perLayer ? "needs" : "takes no"} layer index`);
  }
  return perLayer ? template.replace("{i}", String(layer)) : template;
}

/** Shape of `kind` in PyTorch orientation: linear weights are [out, in], norms [d]. */
export function hfParamShape(kind: HfParamKind, cfg: LlamaConfig): number[] {
  const { dModel: d, dFF: f, headDim: h, nHeads, nKvHeads, vocabSize: v } = cfg;
  switch (kind) {
    case "embed_tokens":
    case "lm_head":
      return [v, d];
    case "q_proj":
      return [nHeads * h, d];
    case "k_proj":
    case "v_proj":
      return [nKvHeads * h, d];
    case "o_proj":
      return [d, nHeads * h];
    case "gate_proj":
    case "up_proj":
      return [f, d];
    case "down_proj":
      return [d, f];
    case "input_layernorm":
    case "post_attention_layernorm":
    case "norm":
      return [d];
  }
}

/** Every parameter `cfg` implies, name → shape, in state-dict order (no lm_head when embeddings are tied). */
export function hfParamShapes(cfg: LlamaConfig): Map<string, number[]> {
  const out = new Map<string, number[]>([[hfParamName("embed_tokens"), hfParamShape("embed_tokens", cfg)]]);
  for (let i = 0; i < cfg.nLayers; i++) {
    for (const kind of HF_LAYER_PARAMS) out.set(hfParamName(kind, i), hfParamShape(kind, cfg));
  }
  out.set(hfParamName("norm"), hfParamShape("norm", cfg));
  if (!cfg.tieEmbeddings) out.set(hfParamName("lm_head"), hfParamShape("lm_head", cfg));
  return out;
}

/** Check a loaded state dict has every parameter `cfg` implies, with its shape; extra tensors are ignored. */
export function checkHfTensors(
  tensors: ReadonlyMap<string, { shape: readonly number[] }>,
  cfg: LlamaConfig,
  source: string,
): void {
  for (const [name, shape] of hfParamShapes(cfg)) {
    const t = tensors.get(name);
    if (!t) {
      throw new CheckpointError(`${source}: missing tensor '${name}'; the checkpoint does not match its config.json`);
    }
    if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
      throw new CheckpointError(
        `${source}: tensor '${name}' has shape [${t.shape}] but config.json implies [${shape}]; ` +
          "the checkpoint does not match its config.json",
      );
    }
  }
}

function positive(json: Json, key: string, fallback: number, fail: (what: string) => never, label = key): number {
  const v = json[key] ?? fallback;
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    fail(`${label} must be a positive number, got ${show(v)}`);
  }
  return v as number;
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}
