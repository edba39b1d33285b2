/**
 * Auxiliary losses and router entropies (methods.md §3.1 and §6).
 *
 * Load balance (Switch-style): L = N · Σ_i f_i · P_i. The repos differ in f (counts over all k slots,
 * Σf = k; or counts over T·k, Σf = 1; or DynMoLE's mean masked probabilities) and in how sites combine:
 * AdaMoLE sums per-module losses; MoE-PEFT and DynMoLE pool (concatenate) every site's router logits
 * first; official MoLA pools within a decoder layer and sums over layers.
 */
import * as tf from "@tensorflow/tfjs";
import { FUSED, hasFusedKernels } from "../backend/fused_kernels.ts";
import type { SiteAux } from "./types.ts";

/** How per-site load-balance terms combine across sites. */
export const LB_AGGREGATES = ["sum", "pooled", "layer"] as const;
export type LbAggregate = typeof LB_AGGREGATES[number];

/** L = N · Σ_i f_i · P_i (eq. §3.1). */
export function loadBalance(f: tf.Tensor1D, P: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => f.mul(P).sum().mul(f.shape[0]) as tf.Scalar);
}

/**
 * Pooled load balance over sites that saw the same tokens: concatenating their router outputs makes
 * f and P the means of the per-site terms, so L = N · Σ_i mean_s(f_s,i) · mean_s(P_s,i). Sites with
 * different N cannot be concatenated; they are pooled per N and the groups summed [INF].
 */
function pooled(sites: SiteAux[]): tf.Scalar {
  return tf.tidy(() => {
    const byN = Map.groupBy(sites, (s) => s.nExperts);
    let total = tf.scalar(0);
    for (const group of byN.values()) {
      const f = tf.stack(group.map((s) => s.f)).mean(0) as tf.Tensor1D;
      const P = tf.stack(group.map((s) => s.P)).mean(0) as tf.Tensor1D;
      total = total.add(loadBalance(f, P));
    }
    return total;
  });
}

/** Combine per-site load-balance terms: `sum` (AdaMoLE), `pooled` (MoE-PEFT, DynMoLE), `layer` (MoLA). */
export function aggregateLoadBalance(sites: SiteAux[], mode: LbAggregate): tf.Scalar {
  if (sites.length === 0) return tf.scalar(0);
  return tf.tidy(() => {
    switch (mode) {
      case "sum":
        return tf.addN(sites.map((s) => loadBalance(s.f, s.P))) as tf.Scalar;
      case "pooled":
        return pooled(sites);
      case "layer":
        return tf.addN([...Map.groupBy(sites, (s) => s.layer).values()].map(pooled)) as tf.Scalar;
    }
  });
}

/** Mean over sites of each site's mean token entropy (the mean over all concatenated rows). */
export function meanEntropy(sites: SiteAux[]): tf.Scalar {
  const es = sites.filter((s) => s.entropy).map((s) => s.entropy!);
  if (es.length === 0) return tf.scalar(0);
  return tf.tidy(() => tf.addN(es).div(es.length) as tf.Scalar);
}

/**
 * Tsallis entropy of order q per row of p [T, N] (methods.md §6, DynMoLE's `tsallis_entropy`):
 * S_q(p) = (1 − Σ_i (p_i+ε)^q) / (q − 1), with ε added without renormalising;
 * q = 1 falls back to Shannon, −Σ (p+ε) log(p+ε).
 */
export function tsallisEntropy(p: tf.Tensor2D, q: number, eps: number): tf.Tensor1D {
  return tf.tidy(() => {
    const pe = p.add(eps);
    if (q === 1) return pe.mul(pe.log()).sum(1).neg() as tf.Tensor1D;
    return tf.scalar(1).sub(pe.pow(q).sum(1)).div(q - 1) as tf.Tensor1D;
  });
}

/** S_q^max = (1 − N^{1−q}) / (q − 1), the entropy of the uniform distribution; log N for q = 1. */
export function maxTsallis(n: number, q: number): number {
  return q === 1 ? Math.log(n) : (1 - n ** (1 - q)) / (q - 1);
}

/**
 * H̃ = S_q / S_q^max per row: ≈ 1 for a uniform router, ≈ 0 for a one-hot one. One forward and one backward
 * kernel where the backend has them (blas), else the composed ops of `tsallisEntropy`.
 */
export function normalizedTsallis(p: tf.Tensor2D, q: number, eps: number): tf.Tensor1D {
  const smax = maxTsallis(p.shape[1], q);
  if (!hasFusedKernels()) return tf.tidy(() => tsallisEntropy(p, q, eps).div(smax) as tf.Tensor1D);
  const attrs = { q, eps, smax } as unknown as tf.NamedAttrMap;
  const op = tf.customGrad((...args: unknown[]) => {
    const [pi, save] = args as [tf.Tensor, (ts: tf.Tensor[]) => void];
    save([pi]);
    return {
      value: tf.engine().runKernel(FUSED.tsallis, { p: pi }, attrs) as tf.Tensor,
      gradFunc: (dh: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.engine().runKernel(FUSED.tsallisGrad, { dh: dh as tf.Tensor, p: saved[0] }, attrs) as tf.Tensor,
    };
  });
  return op(p) as tf.Tensor1D;
}

/** DynMoLE's Rényi alternative: log(Σ (p+ε)^a + 1e-10) / (1 − a) / log N. */
export function normalizedRenyi(p: tf.Tensor2D, a: number, eps: number): tf.Tensor1D {
  const n = p.shape[1];
  return tf.tidy(() => p.add(eps).pow(a).sum(1).add(1e-10).log().div((1 - a) * Math.log(n)) as tf.Tensor1D);
}

/** Normalised Shannon entropy per row, −Σ p log p / log N with 0·log 0 = 0; for diagnostics (N > 1). */
export function normalizedShannon(p: tf.Tensor2D): tf.Tensor1D {
  const n = p.shape[1];
  return tf.tidy(() => {
    if (n === 1) return tf.zeros([p.shape[0]]) as tf.Tensor1D;
    const plogp = tf.where(p.greater(0), p.mul(p.log()), tf.zerosLike(p));
    return plogp.sum(1).neg().div(Math.log(n)) as tf.Tensor1D;
  });
}
