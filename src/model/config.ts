/**
 * The Llama-style decoder's shape: from the tiny embedded default to a real checkpoint's `config.json`
 * (see `hf_config.ts` for the mapping from Hugging Face field names).
 */
import { parseConfig, z } from "../config.ts";

/** Llama 3.1-style RoPE frequency scaling (`rope_scaling.rope_type == "llama3"`). */
export const RopeScalingSchema = z.strictObject({
  type: z.literal("llama3"),
  factor: z.number().positive(),
  lowFreqFactor: z.number().positive(),
  highFreqFactor: z.number().positive(),
  originalMaxPositionEmbeddings: z.number().int().positive(),
});
export type RopeScaling = z.infer<typeof RopeScalingSchema>;

export const LlamaConfigSchema = z.strictObject({
  vocabSize: z.number().int().positive(),
  /** Hidden size d. */
  dModel: z.number().int().positive(),
  nLayers: z.number().int().positive(),
  nHeads: z.number().int().positive(),
  /** Key/value heads; fewer than nHeads = grouped-query attention. */
  nKvHeads: z.number().int().positive(),
  /** Per-head width; dModel / nHeads unless a checkpoint says otherwise. */
  headDim: z.number().int().positive(),
  /** SwiGLU intermediate size. */
  dFF: z.number().int().positive(),
  rmsNormEps: z.number().positive().default(1e-5),
  ropeTheta: z.number().positive().default(10000),
  ropeScaling: RopeScalingSchema.nullable().default(null),
  maxSeqLen: z.number().int().positive(),
  /** lm_head shares the embedding matrix. */
  tieEmbeddings: z.boolean().default(false),
}).refine((c) => c.nHeads % c.nKvHeads === 0, {
  message: "nHeads must be a multiple of nKvHeads (grouped-query attention)",
  path: ["nKvHeads"],
});
export type LlamaConfig = z.output<typeof LlamaConfigSchema>;

export function parseLlamaConfig(value: unknown, where = "model"): LlamaConfig {
  return parseConfig(LlamaConfigSchema, value, where);
}
