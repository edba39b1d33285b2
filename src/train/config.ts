/**
 * Training hyperparameters (zod; unknown keys rejected). Defaults follow MoE-PEFT's templates (AdamW,
 * lr 2e-4, constant schedule, batch 16, 2 epochs) with transformers' gradient clipping at 1.0.
 */
import { parseConfig, z } from "../config.ts";
import { SCHEDULES } from "./schedule.ts";

export const TrainConfigSchema = z.strictObject({
  lr: z.number().gt(0, "must be in (0, 1]; try 1e-4 to 1e-3").max(1, "must be in (0, 1]; try 1e-4 to 1e-3").default(
    2e-4,
  ),
  schedule: z.enum(SCHEDULES).default("constant"),
  warmupSteps: z.number().int().min(0, "must be ≥ 0").default(0),
  weightDecay: z.number().min(0, "must be ≥ 0").default(0),
  beta1: z.number().min(0, "must be in [0, 1)").lt(1, "must be in [0, 1)").default(0.9),
  beta2: z.number().min(0, "must be in [0, 1)").lt(1, "must be in [0, 1)").default(0.999),
  eps: z.number().positive("must be > 0").default(1e-8),
  /** Clip the global gradient norm to this; 0 turns clipping off. */
  maxGradNorm: z.number().min(0, "must be ≥ 0 (0 turns clipping off)").default(1),
  batchSize: z.number().int().min(1, "must be ≥ 1").default(16),
  gradAccum: z.number().int().min(1, "must be ≥ 1").default(1),
  epochs: z.number().positive("must be > 0").default(2),
  /** Stop after this many updates (overrides epochs). */
  maxSteps: z.number().int().min(1, "must be ≥ 1").nullable().default(null),
  logEvery: z.number().int().min(1, "must be ≥ 1").default(10),
  /** Call the eval hook every this many updates (0: never during training). */
  evalEvery: z.number().int().min(0, "must be ≥ 0").default(0),
  /** Write a resumable checkpoint every this many updates (0: only when the run ends). */
  checkpointEvery: z.number().int().min(0, "must be ≥ 0").default(0),
  keepCheckpoints: z.number().int().min(1, "must be ≥ 1").default(2),
});
export type TrainConfig = z.output<typeof TrainConfigSchema>;

export function parseTrainConfig(value: unknown, where = "train"): TrainConfig {
  return parseConfig(TrainConfigSchema, value ?? {}, where);
}
