/**
 * A Hugging Face Llama checkpoint directory ↔ `BaseWeights`: `config.json` + `model.safetensors` (or shards
 * with `model.safetensors.index.json`), and `tokenizer.json` when present.
 */
import { join, resolve } from "node:path";
import type { Tokenizer } from "../data/tokenizer.ts";
import { atomicWrite, exists } from "../util/fs.ts";
import { BaseWeights } from "./base.ts";
import type { LlamaConfig } from "./config.ts";
import { readHfConfig, writeHfConfig } from "./hf_config.ts";
import { loadHfTokenizer } from "./hf_tokenizer.ts";
import { loadCheckpointTensors, writeCheckpointTensors, type WriteDtype, writeDtype } from "./safetensors.ts";

export interface HfModel {
  cfg: LlamaConfig;
  base: BaseWeights;
  /** The checkpoint's tokenizer, when the directory has a tokenizer.json. */
  tokenizer: Tokenizer | null;
}

/** Load a checkpoint directory; the base comes back frozen. */
export async function loadHfModel(dir: string): Promise<HfModel> {
  const cfg = await readHfConfig(dir);
  const tensors = await loadCheckpointTensors(dir);
  const base = BaseWeights.fromHost(cfg, tensors, dir);
  const tokenizer = (await exists(join(dir, "tokenizer.json"))) ? await loadHfTokenizer(dir) : null;
  return { cfg, base, tokenizer };
}

/** Tokenizer files `save_pretrained` writes beside the weights; copied from the source checkpoint when present. */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

const TORCH_DTYPE: Record<WriteDtype, string> = { F32: "float32", F16: "float16", BF16: "bfloat16" };

export interface SaveHfOptions {
  shardBytes?: number;
  extraConfig?: Record<string, unknown>;
  /** "source" (default): each tensor in the dtype it was loaded in (F32 for weights made here); or one dtype. */
  dtype?: "source" | WriteDtype;
  /** Copy the tokenizer files from this directory (default: the checkpoint `base` was loaded from, if any). */
  tokenizerFrom?: string | null;
}

/**
 * Save `base` as transformers' `save_pretrained` would: config.json (with `torch_dtype`), safetensors (sharded past
 * `shardBytes`) in the source dtype by default, and the tokenizer files of its source checkpoint — so the
 * directory loads back through `--base` with identical logits.
 */
export async function saveHfModel(dir: string, base: BaseWeights, opts: SaveHfOptions = {}): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const host = await base.toHost();
  const dtype = opts.dtype && opts.dtype !== "source" ? opts.dtype : undefined;
  await writeCheckpointTensors(dir, host, { shardBytes: opts.shardBytes, dtype });
  const written = new Set([...host.values()].map((t) => writeDtype(t, dtype)));
  const torchDtype = written.size === 1 ? TORCH_DTYPE[[...written][0]] : "float32";
  await writeHfConfig(dir, base.cfg, { torch_dtype: torchDtype, ...opts.extraConfig });
  const from = opts.tokenizerFrom === undefined ? base.origin?.source ?? null : opts.tokenizerFrom;
  if (from && resolve(from) !== resolve(dir)) {
    for (const f of TOKENIZER_FILES) {
      if (await exists(join(from, f))) await atomicWrite(join(dir, f), await Deno.readFile(join(from, f)));
    }
  }
}
