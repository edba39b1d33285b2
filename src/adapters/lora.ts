/**
 * LoRA experts, stacked (methods.md §1–§2): expert i is E_i(x) = s · B_i A_i drop(x), s = α/r
 * (α/√r for rsLoRA), A_i ∈ R^{r×d_in} kaiming-uniform, B_i ∈ R^{d_out×r} zero, so each starts as a no-op.
 *
 * N experts are one bank: A [N, r, d_in] and Bᵀ [N, r, d_out]. The routed sum
 *   Σ_i g_i E_i(x) = (s · g ⊙_r (x A_catᵀ)) · Bᵀ_cat
 * costs two matmuls whatever N is (g repeated over each expert's r columns). A single LoRA is the bank
 * with N = 1 and no g. Inactive experts are masked through g = 0, never skipped by a JS loop.
 */
import * as tf from "@tensorflow/tfjs";
import { FUSED, hasFusedKernels } from "../backend/fused_kernels.ts";
import { z } from "../config.ts";
import { Rng } from "../util/rng.ts";
import { kaimingUniform, param } from "./init.ts";
import { type Adapter, countParams, type DropoutSpec } from "./types.ts";

/** Projections a LoRA can target in a Llama block. */
export const TARGETS = ["q", "k", "v", "o", "gate", "up", "down"] as const;
export type Target = typeof TARGETS[number];

/** The LoRA fields every MoE-LoRA method's config has, with that method's defaults. */
export function loraFields(d: { rank: number; alpha: number; dropout: number; targets: Target[] }) {
  return {
    /** Rank r of each expert (per expert, as MoE-PEFT; AdaMoLE's "rank 32" is 8 experts × 4). */
    rank: z.number().int().min(1, "must be ≥ 1 (a LoRA needs at least rank 1)").default(d.rank),
    alpha: z.number().positive("must be > 0").default(d.alpha),
    dropout: z.number().min(0, "must be in [0, 1)").lt(1, "must be in [0, 1)").default(d.dropout),
    targets: z.array(z.enum(TARGETS)).min(1, "needs at least one projection").default(d.targets),
    /** rsLoRA scale α/√r instead of α/r. */
    rsLora: z.boolean().default(false),
  };
}

export interface LoraBankSpec {
  rank: number;
  alpha: number;
  dropout: number;
  rsLora?: boolean;
  /** A separate dropout mask per expert (AdaMoLE, MoE-PEFT) or one shared by the bank (MoLA). */
  dropoutPerExpert?: boolean;
}

/**
 * Inverted-dropout multiplier of `shape`: 1/(1 − rate) with probability 1 − rate, else 0, drawn on the host
 * from the seeded `Rng` (one pass; tf.dropout needs five tensor ops and tfjs's slower generator).
 */
export function dropoutMask(shape: number[], rate: number, seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const keep = 1 / (1 - rate);
  const n = shape.reduce((a, b) => a * b, 1);
  const m = new Float32Array(n);
  for (let i = 0; i < n; i++) m[i] = rng.next() < rate ? 0 : keep;
  return tf.tensor(m, shape);
}

/**
 * h = s · g ⊙_r xa: expert e's r columns of xa [T, N·r] scaled by s·g[t, e] (g [T, N]). One kernel each way
 * where the backend has it (blas); else a broadcast multiply.
 */
