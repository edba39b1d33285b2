/**
 * DynMoLE — Tsallis-entropy hybrid routing (methods.md §6, the only DynMoLE code: mikecovlee/DynMoLE
 * `_dynamic_routing`). Per adapted linear, with p = softmax(Wg x):
 *   H̃ = S_q(p) / S_q^max                           normalised Tsallis entropy (ε = 1e-5, no renormalising)
 *   keep rank j iff c_j ≤ top_p                      top-p on sorted cumulative sums; the crossing expert is out
 *   ranks < keep_top_k always kept                   the top-k floor (at least 2 experts by default)
 *   H̃ > entropy_threshold → keep all N             dense/soft routing when the router is uncertain
 *   g = p ⊙ keep                                     raw probabilities, NOT renormalised (Σg < 1 on sparse tokens)
 * Aux: 0.01 · mean_t H̃ (all rows, padding included) + 0.001 · N·Σ_i mean_t(g_i)·mean_t(p_i) (masked means),
 * over the pooled router outputs of every DynMoLE site. Both positive: training sharpens the router.
 * Defaults: N = 6, r = 24, α = 48, dropout 0.05, gate/up/down, q = 1.1, threshold 0.9, top-p 0.75, top-k 2.
 */
import * as tf from "@tensorflow/tfjs";
import { loraFields } from "../adapters/lora.ts";
import { FUSED, hasFusedKernels } from "../backend/fused_kernels.ts";
import { z } from "../config.ts";
import { cumulativeDescending, descendingRank, nonDiff, tokenMean, useFusedRouting } from "../moe/ops.ts";
import { rowSoftmax } from "../model/fused.ts";
import type { Rng } from "../util/rng.ts";
import { aggregateLoadBalance, maxTsallis, meanEntropy, normalizedRenyi, normalizedTsallis } from "./losses.ts";
import type { SiteMethod } from "./method.ts";
import { GateRouter } from "./topk.ts";
import type { AuxLoss, RouteContext, Routing } from "./types.ts";

export interface DynMoleRule {
  q: number;
  entropyType: "tsallis" | "renyi";
  entropyEps: number;
  entropyThreshold: number;
  topP: number;
  keepTopK: number;
}

/** H̃ per token [T] under the configured entropy. */
export function routerEntropy(p: tf.Tensor2D, rule: DynMoleRule): tf.Tensor1D {
  return rule.entropyType === "tsallis"
    ? normalizedTsallis(p, rule.q, rule.entropyEps)
    : normalizedRenyi(p, rule.q, rule.entropyEps);
}

/**
 * The hybrid rule's 0/1 expert mask [T, N] (steps 1–4 of methods.md §6); no gradient. `entropy` is H̃ of p
 * when the caller has it. One kernel where the backend has it (blas), else composed rank / cumulative ops.
 */
export function dynamicMask(p: tf.Tensor2D, rule: DynMoleRule, entropy?: tf.Tensor1D): tf.Tensor2D {
  if (hasFusedKernels()) {
    return nonDiff(p, (x) =>
      tf.tidy(() => {
        const h = rule.entropyThreshold < 1 ? entropy ?? routerEntropy(x as tf.Tensor2D, rule) : undefined;
        const attrs = { topP: rule.topP, keepTopK: rule.keepTopK, threshold: rule.entropyThreshold };
        const inputs: tf.NamedTensorMap = h ? { p: x, entropy: h } : { p: x };
        return tf.engine().runKernel(FUSED.dynamicMask, inputs, attrs) as tf.Tensor2D;
      })) as tf.Tensor2D;
  }
  return nonDiff(p, (x) =>
    tf.tidy(() => {
      const probs = x as tf.Tensor2D;
      const topP = tf.lessEqual(cumulativeDescending(probs), rule.topP); // c_j ≤ top_p
      const floor = tf.less(descendingRank(probs), rule.keepTopK); // ranks 1..keep_top_k
      let keep = tf.logicalOr(topP, floor);
      if (rule.entropyThreshold < 1) {
        const uncertain = tf.greater(routerEntropy(probs, rule), rule.entropyThreshold).expandDims(1); // [T, 1]
        keep = tf.logicalOr(keep, uncertain); // dense for uncertain tokens
      }
      return keep.cast("float32");
    })) as tf.Tensor2D;
}

