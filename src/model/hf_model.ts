/**
 * A Hugging Face Llama checkpoint directory ↔ `BaseWeights`: `config.json` + `model.safetensors` (or shards
 * with `model.safetensors.index.json`), and `tokenizer.json` when present.
 */
import { join } from "node:path";
import type { Tokenizer } from "../data/tokenizer.ts";
import { exists } from "../util/fs.ts";
import { BaseWeights } from "./base.ts";
import type { LlamaConfig } from "./config.ts";
import { readHfConfig, writeHfConfig } from "./hf_config.ts";
import { loadHfTokenizer } from "./hf_tokenizer.ts";
import { loadCheckpointTensors, writeCheckpointTensors } from "./safetensors.ts";

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

/** Save `base` as transformers' `save_pretrained` would (config.json + safetensors, sharded past `shardBytes`). */
export async function saveHfModel(
  dir: string,
  base: BaseWeights,
  opts: { shardBytes?: number; extraConfig?: Record<string, unknown> } = {},
): Promise<void> {
  await writeCheckpointTensors(dir, await base.toHost(), { shardBytes: opts.shardBytes });
  await writeHfConfig(dir, base.cfg, opts.extraConfig);
}