export function expertScale(xa: tf.Tensor2D, g: tf.Tensor2D, r: number, s: number): tf.Tensor2D {
  const [T, N] = g.shape;
  if (!hasFusedKernels()) {
    return tf.tidy(() => xa.reshape([T, N, r]).mul(g.mul(s).expandDims(2)).reshape([T, N * r]) as tf.Tensor2D);
  }
  const op = tf.customGrad((...args: unknown[]) => {
    const [x, gi, save] = args as [tf.Tensor, tf.Tensor, (ts: tf.Tensor[]) => void];
    save([x, gi]);
    return {
      value: tf.engine().runKernel(FUSED.expertScale, { xa: x, g: gi }, { r, s }) as tf.Tensor,
      gradFunc: (dh: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.engine().runKernel(FUSED.expertScaleGrad, { dh: dh as tf.Tensor, xa: saved[0], g: saved[1] }, {
          r,
          s,
        }) as tf.Tensor[],
    };
  });
  return op(xa, g) as tf.Tensor2D;
}

export class LoraBank implements Adapter {
  readonly kind = "lora" as const;
  readonly scale: number;
  /** [N, r, d_in] */
  readonly A: tf.Variable;
  /** [N, r, d_out]: B_iᵀ stacked (PEFT's `lora_B.weight` of expert i is Bt[i]ᵀ). */
  readonly Bt: tf.Variable;
  readonly params: Record<string, tf.Variable>;

  constructor(
    readonly name: string,
    readonly spec: LoraBankSpec,
    readonly dIn: number,
    readonly dOut: number,
    readonly nExperts: number,
    rng: Rng,
  ) {
    const { rank } = spec;
    this.scale = spec.rsLora ? spec.alpha / Math.sqrt(rank) : spec.alpha / rank;
    this.A = param(`${name}.lora_A`, kaimingUniform(rng, [nExperts, rank, dIn], dIn));
    this.Bt = param(`${name}.lora_B`, tf.zeros([nExperts, rank, dOut]));
    this.params = { "lora_A": this.A, "lora_B": this.Bt };
  }

  get rank(): number {
    return this.spec.rank;
  }

  numParams(): number {
    return countParams(this.params);
  }

  /** x A_iᵀ for every expert: [T, N, r]; with per-expert dropout each expert sees its own mask. */
  private project(x: tf.Tensor2D, dropout: DropoutSpec | null): tf.Tensor3D {
    const [T] = x.shape;
    const { rank: r } = this.spec;
    const N = this.nExperts;
    const rate = dropout?.rate ?? 0;
    if (rate > 0 && this.spec.dropoutPerExpert && N > 1) {
      const xd = x.mul(dropoutMask([N, T, this.dIn], rate, dropout!.seed)); // [N, T, d_in], a mask per expert
      return tf.matMul(xd, this.A, false, true).transpose([1, 0, 2]) as tf.Tensor3D; // [T, N, r]
    }
    const xd = rate > 0 ? x.mul(dropoutMask([T, this.dIn], rate, dropout!.seed)) : x; // [T, d_in]
    const a = this.A.reshape([N * r, this.dIn]); // [N·r, d_in]
    return tf.matMul(xd, a, false, true).reshape([T, N, r]) as tf.Tensor3D;
  }

  /**
   * Σ_i g_i · s · B_i A_i drop(x) for x [T, d_in] → [T, d_out]. `g` [T, N] are routing weights; null
   * means a single expert with weight 1 (plain LoRA).
   */
  delta(x: tf.Tensor2D, g: tf.Tensor2D | null, dropout: DropoutSpec | null): tf.Tensor2D {
    return tf.tidy(() => {
      const [T] = x.shape;
      const N = this.nExperts;
      const r = this.spec.rank;
      const xa = this.project(x, dropout); // [T, N, r]
      const h = g ? expertScale(xa.reshape([T, N * r]) as tf.Tensor2D, g, r, this.scale) : xa.mul(this.scale);
      return tf.matMul(h.reshape([T, N * r]), this.Bt.reshape([N * r, this.dOut])) as tf.Tensor2D; // [T, d_out]
    });
  }

  /** The dense update ΔW_i = s · B_i A_i of each expert, [N, d_out, d_in] (tests, merging). */
  deltaWeights(): tf.Tensor3D {
    return tf.tidy(() => tf.matMul(this.Bt, this.A, true, false).mul(this.scale) as tf.Tensor3D);
  }

  dispose(): void {
    tf.dispose(Object.values(this.params));
  }
}
