/**
 * MoLA — layer-wise expert allocation (methods.md §4, official GCYZSL/MoLA): top-k MoLE (§3.1) with a
 * different expert count N_l per decoder layer. A pattern such as "2468" splits the layers into equal
 * contiguous groups (layer l gets group ⌊l·G/L⌋), so "2468" on 32 layers is 2×8, 4×8, 6×8, 8×8 ("8642"
 * is the reverse). Where N_l = k, routing is dense softmax over all N_l experts.
 * Defaults from the official code: k = 2, r = 8, α = 16, dropout 0.05 shared by a layer's experts, all
 * seven projections; load balance off (`obalance=False`), and when on: 1e-3, f = count/(T·k), pooled per
 * layer and summed over layers.
 */
import { loraFields } from "../adapters/lora.ts";
import { z } from "../config.ts";
import type { SiteMethod } from "./method.ts";
import { createTopKRouter, loadBalanceFields, loadBalanceLoss } from "./topk.ts";

/** "2468" → [2, 4, 6, 8]; an array is taken as is. */
export function expertGroups(experts: string | number[]): number[] {
  return typeof experts === "string" ? [...experts].map(Number) : experts;
}

/** N_l for layer `layer` of `nLayers`: group ⌊layer·G/nLayers⌋ of the pattern. */
export function expertsForLayer(experts: string | number[], layer: number, nLayers: number): number {
  const groups = expertGroups(experts);
  return groups[Math.floor((layer * groups.length) / nLayers)];
}

export const MolaSchema = z.strictObject({
  method: z.literal("mola"),
  ...loraFields({
    rank: 8,
    alpha: 16,
    dropout: 0.05,
    targets: ["q", "k", "v", "o", "gate", "up", "down"],
  }),
  /** Experts per layer group: a digit pattern ("2468", "8642") or a list of counts. */
  experts: z.union([
    z.string().regex(/^[1-9]+$/, "a pattern is digits 1–9, one expert count per layer group, e.g. 2468"),
    z.array(z.number().int().min(1, "expert counts must be ≥ 1")).min(1),
  ]).default("2468"),
  topK: z.number().int().min(1, "must be ≥ 1").default(2),
  ...loadBalanceFields({ coef: 0, norm: "tokens", aggregate: "layer" }),
  dropoutPerExpert: z.boolean().default(false),
}).superRefine((c, ctx) => {
  const fewest = Math.min(...expertGroups(c.experts));
  if (c.topK > fewest) {
    ctx.addIssue({
      code: "custom",
      path: ["topK"],
      message: `topK (${c.topK}) must be ≤ the smallest expert count (${fewest}); lower topK or change experts`,
    });
  }
});
export type MolaConfig = z.output<typeof MolaSchema>;

export const molaMethod: SiteMethod<MolaConfig> = {
  kind: "site",
  name: "mola",
  summary: "MoLA: top-k MoLE with a different expert count per layer (e.g. 2468: more experts higher up)",
  schema: MolaSchema,
  nExperts: (c, layer, nLayers) => expertsForLayer(c.experts, layer, nLayers),
  dropoutPerExpert: (c) => c.dropoutPerExpert,
  createRouter: createTopKRouter,
  auxLoss: (c, sites) => loadBalanceLoss(c.auxLossCoef, c.lbAggregate, sites),
};
