/**
 * Small tensor ops the routers share: non-differentiable selection masks, descending ranks with a
 * lowest-index tie-break, and masked token means.
 *
 * tfjs has no gradient for TopK, Equal, Greater, Less or LogicalAnd, and backprop throws when such an op
 * lies between a variable and the loss. Selection masks are therefore built inside `nonDiff`, whose
 * forward pass is not taped and whose gradient is zero: weights keep their gradient through `p`,
 * exactly as `torch.topk` indices carry none in the reference code.
 */
import * as tf from "@tensorflow/tfjs";
import { FUSED, hasFusedKernels } from "../backend/fused_kernels.ts";
import { rowSoftmax } from "../model/fused.ts";

/** Run `f(x)` as a constant of `x`: the result carries no gradient back to `x`. */
export function nonDiff<T extends tf.Tensor>(x: tf.Tensor, f: (x: tf.Tensor) => T): T {
  const op = tf.customGrad((...args: (tf.Tensor | unknown)[]) => {
    const input = args[0] as tf.Tensor;
    return { value: f(input), gradFunc: () => tf.zerosLike(input) };
  });
  return op(x) as T;
}

/**
 * Descending rank of every entry of each row of `p` [T, N]: 0 for the largest. Ties go to the lower
 * index (methods.md §3.1: torch.topk's tie order is unspecified; lowest index first). Float32 [T, N].
 *
 * rank_i = #{j : p_j > p_i} + #{j < i : p_j = p_i}, via one [T, N, N] comparison (N ≤ a few dozen).
 */
export function descendingRank(p: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const n = p.shape[1];
    const pi = p.expandDims(2); // [T, N, 1]: row i
    const pj = p.expandDims(1); // [T, 1, N]: column j
    const greater = tf.greater(pj, pi).cast("float32"); // [T, N, N]: p_j > p_i
    const lowerIndex = tf.linalg.bandPart(tf.ones([n, n]), -1, 0).sub(tf.eye(n)); // [N, N]: j < i
    const tieBefore = tf.equal(pj, pi).cast("float32").mul(lowerIndex); // [T, N, N]
    return greater.add(tieBefore).sum(2) as tf.Tensor2D; // [T, N]
  });
}

/**
 * Backends whose TopK kernel is tfjs-cpu's, which orders equal values by the lower index (its `comparePair`), so
 * its selection equals the rank rule below; elsewhere the tie order is not documented and the rank rule runs.
 */
const LOWER_INDEX_TOPK = new Set(["cpu", "blas"]);

/** 1 where `rank < k` (the top-k of each row, ties to the lower index), else 0. Non-differentiable. */
export function topKMask(p: tf.Tensor2D, k: number): tf.Tensor2D {
  const n = p.shape[1];
  return nonDiff(p, (x) =>
    tf.tidy(() => {
      if (k >= n) return tf.onesLike(x);
      if (hasFusedKernels()) return tf.engine().runKernel(FUSED.topKMask, { p: x }, { k }) as tf.Tensor2D;
      // One TopK pass instead of the [T, N, N] rank comparison: 1.34 → 0.72 ms per call at T 1024, N 8, k 2 (blas).
      if (LOWER_INDEX_TOPK.has(tf.getBackend())) return tf.oneHot(tf.topk(x, k).indices, n).sum(1).cast("float32");
      return tf.less(descendingRank(x as tf.Tensor2D), k).cast("float32");
    })) as tf.Tensor2D;
}

/**
 * Top-p in sorted order, DynMoLE style (methods.md §6 step 2): with the row sorted descending and
 * c_j its cumulative sums, rank j is kept iff c_j ≤ topP (the expert that crosses topP is excluded).
 * Returns c_i for every entry in original order, [T, N]: the mass of all entries ranked at or above i.
 */
export function cumulativeDescending(p: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const rank = descendingRank(p); // [T, N]
    const ri = rank.expandDims(2); // [T, N, 1]
    const rj = rank.expandDims(1); // [T, 1, N]
    const atOrAbove = tf.lessEqual(rj, ri).cast("float32"); // [T, N, N]: rank_j ≤ rank_i
    return atOrAbove.mul(p.expandDims(1)).sum(2) as tf.Tensor2D; // Σ_j p_j [rank_j ≤ rank_i]
  });
}

/**
 * Renormalised routing weights g = w⊙m / Σ_j w_j m_j per row (m a 0/1 selection without gradient); with
 * `guardZero`, a row whose sum is exactly 0 divides by 1 instead (the reference code's zero-sum guard).
 * One forward and one backward kernel where the backend has them (blas).
 */
export function renormalize(w: tf.Tensor2D, m: tf.Tensor2D, guardZero: boolean): tf.Tensor2D {
  if (!hasFusedKernels()) {
    return tf.tidy(() => {
      const num = w.mul(m) as tf.Tensor2D;
      const den = num.sum(1, true); // [T, 1]
      if (!guardZero) return num.div(den) as tf.Tensor2D;
      const guard = nonDiff(den, (d) => tf.equal(d, 0).cast("float32")); // 1 where the sum is exactly 0
      return num.div(den.add(guard)) as tf.Tensor2D;
    });
  }
  const op = tf.customGrad((...args: unknown[]) => {
    const [wi, mi, save] = args as [tf.Tensor, tf.Tensor, (ts: tf.Tensor[]) => void];
    const [g, den] = tf.engine().runKernel(FUSED.renorm, { w: wi, m: mi }, { guard: guardZero }) as tf.Tensor[];
    save([g, mi, den]);
    return {
      value: g,
      gradFunc: (dg: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [gs, ms, ds] = saved;
        const dw = tf.engine().runKernel(FUSED.renormGrad, { dg: dg as tf.Tensor, g: gs, m: ms, den: ds });
        return [dw as tf.Tensor, tf.zerosLike(ms)];
      },
    };
  });
  return op(w, m) as tf.Tensor2D;
}

