/**
 * Top-k MoLE / MixLoRA (methods.md §3.1): each adapted linear has N LoRA experts and its own router
 * Wg ∈ R^{N×d_in} (no bias).
 *   p = softmax(Wg x); S = TopK(p, k); g_i = p_i / Σ_{j∈S} p_j for i ∈ S, else 0.
 * Load balance L = N · Σ_i f_i · P_i with P_i = mean_t p_ti and f_i = count_i / T (Σf = k, AdaMoLE and
 * MoE-PEFT: `lbNorm: "slots"`) or count_i / (T·k) (Σf = 1, official MoLA: `lbNorm: "tokens"`).
 * Defaults: AdaMoLE's MoLE baseline — N = 8, k = 2, r = 4, α = 16, dropout 0.05, q,k,v,o, aux 1e-3 summed
 * over modules, padding counted.
 */
import * as tf from "@tensorflow/tfjs";
import { kaimingUniform, param } from "../adapters/init.ts";
import { loraFields } from "../adapters/lora.ts";
import { z } from "../config.ts";
import { rowSoftmax } from "../model/fused.ts";
import { tokenMean, topKRoute } from "../moe/ops.ts";
import type { Rng } from "../util/rng.ts";
import { aggregateLoadBalance, LB_AGGREGATES, type LbAggregate } from "./losses.ts";
import type { SiteMethod } from "./method.ts";
import type { AuxLoss, RouteContext, Router, Routing, SiteAux } from "./types.ts";

/** The load-balance options shared by top-k, MoLA and the fixed-threshold baseline. */
export function loadBalanceFields(d: { coef: number; norm: "slots" | "tokens"; aggregate: LbAggregate }) {
  return {
    /** Coefficient of the load-balance loss; 0 turns it off. */
    auxLossCoef: z.number().min(0, "must be ≥ 0").default(d.coef),
    /** f = count/T (Σf = k: AdaMoLE, MoE-PEFT) or count/(T·k) (Σf = 1: official MoLA). */
    lbNorm: z.enum(["slots", "tokens"]).default(d.norm),
    /** How sites combine: sum of per-module losses (AdaMoLE), pooled logits (MoE-PEFT), per layer (MoLA). */
    lbAggregate: z.enum(LB_AGGREGATES).default(d.aggregate),
    /** Exclude padding tokens from f and P (MoE-PEFT); AdaMoLE counts them. */
    lbMaskPadding: z.boolean().default(false),
  };
}

export interface LbSpec {
  coef: number;
  norm: "slots" | "tokens";
  maskPadding: boolean;
}

/** The router's weight Wg [N, d_in], kaiming-uniform(a=√5) like `nn.Linear(d_in, N, bias=False)`. */
export function routerWeight(name: string, dIn: number, nExperts: number, rng: Rng): tf.Variable {
  return param(`${name}.weight`, kaimingUniform(rng, [nExperts, dIn], dIn));
}

/** Load-balance terms from a 0/1 selection: f_i = count_i / T (÷ k for `tokens`), P_i = mean p. */
export function countAux(
  layer: number,
  active: tf.Tensor2D,
  probTerm: tf.Tensor2D,
  lb: LbSpec,
  k: number,
  ctx: RouteContext,
): SiteAux {
  const mask = lb.maskPadding ? ctx.mask : null;
  const f = tokenMean(active, mask) as tf.Tensor1D;
  return meansAux(layer, f, tokenMean(probTerm, mask) as tf.Tensor1D, lb, k);
}

/** Load-balance terms from the token means of the selection (f) and of p (P); f ÷ k for `tokens`. */
export function meansAux(layer: number, f: tf.Tensor1D, P: tf.Tensor1D, lb: LbSpec, k: number): SiteAux {
  return { layer, nExperts: f.shape[0], f: lb.norm === "tokens" ? f.div(k) as tf.Tensor1D : f, P };
}

/**
 * A router whose gate is p = softmax(Wg x) with Wg ∈ R^{N×d_in} and no bias, as in every MoLE variant here;
 * subclasses turn p into routing weights.
 */
export abstract class GateRouter implements Router {
  readonly weight: tf.Variable;
  readonly params: Record<string, tf.Variable>;

