/**
 * LoRA — the single-adapter baseline (methods.md §2): h = W0 x + (α/r) · B A drop(x). No router, no
 * aux loss. Defaults: AdaMoLE's LoRA baseline (r = 32, α = 16, dropout 0.05, q,k,v,o).
 */
import { z } from "../config.ts";
import { loraFields } from "../adapters/lora.ts";
import type { SiteMethod } from "./method.ts";

export const LoraSchema = z.strictObject({
  method: z.literal("lora"),
  ...loraFields({ rank: 32, alpha: 16, dropout: 0.05, targets: ["q", "k", "v", "o"] }),
});
export type LoraConfig = z.output<typeof LoraSchema>;

export const loraMethod: SiteMethod<LoraConfig> = {
  kind: "site",
  name: "lora",
  summary: "LoRA (Hu et al.): one low-rank adapter per projection, h = W0x + (α/r)·BAx",
  schema: LoraSchema,
  nExperts: () => 1,
  dropoutPerExpert: () => false,
  createRouter: () => null,
  auxLoss: () => null,
};
