/**
 * Fixed-threshold MoLE, the "MoLE 1/N" baseline of the AdaMoLE paper (methods.md §3.1,
 * AdaMoLE `ThresholdMoeLayer`): sel_i = [p_i ≥ τ] with a constant τ (default 1/N);
 * g_i = p_i·sel_i / Σ_j p_j·sel_j, dividing by 1 instead when that sum is 0. With τ ≤ 1/N at least
 * one expert always qualifies (max p ≥ 1/N). Load balance as AdaMoLE's MoLE: f = count/T, P = mean p.
 */
import * as tf from "@tensorflow/tfjs";
import { loraFields } from "../adapters/lora.ts";
import { z } from "../config.ts";
import { nonDiff, renormalize } from "../moe/ops.ts";
import type { Rng } from "../util/rng.ts";
import type { SiteMethod } from "./method.ts";
import { countAux, GateRouter, type LbSpec, loadBalanceFields, loadBalanceLoss } from "./topk.ts";
import type { RouteContext, Routing } from "./types.ts";

export class ThresholdRouter extends GateRouter {
  constructor(
    name: string,
    layer: number,
    dIn: number,
    nExperts: number,
    readonly tau: number,
    readonly lb: LbSpec,
    rng: Rng,
  ) {
    super(name, layer, dIn, nExperts, rng);
  }

  route(x: tf.Tensor2D, ctx: RouteContext): Routing {
    const p = this.probs(x); // [T, N]
    const active = nonDiff(p, (q) => tf.greaterEqual(q, this.tau).cast("float32")) as tf.Tensor2D; // p ≥ τ
    const g = renormalize(p, active, true); // p·sel / Σ p·sel, ÷1 where that sum is 0
    const threshold = tf.fill([x.shape[0]], this.tau) as tf.Tensor1D;
    const aux = ctx.training && this.lb.coef > 0 ? countAux(this.layer, active, p, this.lb, 1, ctx) : undefined;
    return { g, p, active, threshold, aux };
  }
}

export const ThresholdSchema = z.strictObject({
  method: z.literal("threshold"),
  ...loraFields({ rank: 4, alpha: 16, dropout: 0.05, targets: ["q", "k", "v", "o"] }),
  nExperts: z.number().int().min(1, "must be ≥ 1").default(8),
  /** τ in [0, 1]; null means 1/N. */
  threshold: z.number().min(0, "must be in [0, 1]").max(1, "must be in [0, 1]").nullable().default(null),
  ...loadBalanceFields({ coef: 1e-3, norm: "slots", aggregate: "sum" }),
  dropoutPerExpert: z.boolean().default(true),
});
export type ThresholdConfig = z.output<typeof ThresholdSchema>;

export const thresholdMethod: SiteMethod<ThresholdConfig> = {
  kind: "site",
  name: "threshold",
  summary: "MoLE with a fixed threshold: experts with p ≥ τ (default 1/N), renormalised",
  schema: ThresholdSchema,
  nExperts: (c) => c.nExperts,
  dropoutPerExpert: (c) => c.dropoutPerExpert,
  createRouter: (c, site, n, rng) =>
    new ThresholdRouter(site.name + ".router", site.layer, site.dIn, n, c.threshold ?? 1 / n, {
      coef: c.auxLossCoef,
      norm: c.lbNorm,
      maskPadding: c.lbMaskPadding,
    }, rng),
  auxLoss: (c, sites) => loadBalanceLoss(c.auxLossCoef, c.lbAggregate, sites),
};
