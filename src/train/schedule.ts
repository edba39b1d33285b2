/**
 * Learning-rate schedules as the reference repos use them (transformers' `get_scheduler` names):
 * constant (MoE-PEFT), constant_with_warmup (AdaMoLE: 200 steps), linear decay, and cosine — warmup then a
 * half cycle to 0 (MoA's `lr_sched`, transformers' cosine with 0.5 cycles).
 */
export const SCHEDULES = ["constant", "constant_with_warmup", "linear", "cosine"] as const;
export type ScheduleName = typeof SCHEDULES[number];

/**
 * The learning rate for update `step` (0-based) of `total`, exactly as transformers' LambdaLR schedules
 * give it (its first warmup update therefore runs at lr 0).
 */
export function learningRate(
  schedule: ScheduleName,
  peak: number,
  step: number,
  total: number,
  warmup: number,
): number {
  if (schedule === "constant") return peak;
  if (step < warmup) return (peak * step) / Math.max(1, warmup); // linear warmup from 0
  if (schedule === "constant_with_warmup") return peak;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  if (schedule === "linear") return peak * Math.max(0, 1 - progress);
  return peak * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress))); // cosine, half a cycle
}
