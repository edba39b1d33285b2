/**
 * MoA — heterogeneous Mixture of Adapters (methods.md §7, DCDmllm/MoA LLaMA3_soft_moa / _sparse_moa).
 * Each adapter *type* is one expert, routed per token per transformer block:
 *   w = σ(router(x))                     independent sigmoid per type (not a softmax); router = SwiGLU MLP
 *                                        w2(silu(w1 x + b1) ⊙ (w3 x + b3)) + b2, hidden n_types·swi_x, zero
 *                                        biases; or Linear(d, n_types) with bias when swi_x = 0
 *   Soft MoA:   every type scaled by w_t; nothing renormalised
 *   Sparse MoA: τ(x) = τ_max · σ(w_τ·x + b_τ) (or τ_max when constThreshold); keep t iff w_t − τ ≥ 0;
 *               weight = the ORIGINAL w_t · keep (τ not subtracted, not renormalised). A token where no
 *               type passes gets exactly the frozen block. As in the official code the keep test
 *               (`torch.ge`) carries no gradient, so the threshold network never changes in training [DER].
 * No aux loss. Router input: the un-normalised block input x (LLaMA3 code), or the RMS-normed one
 * (MoA_Transformers), by `routerInput`.
 */
import * as tf from "@tensorflow/tfjs";
import { kaimingUniform, linearBiasUniform, param } from "../adapters/init.ts";
import { z } from "../config.ts";
import { swiGlu } from "../model/fused.ts";
import { nonDiff } from "../moe/ops.ts";
import type { Rng } from "../util/rng.ts";
import { ThresholdNet } from "./adamole.ts";
import type { RouteContext, Routing } from "./types.ts";

/** Adapter types in the router's column order, as the block's forward consumes them. */
export const MOA_TYPES = ["Q", "K", "V", "PROMPT", "O", "FFN_UP", "FFN_GATE", "FFN_DOWN", "PADAPTER"] as const;
export type MoaType = typeof MOA_TYPES[number];

/** LoRA types and the projection each adapts. */
export const MOA_LORA_TARGET = {
  Q: "q",
  K: "k",
  V: "v",
  O: "o",
  FFN_UP: "up",
  FFN_GATE: "gate",
  FFN_DOWN: "down",
} as const satisfies Partial<Record<MoaType, string>>;

/** The type sets the MoA repo's files disagree on (methods.md §7.3, §9.11). */
export const MOA_PRESETS: Record<string, MoaType[]> = {
  /** Soft README example: LoRA Q,K,V,O,FFN_DOWN + prompt + parallel adapter. */
  "soft-readme": ["Q", "K", "V", "PROMPT", "O", "FFN_DOWN", "PADAPTER"],
  /** Sparse README: LoRA Q,K,V,O,FFN_UP,FFN_DOWN + parallel adapter (prompt off in sparse MoA). */
  "sparse-readme": ["Q", "K", "V", "O", "FFN_UP", "FFN_DOWN", "PADAPTER"],
  /** MoA_Transformers' hard-coded set: LoRA Q,K,V,O,FFN_DOWN + parallel adapter, no prompt. */
  transformers: ["Q", "K", "V", "O", "FFN_DOWN", "PADAPTER"],
};

/** A preset name or a list of types → the types in canonical column order. */
export function resolveTypes(types: string | MoaType[]): MoaType[] {
  const list = typeof types === "string" ? MOA_PRESETS[types] : types;
  return MOA_TYPES.filter((t) => list.includes(t));
}

const typesField = (preset: string) =>
  z.union([
    z.enum(Object.keys(MOA_PRESETS) as [string, ...string[]]),
    z.array(z.enum(MOA_TYPES)).min(1, "needs at least one adapter type"),
  ]).default(preset);

const moaFields = (preset: string) => ({
  types: typesField(preset),
  rank: z.number().int().min(1, "must be ≥ 1 (a LoRA needs at least rank 1)").default(8),
  alpha: z.number().positive("must be > 0").default(8),
  /** Parallel adapter bottleneck m. */
  adapterSize: z.number().int().min(1, "must be ≥ 1").default(16),
  /** Prompt slots L. */
  promptLen: z.number().int().min(1, "must be ≥ 1").default(10),
  /** SwiGLU router width factor (hidden = n_types · swiX); 0 = a linear router. */
  swiX: z.number().int().min(0, "must be ≥ 0").default(4),
  routerInput: z.enum(["prenorm", "normed"]).default("prenorm"),
});

export const MoaSoftSchema = z.strictObject({ method: z.literal("moa-soft"), ...moaFields("soft-readme") });
export const MoaSparseSchema = z.strictObject({
  method: z.literal("moa-sparse"),
  ...moaFields("sparse-readme"),
  /** τ_max ∈ [0, 1]; 0 keeps every type (= soft MoA). */
  maxThreshold: z.number().min(0, "must be in [0, 1]").max(1, "must be in [0, 1]").default(0.5),
  constThreshold: z.boolean().default(false),
});
export type MoaSoftConfig = z.output<typeof MoaSoftSchema>;
export type MoaSparseConfig = z.output<typeof MoaSparseSchema>;
export type MoaConfig = MoaSoftConfig | MoaSparseConfig;

