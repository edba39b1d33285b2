/**
 * What a routing method is: its config schema (zod, defaults from methods.md, unknown keys rejected), how
 * many experts a site gets, its router, and how its per-site aux terms combine into the loss.
 *
 * Site methods (lora, topk, threshold, mola, adamole, dynmole) route tokens among N LoRA experts at every
 * adapted projection. Block methods (moa-soft, moa-sparse) route per transformer block among adapter
 * types (methods.md §7); see `moa.ts`.
 */
import type { z } from "zod";
import type { Target } from "../adapters/lora.ts";
import type { Rng } from "../util/rng.ts";
import type { AuxLoss, Router, SiteAux } from "./types.ts";

/** Where a router sits. */
export interface SiteInfo {
  /** Parameter-name prefix, e.g. `model.layers.3.self_attn.q_proj`. */
  name: string;
  layer: number;
  nLayers: number;
  target: Target;
  dIn: number;
  dOut: number;
}

/** The LoRA fields every method config carries. */
export interface LoraConfigFields {
  rank: number;
  alpha: number;
  dropout: number;
  targets: Target[];
  rsLora: boolean;
}

export interface SiteMethod<C extends LoraConfigFields & { method: string } = LoraConfigFields & { method: string }> {
  readonly kind: "site";
  readonly name: C["method"];
  /** One line: paper and rule, for --help and reports. */
  readonly summary: string;
  readonly schema: z.ZodType<C>;
  /** Experts at a site in `layer` of `nLayers` (1 for plain LoRA). */
  nExperts(cfg: C, layer: number, nLayers: number): number;
  /** Separate dropout mask per expert (the reference code's per-expert dropout modules) or shared. */
  dropoutPerExpert(cfg: C): boolean;
  /** The site's router, or null when there is none (plain LoRA). */
  createRouter(cfg: C, site: SiteInfo, nExperts: number, rng: Rng): Router | null;
  /** The coefficient-weighted aux loss of one forward pass from every site's terms; null if none. */
  auxLoss(cfg: C, sites: SiteAux[]): AuxLoss | null;
}
