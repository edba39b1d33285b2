/**
 * AdaMoLE — adaptive thresholds (methods.md §5, AdaMoLE `AdaMoeLayer`):
 *   p = softmax(Wg x)                      gate, Wg ∈ R^{N×d_in} without bias
 *   τ(x) = τ_max · σ(w_τ·x + b_τ)          threshold network Linear(d_in, 1) with bias; τ ∈ (0, τ_max)
 *   a_i = p_i − τ,  sel_i = [a_i ≥ 0]
 *   g_i = a_i·sel_i / Σ_j a_j·sel_j        renormalised, built from p − τ; no ε — a zero sum divides by 1
 * τ_max defaults to 1/N, where at least one expert always passes. Aux loss L = N·Σ_i (count_i/T)·mean_t a_ti
 * — the *adapted* a, which can be negative (`lbProb: "p"` uses p instead) — summed over modules, ×1e-3.
 * Defaults: N = 8, r = 4 (AdaMoLE's "rank 32" total), α = 16, dropout 0.05 per expert, q,k,v,o.
 */
import * as tf from "@tensorflow/tfjs";
import { kaimingUniform, linearBiasUniform, param } from "../adapters/init.ts";
import { loraFields } from "../adapters/lora.ts";
import { z } from "../config.ts";
import { FUSED } from "../backend/fused_kernels.ts";
import { adaMoleRoute, tokenMean, useFusedRouting } from "../moe/ops.ts";
import type { Rng } from "../util/rng.ts";
import type { SiteMethod } from "./method.ts";
import { GateRouter, loadBalanceLoss } from "./topk.ts";
import type { RouteContext, Routing } from "./types.ts";

/** τ(x) = τ_max · σ(x·w_τᵀ + b_τ) → [T, 1]; the network is `Linear(d_in, 1)` with bias. */
export class ThresholdNet {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(name: string, dIn: number, readonly maxThreshold: number, rng: Rng) {
    this.weight = param(`${name}.weight`, kaimingUniform(rng, [1, dIn], dIn));
    this.bias = param(`${name}.bias`, linearBiasUniform(rng, [1], dIn));
  }

  tau(x: tf.Tensor2D): tf.Tensor2D {
    const s = tf.matMul(x, this.weight, false, true) as tf.Tensor2D; // x·w_τᵀ, [T, 1]
    if (!useFusedRouting()) return tf.sigmoid(s.add(this.bias)).mul(this.maxThreshold) as tf.Tensor2D;
    const [tau, sig] = tf.engine().runKernel(FUSED.scaledSigmoid, { s, b: this.bias }, { c: this.maxThreshold }) as [
      tf.Tensor2D,
      tf.Tensor,
    ];
    sig.dispose();
    return tau;
  }
}

export class AdaMoleRouter extends GateRouter {
  readonly thresholdNet: ThresholdNet | null;

  constructor(
    name: string,
    layer: number,
    dIn: number,
    nExperts: number,
    readonly maxThreshold: number,
    readonly constThreshold: boolean,
    readonly lb: { coef: number; prob: "adapted" | "p"; maskPadding: boolean },
    rng: Rng,
  ) {
    super(name, layer, dIn, nExperts, rng);
    this.thresholdNet = constThreshold ? null : new ThresholdNet(`${name}.threshold`, dIn, maxThreshold, rng);
    if (this.thresholdNet) {
      this.params["threshold.weight"] = this.thresholdNet.weight;
      this.params["threshold.bias"] = this.thresholdNet.bias;
    }
  }

  route(x: tf.Tensor2D, ctx: RouteContext): Routing {
    const T = x.shape[0];
    const z = this.logits(x); // Wg x, [T, N]
    const tau = this.thresholdNet ? this.thresholdNet.tau(x) : tf.fill([T, 1], this.maxThreshold) as tf.Tensor2D;
    const lb = ctx.training && this.lb.coef > 0;
    const adapted = this.lb.prob === "adapted";
    const mask = lb && this.lb.maskPadding ? ctx.mask : null; // padding-free means are taken below
    // p = softmax(Wg x); a = p − τ; sel = [a ≥ 0]; g = a·sel / Σ a·sel (÷1 if 0); and the token means
    const { p, a, active, g, P, f } = adaMoleRoute(z, tau, adapted, lb && !mask);
    const routing: Routing = { g, p, active, threshold: tau.reshape([T]) as tf.Tensor1D };
    if (lb) {
      routing.aux = {
        layer: this.layer,
        nExperts: this.nExperts,
        f: mask ? tokenMean(active, mask) as tf.Tensor1D : f!, // count_i / T
        P: mask ? tokenMean(adapted ? a : p, mask) as tf.Tensor1D : P!,
      };
    }
    return routing;
  }
}

tf.registerGradient({
  kernelName: FUSED.scaledSigmoid,
  outputsToSave: [false, true], // σ
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
    const [dtau] = dy as tf.Tensor[];
    const grad = (wrt: "s" | "b") => () =>
      tf.engine().runKernel(FUSED.scaledSigmoidGrad, { dtau, sig: saved[0] }, { c: attrs!.c, wrt }) as tf.Tensor;
    return { s: grad("s"), b: grad("b") };
  },
});

export const AdaMoleSchema = z.strictObject({
  method: z.literal("adamole"),
  ...loraFields({ rank: 4, alpha: 16, dropout: 0.05, targets: ["q", "k", "v", "o"] }),
  nExperts: z.number().int().min(1, "must be ≥ 1").default(8),
  /** τ_max in [0, 1]; null means 1/N (the paper's "0–1/N" setting). τ_max = 0 activates every expert. */
  maxThreshold: z.number().min(0, "must be in [0, 1]").max(1, "must be in [0, 1]").nullable().default(null),
  /** Use τ = τ_max for every token instead of the learned threshold network. */
  constThreshold: z.boolean().default(false),
  auxLossCoef: z.number().min(0, "must be ≥ 0").default(1e-3),
  /** The load-balance probability term: the adapted a = p − τ (the official code) or p. */
  lbProb: z.enum(["adapted", "p"]).default("adapted"),
  lbMaskPadding: z.boolean().default(false),
  dropoutPerExpert: z.boolean().default(true),
});
export type AdaMoleConfig = z.output<typeof AdaMoleSchema>;

export const adamoleMethod: SiteMethod<AdaMoleConfig> = {
  kind: "site",
  name: "adamole",
  summary: "AdaMoLE: gate + threshold network, experts with p ≥ τ(x), weights (p − τ) renormalised",
  schema: AdaMoleSchema,
  nExperts: (c) => c.nExperts,
  dropoutPerExpert: (c) => c.dropoutPerExpert,
  createRouter: (c, site, n, rng) =>
    new AdaMoleRouter(
      site.name + ".router",
      site.layer,
      site.dIn,
      n,
      c.maxThreshold ?? 1 / n,
      c.constThreshold,
      { coef: c.auxLossCoef, prob: c.lbProb, maskPadding: c.lbMaskPadding },
      rng,
    ),
  auxLoss: (c, sites) => loadBalanceLoss(c.auxLossCoef, "sum", sites),
};