/** The per-block router over adapter types. */
export class MoaRouter {
  readonly params: Record<string, tf.Variable> = {};
  readonly thresholdNet: ThresholdNet | null = null;
  readonly nExperts: number;
  readonly sparse: boolean;
  readonly maxThreshold: number;

  constructor(name: string, d: number, readonly types: MoaType[], readonly cfg: MoaConfig, rng: Rng) {
    const n = types.length;
    this.nExperts = n;
    if (cfg.swiX > 0) {
      const hidden = n * cfg.swiX;
      this.params["w1.weight"] = param(`${name}.w1.weight`, kaimingUniform(rng, [hidden, d], d));
      this.params["w1.bias"] = param(`${name}.w1.bias`, tf.zeros([hidden]));
      this.params["w3.weight"] = param(`${name}.w3.weight`, kaimingUniform(rng, [hidden, d], d));
      this.params["w3.bias"] = param(`${name}.w3.bias`, tf.zeros([hidden]));
      this.params["w2.weight"] = param(`${name}.w2.weight`, kaimingUniform(rng, [n, hidden], hidden));
      this.params["w2.bias"] = param(`${name}.w2.bias`, tf.zeros([n]));
    } else {
      this.params["weight"] = param(`${name}.weight`, kaimingUniform(rng, [n, d], d));
      this.params["bias"] = param(`${name}.bias`, linearBiasUniform(rng, [n], d));
    }
    this.sparse = cfg.method === "moa-sparse";
    this.maxThreshold = cfg.method === "moa-sparse" ? cfg.maxThreshold : 0;
    if (cfg.method === "moa-sparse" && !cfg.constThreshold) {
      this.thresholdNet = new ThresholdNet(`${name}.threshold`, d, cfg.maxThreshold, rng);
      this.params["threshold.weight"] = this.thresholdNet.weight;
      this.params["threshold.bias"] = this.thresholdNet.bias;
    }
  }

  /** router(x): [T, n_types] logits. */
  private logits(x: tf.Tensor2D): tf.Tensor2D {
    const p = this.params;
    const lin = (v: tf.Tensor2D, w: string, b: string) => tf.matMul(v, p[w], false, true).add(p[b]) as tf.Tensor2D;
    if (!p["w1.weight"]) return lin(x, "weight", "bias");
    const a = lin(x, "w1.weight", "w1.bias");
    const hidden = swiGlu(a, lin(x, "w3.weight", "w3.bias")); // silu(w1x+b1) ⊙ (w3x+b3)
    return lin(hidden, "w2.weight", "w2.bias");
  }

  route(x: tf.Tensor2D, _ctx: RouteContext): Routing {
    const T = x.shape[0];
    const p = tf.sigmoid(this.logits(x)) as tf.Tensor2D; // w = σ(router(x)), [T, n_types]
    if (!this.sparse) return { g: p, p, active: tf.onesLike(p) as tf.Tensor2D };
    const tau = this.thresholdNet ? this.thresholdNet.tau(x) : tf.fill([T, 1], this.maxThreshold) as tf.Tensor2D;
    const active = nonDiff(p.sub(tau), (v) => tf.greaterEqual(v, 0).cast("float32")) as tf.Tensor2D; // w − τ ≥ 0
    return { g: p.mul(active) as tf.Tensor2D, p, active, threshold: tau.reshape([T]) as tf.Tensor1D };
  }

  numParams(): number {
    return Object.values(this.params).reduce((n, v) => n + v.size, 0);
  }

  dispose(): void {
    tf.dispose(Object.values(this.params));
  }
}

/** A block method: which adapter types a block gets and its router. */
export interface BlockMethod<C extends MoaConfig = MoaConfig> {
  readonly kind: "block";
  readonly name: C["method"];
  readonly summary: string;
  readonly schema: z.ZodType<C>;
  types(cfg: C): MoaType[];
  createRouter(cfg: C, name: string, d: number, rng: Rng): MoaRouter;
}

export const moaSoftMethod: BlockMethod<MoaSoftConfig> = {
  kind: "block",
  name: "moa-soft",
  summary: "Soft MoA: every adapter type (LoRA sites, prompt, parallel adapter) scaled by its sigmoid weight",
  schema: MoaSoftSchema,
  types: (c) => resolveTypes(c.types),
  createRouter: (c, name, d, rng) => new MoaRouter(name, d, resolveTypes(c.types), c, rng),
};

export const moaSparseMethod: BlockMethod<MoaSparseConfig> = {
  kind: "block",
  name: "moa-sparse",
  summary: "Sparse MoA: adapter types whose sigmoid score clears a learned threshold (τ_max 0.5)",
  schema: MoaSparseSchema,
  types: (c) => resolveTypes(c.types),
  createRouter: (c, name, d, rng) => new MoaRouter(name, d, resolveTypes(c.types), c, rng),
};