/**
 * Whether top-p can ever keep more than the top-k floor (methods.md §6, hybrid rule step 2): the top-(k+1)
 * experts always hold at least (k+1)/N of the mass, so with (k+1)/N ≥ top_p the (k+1)-th expert always
 * crosses top_p and is excluded (N = 4, k = 2, p = 0.75: top-p never adds a third expert).
 */
export function topPCanExceedFloor(rule: Pick<DynMoleRule, "topP" | "keepTopK">, nExperts: number): boolean {
  return rule.keepTopK < nExperts && (rule.keepTopK + 1) / nExperts < rule.topP;
}

export class DynMoleRouter extends GateRouter {
  constructor(
    name: string,
    layer: number,
    dIn: number,
    nExperts: number,
    readonly rule: DynMoleRule,
    readonly lbMaskPadding: boolean,
    readonly withAux: boolean,
    rng: Rng,
  ) {
    super(name, layer, dIn, nExperts, rng);
  }

  route(x: tf.Tensor2D, ctx: RouteContext): Routing {
    const aux = ctx.training && this.withAux;
    const mask = aux && this.lbMaskPadding ? ctx.mask : null;
    // p = softmax(Wg x); H̃ per token; the hybrid keep mask; g = p ⊙ keep (raw, not renormalised); the aux means
    const r = dynMoleRoute(this.logits(x), this.rule, mask, aux);
    const routing: Routing = { g: r.g, p: r.p, active: r.active, entropy: r.entropy };
    if (aux) {
      // f: mean masked probabilities, Σ mask·g / (Σ mask + 1e-8); the entropy over all rows, padding included
      routing.aux = { layer: this.layer, nExperts: this.nExperts, f: r.f!, P: r.P!, entropy: r.meanEntropy! };
    }
    return routing;
  }
}

/** One DynMoLE routing step; with `means`, the load balance's f and P and the mean entropy over tokens. */
export interface DynMoleRoute {
  p: tf.Tensor2D;
  /** [T] H̃, differentiable. */
  entropy: tf.Tensor1D;
  active: tf.Tensor2D;
  g: tf.Tensor2D;
  f?: tf.Tensor1D;
  P?: tf.Tensor1D;
  meanEntropy?: tf.Scalar;
}

/**
 * DynMoLE routing from router logits z [T, N] (methods.md §6); `mask` [T] (or null) weights f and P. With the
 * Tsallis entropy on a backend with the fused kernels it is one kernel each way, bit-identical to the ops.
 */
export function dynMoleRoute(
  z: tf.Tensor2D,
  rule: DynMoleRule,
  mask: tf.Tensor1D | null,
  means: boolean,
): DynMoleRoute {
  if (rule.entropyType !== "tsallis" || !useFusedRouting()) {
    const p = rowSoftmax(z);
    const entropy = routerEntropy(p, rule); // [T], differentiable
    const active = dynamicMask(p, rule, entropy);
    const g = p.mul(active) as tf.Tensor2D;
    if (!means) return { p, entropy, active, g };
    const f = tokenMean(g, mask, 1e-8) as tf.Tensor1D; // the composed order: f, P, then the entropy's mean
    const P = tokenMean(p, mask, 1e-8) as tf.Tensor1D;
    return { p, entropy, active, g, f, P, meanEntropy: entropy.mean() as tf.Scalar };
  }
  const inputs: tf.NamedTensorMap = mask ? { z, mask } : { z };
  const outs = tf.engine().runKernel(
    mask ? FUSED.dynMoleRouteMasked : FUSED.dynMoleRoute,
    inputs,
    dynMoleAttrs(rule, z.shape[1]),
  ) as tf.Tensor[];
  const [g, p, active, entropy, f, P, meanEntropy] = outs;
  if (!means) tf.dispose([f, P, meanEntropy]);
  return (means ? { g, p, active, entropy, f, P, meanEntropy } : { g, p, active, entropy }) as DynMoleRoute;
}

/** The fused kernels' attributes: the entropy (ε, q, S_q^max) and the hybrid rule. */
function dynMoleAttrs(rule: DynMoleRule, n: number): tf.NamedAttrMap {
  const { q, entropyEps: eps, topP, keepTopK, entropyThreshold: threshold } = rule;
  return { q, eps, smax: maxTsallis(n, q), topP, keepTopK, threshold };
}