/** Mean over tokens of `v` [T, N] (or [T]), counting only rows where `mask` [T] is 1; all rows if no mask. */
export function tokenMean(v: tf.Tensor, mask?: tf.Tensor1D | null, eps = 0): tf.Tensor {
  return tf.tidy(() => {
    if (!mask) return v.mean(0);
    const m = v.rank === 2 ? mask.expandDims(1) : mask;
    return v.mul(m).sum(0).div(mask.sum().add(eps));
  });
}

let fusedRouting = true;

/** Route with the fused kernels where the backend has them (the default), or with the composed ops; returns the
 * previous setting. Both give the same bits: tests and benches compare them. */
export function setFusedRouting(on: boolean): boolean {
  const was = fusedRouting;
  fusedRouting = on;
  return was;
}

/** Whether routing runs as fused kernels now: switched on and the backend has them. */
export const useFusedRouting = () => fusedRouting && hasFusedKernels();

/** One top-k routing step: probabilities, selection, renormalised gate, and (with `means`) their token means. */
export interface TopKRoute {
  /** [T, N] p = softmax(z). */
  p: tf.Tensor2D;
  /** [T, N] 1 for the k largest p of each row (ties to the lower index), else 0; no gradient. */
  active: tf.Tensor2D;
  /** [T, N] g = p⊙active / Σ p⊙active. */
  g: tf.Tensor2D;
  /** [N] mean_t p and mean_t active, when asked for (the load balance's P and f over every token). */
  P?: tf.Tensor1D;
  f?: tf.Tensor1D;
}

/**
 * Top-k routing from router logits z [T, N] (methods.md §3.1 steps 1–3). Where the backend has the fused
 * kernels it is one kernel each way (MoleTopKRoute, bit-identical to the composed ops); elsewhere the ops.
 */
export function topKRoute(z: tf.Tensor2D, k: number, means: boolean): TopKRoute {
  if (!useFusedRouting()) {
    const p = rowSoftmax(z);
    const active = topKMask(p, k);
    const g = renormalize(p, active, false);
    if (!means) return { p, active, g };
    const f = tokenMean(active) as tf.Tensor1D; // the composed order: f, then P
    return { p, active, g, f, P: tokenMean(p) as tf.Tensor1D };
  }
  const [g, p, active, den, P, f] = tf.engine().runKernel(FUSED.topKRoute, { z }, { k }) as tf.Tensor[];
  den.dispose();
  if (!means) tf.dispose([P, f]);
  return means ? { g, p, active, P, f } as TopKRoute : { g, p, active } as TopKRoute;
}

tf.registerGradient({
  kernelName: FUSED.topKRoute,
  outputsToSave: [true, true, true, true, false, false], // g, p, m, D
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [dg, dp, , , dP] = dy as tf.Tensor[];
    const [g, p, m, den] = saved;
    return { z: () => tf.engine().runKernel(FUSED.topKRouteGrad, { dg, dp, dP, p, g, m, den }) as tf.Tensor };
  },
});

/** One AdaMoLE routing step: a = p − τ, the selection [a ≥ 0], g from a renormalised, and the token means. */
export interface AdaMoleRoute extends TopKRoute {
  /** [T, N] a = p − τ. */
  a: tf.Tensor2D;
}

/**
 * AdaMoLE routing from router logits z [T, N] and thresholds τ [T, 1] (methods.md §5): p = softmax(z),
 * a = p − τ, sel = [a ≥ 0], g = a·sel / Σ a·sel (÷ 1 where that sum is 0); with `means`, f = mean_t sel and
 * P = mean_t a (`adapted`) or mean_t p. One kernel each way where the backend has them, bit-identical to the ops.
 */
export function adaMoleRoute(z: tf.Tensor2D, tau: tf.Tensor2D, adapted: boolean, means: boolean): AdaMoleRoute {
  if (!useFusedRouting()) {
    const p = rowSoftmax(z);
    const a = p.sub(tau) as tf.Tensor2D;
    const active = nonDiff(a, (v) => tf.greaterEqual(v, 0).cast("float32")) as tf.Tensor2D;
    const g = renormalize(a, active, true);
    if (!means) return { p, a, active, g };
    const f = tokenMean(active) as tf.Tensor1D; // the composed order: f, then P
    return { p, a, active, g, f, P: tokenMean(adapted ? a : p) as tf.Tensor1D };
  }
  const [g, p, active, den, P, f, a] = tf.engine().runKernel(FUSED.adaMoleRoute, { z, tau }, {
    adapted,
  }) as tf.Tensor[];
  den.dispose();
  if (!means) tf.dispose([P, f]);
  return (means ? { g, p, active, a, P, f } : { g, p, active, a }) as AdaMoleRoute;
}

tf.registerGradient({
  kernelName: FUSED.adaMoleRoute,
  outputsToSave: [true, true, true, true, false, false, false], // g, p, m, D
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
    const [dg, dp, , , dP, , da] = dy as tf.Tensor[];
    const [g, p, m, den] = saved;
    const grad = (wrt: "z" | "tau") => () =>
      tf.engine().runKernel(FUSED.adaMoleRouteGrad, { dg, dp, da, dP, p, g, m, den }, {
        adapted: attrs!.adapted,
        wrt,
      }) as tf.Tensor;
    return { z: grad("z"), tau: grad("tau") };
  },
});
