/**
 * A study cell: everything that fixes one (configuration, seed) run, validated with zod (unknown keys are
 * rejected) and hashed into the key under which `cells.jsonl` records it.
 */
import { parseConfig, z } from "../config.ts";
import { TemplateNameSchema } from "../data/prompt.ts";
import { TASKS } from "../data/types.ts";
import { ConfigError } from "../errors.ts";
import { parseMethodConfig } from "../routers/registry.ts";
import type { MethodConfig } from "../routers/registry.ts";
import { BaseRecipeSchema } from "../train/base_recipe.ts";
import { TrainConfigSchema } from "../train/config.ts";
import { PROTOCOLS } from "../train/evaluate.ts";
import { configHash } from "../util/hash.ts";

export const EvalConfigSchema = z.strictObject({
  /** Which protocols to run; every result records its protocol. */
  protocols: z.array(z.enum(PROTOCOLS)).min(1).default(["score"]),
  template: TemplateNameSchema.default("compact"),
  split: z.enum(["test", "validation"]).default("test"),
  maxLen: z.number().int().min(8).default(96),
  batchSize: z.number().int().min(1).default(32),
  maxNewTokens: z.number().int().min(1).default(8),
  /** Evaluate at most this many records per task (null: all). */
  limitPerTask: z.number().int().min(1).nullable().default(null),
  /**
   * Convergence curve (absent: none, and the cell's hash is that of a config without it): validation accuracy
   * (score protocol, macro average over tasks) and mean answer cross-entropy on the first `limitPerTask`
   * validation records of each task (the same records for every cell), before training, every `every`
   * updates, and after the last. `every: 0` also turns it off. See src/train/curve.ts.
   */
  curve: z.strictObject({
    every: z.number().int().min(0).default(25),
    limitPerTask: z.number().int().min(1).nullable().default(25),
  }).optional(),
});
export type EvalConfig = z.output<typeof EvalConfigSchema>;

export const BaseSpecSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("embedded"), recipe: BaseRecipeSchema.prefault({}) }),
  z.strictObject({ kind: z.literal("hf"), dir: z.string().min(1) }),
]);
export type BaseSpec = z.output<typeof BaseSpecSchema>;

export const DataSpecSchema = z.discriminatedUnion("kind", [
  /** The embedded suite of the (embedded) base recipe. */
  z.strictObject({ kind: z.literal("embedded"), trainPerTask: z.number().int().min(1).nullable().default(null) }),
  /** LLM-Adapters files: <dir>/commonsense_170k.json and <dir>/<task>/test.json. */
  z.strictObject({
    kind: z.literal("commonsense"),
    dir: z.string().min(1),
    trainFile: z.string().default("commonsense_170k.json"),
    trainLimit: z.number().int().min(1).nullable().default(null),
    /** At most this many training records per task (after the seeded shuffle). */
    trainPerTask: z.number().int().min(1).nullable().default(null),
    tasks: z.array(z.enum(TASKS)).min(1).default([...TASKS]),
    onBadRecord: z.enum(["skip", "fail"]).default("fail"),
  }),
]);
export type DataSpec = z.output<typeof DataSpecSchema>;

export const CellConfigSchema = z.strictObject({
  method: z.record(z.string(), z.unknown()),
  train: TrainConfigSchema.prefault({}),
  eval: EvalConfigSchema.prefault({}),
  base: BaseSpecSchema.prefault({ kind: "embedded" }),
  data: DataSpecSchema.prefault({ kind: "embedded" }),
  seed: z.number().int().min(0),
  /** Record router entropy / active experts on a fixed probe batch at every training log step. */
  trackRouting: z.boolean().default(true),
});

export interface CellConfig extends Omit<z.output<typeof CellConfigSchema>, "method"> {
  method: MethodConfig;
}

/** What a study lists: how to show the cell, and its config (validated by `resolveCell`). */
export interface CellSpec {
  /** Human label, e.g. "AdaMoLE τmax=1/N". */
  label: string;
  /** Fields tables group by (method, threshold, q, …); seeds aggregate within a group. */
  group: Record<string, string | number | boolean>;
  config: unknown;
}

export interface ResolvedCell {
  label: string;
  group: Record<string, string | number | boolean>;
  config: CellConfig;
  hash: string;
}

/** Validate a cell's config (one-line errors naming the field) and compute its hash. */
export async function resolveCell(spec: CellSpec, where: string): Promise<ResolvedCell> {
  const parsed = parseConfig(CellConfigSchema, spec.config, where);
  if (parsed.eval.curve?.every && parsed.data.kind !== "embedded") {
    throw new ConfigError(
      `${where}.eval.curve: the convergence curve needs a validation split, and the LLM-Adapters data has none; ` +
        "drop eval.curve",
    );
  }
  const config: CellConfig = { ...parsed, method: parseMethodConfig(parsed.method, `${where}.method`) };
  return { label: spec.label, group: spec.group, config, hash: await configHash(config) };
}