for (const [kernelName, masked] of [[FUSED.dynMoleRoute, false], [FUSED.dynMoleRouteMasked, true]] as const) {
  tf.registerGradient({
    kernelName,
    inputsToSave: masked ? ["mask"] : [],
    outputsToSave: [false, true, true, false, false, false, false], // p, keep
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
      const [dg, dp, , dh, df, dP, dhMean] = dy as tf.Tensor[];
      const mask = masked ? saved[0] : null; // saved: the inputs to save, then the outputs
      const [p, keep] = saved.slice(masked ? 1 : 0);
      const inputs: tf.NamedTensorMap = { dg, dp, dh, df, dP, dhMean, p, keep };
      if (mask) inputs.mask = mask;
      const z = () => tf.engine().runKernel(FUSED.dynMoleRouteGrad, inputs, attrs) as tf.Tensor;
      const grads: Record<string, () => tf.Tensor> = { z };
      if (mask) grads.mask = () => tf.zerosLike(mask); // a weight, not a variable: no gradient
      return grads;
    },
  });
}

export const DynMoleSchema = z.strictObject({
  method: z.literal("dynmole"),
  ...loraFields({ rank: 24, alpha: 48, dropout: 0.05, targets: ["gate", "up", "down"] }),
  nExperts: z.number().int().min(1, "must be ≥ 1").default(6),
  /** Entropy order q ∈ (0, 2]; q = 1 is Shannon. */
  q: z.number().gt(0, "must be in (0, 2] (q ≤ 0 has no Tsallis entropy)").max(2, "must be in (0, 2]").default(1.1),
  entropyType: z.enum(["tsallis", "renyi"]).default("tsallis"),
  entropyEps: z.number().min(0, "must be ≥ 0").default(1e-5),
  /** Tokens with H̃ above it are routed densely; 1 turns the dense branch off. */
  entropyThreshold: z.number().min(0, "must be in [0, 1] (1 turns the dense branch off)").max(
    1,
    "must be in [0, 1] (1 turns the dense branch off)",
  ).default(0.9),
  topP: z.number().min(0, "must be in [0, 1]").max(1, "must be in [0, 1]").default(0.75),
  keepTopK: z.number().int().min(1, "must be ≥ 1 (the expert set is never empty)").default(2),
  /** Coefficient of the mean-entropy loss (`router_dyn_loss_coef`). */
  entropyCoef: z.number().min(0, "must be ≥ 0").default(0.01),
  /** Coefficient of the load-balance loss (`router_aux_loss_coef`). */
  auxLossCoef: z.number().min(0, "must be ≥ 0").default(1e-3),
  lbMaskPadding: z.boolean().default(true),
  dropoutPerExpert: z.boolean().default(true),
}).superRefine((c, ctx) => {
  if (c.keepTopK > c.nExperts) {
    ctx.addIssue({
      code: "custom",
      path: ["keepTopK"],
      message: `keepTopK (${c.keepTopK}) must be ≤ nExperts (${c.nExperts}); lower keepTopK or add experts`,
    });
  }
  if (c.entropyType === "renyi" && c.q === 1) {
    ctx.addIssue({ code: "custom", path: ["q"], message: "Rényi entropy of order 1 is undefined here; use q ≠ 1" });
  }
});
export type DynMoleConfig = z.output<typeof DynMoleSchema>;

export const dynmoleMethod: SiteMethod<DynMoleConfig> = {
  kind: "site",
  name: "dynmole",
  summary: "DynMoLE: Tsallis-entropy hybrid routing (dense when uncertain, else top-p with a top-k floor)",
  schema: DynMoleSchema,
  nExperts: (c) => c.nExperts,
  dropoutPerExpert: (c) => c.dropoutPerExpert,
  createRouter: (c, site, n, rng: Rng) =>
    new DynMoleRouter(
      site.name + ".router",
      site.layer,
      site.dIn,
      n,
      c,
      c.lbMaskPadding,
      c.entropyCoef > 0 || c.auxLossCoef > 0,
      rng,
    ),
  auxLoss: (c, sites): AuxLoss | null => {
    if (sites.length === 0 || (c.entropyCoef === 0 && c.auxLossCoef === 0)) return null;
    const entropy = meanEntropy(sites);
    const lb = aggregateLoadBalance(sites, "pooled");
    const total = entropy.mul(c.entropyCoef).add(lb.mul(c.auxLossCoef)) as tf.Scalar;
    return { total, parts: { entropy, load_balance: lb } };
  },
};