  constructor(name: string, readonly layer: number, dIn: number, readonly nExperts: number, rng: Rng) {
    this.weight = routerWeight(name, dIn, nExperts, rng);
    this.params = { weight: this.weight };
  }

  /** p = softmax(Wg x): [T, N]. */
  protected probs(x: tf.Tensor2D): tf.Tensor2D {
    return rowSoftmax(this.logits(x));
  }

  /** The router logits Wg x: [T, N]. */
  protected logits(x: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(x, this.weight, false, true) as tf.Tensor2D;
  }

  abstract route(x: tf.Tensor2D, ctx: RouteContext): Routing;
}

export class TopKRouter extends GateRouter {
  constructor(
    name: string,
    layer: number,
    dIn: number,
    nExperts: number,
    readonly k: number,
    readonly lb: LbSpec,
    rng: Rng,
  ) {
    super(name, layer, dIn, nExperts, rng);
  }

  route(x: tf.Tensor2D, ctx: RouteContext): Routing {
    const lb = ctx.training && this.lb.coef > 0;
    const masked = lb && this.lb.maskPadding && ctx.mask !== null; // padding-free means are taken below
    // steps 1–3: p = softmax(Wg x), S = TopK(p, k), g = p renormalised over S; and the token means of p and S
    const { p, active, g, P, f } = topKRoute(this.logits(x), this.k, lb && !masked);
    if (!lb) return { g, p, active };
    const aux = masked
      ? countAux(this.layer, active, p, this.lb, this.k, ctx)
      : meansAux(this.layer, f!, P!, this.lb, this.k);
    return { g, p, active, aux };
  }
}

/** `coef · L_lb` over all sites, or null when the coefficient is 0. */
export function loadBalanceLoss(coef: number, aggregate: LbAggregate, sites: SiteAux[]): AuxLoss | null {
  if (coef === 0 || sites.length === 0) return null;
  const lb = aggregateLoadBalance(sites, aggregate);
  return { total: lb.mul(coef) as tf.Scalar, parts: { load_balance: lb } };
}

export const TopKSchema = z.strictObject({
  method: z.literal("topk"),
  ...loraFields({ rank: 4, alpha: 16, dropout: 0.05, targets: ["q", "k", "v", "o"] }),
  nExperts: z.number().int().min(1, "must be ≥ 1").default(8),
  topK: z.number().int().min(1, "must be ≥ 1").default(2),
  ...loadBalanceFields({ coef: 1e-3, norm: "slots", aggregate: "sum" }),
  dropoutPerExpert: z.boolean().default(true),
}).superRefine((c, ctx) => {
  if (c.topK > c.nExperts) {
    ctx.addIssue({
      code: "custom",
      path: ["topK"],
      message: `topK (${c.topK}) must be ≤ nExperts (${c.nExperts}); lower topK or add experts`,
    });
  }
});
export type TopKConfig = z.output<typeof TopKSchema>;

/** The fields a top-k router reads from its method's config (topk and mola share them). */
type TopKRouterConfig = Pick<TopKConfig, "topK" | "auxLossCoef" | "lbNorm" | "lbMaskPadding">;

/** A site's top-k router over its `n` experts, its load balance per the config. */
export function createTopKRouter(
  c: TopKRouterConfig,
  site: { name: string; layer: number; dIn: number },
  n: number,
  rng: Rng,
): TopKRouter {
  const lb = { coef: c.auxLossCoef, norm: c.lbNorm, maskPadding: c.lbMaskPadding };
  return new TopKRouter(site.name + ".router", site.layer, site.dIn, n, c.topK, lb, rng);
}

export const topkMethod: SiteMethod<TopKConfig> = {
  kind: "site",
  name: "topk",
  summary: "MoLE / MixLoRA top-k: softmax router, k of N LoRA experts per token, renormalised; load balance",
  schema: TopKSchema,
  nExperts: (c) => c.nExperts,
  dropoutPerExpert: (c) => c.dropoutPerExpert,
  createRouter: createTopKRouter,
  auxLoss: (c, sites) => loadBalanceLoss(c.auxLossCoef, c.lbAggregate, sites),
};
