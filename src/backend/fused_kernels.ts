/**
 * Fused forward and backward kernels of the Llama block's element-wise pieces, for the `blas` backend. Each
 * replaces a chain of 5–15 tfjs ops (and as many activation-sized arrays) by one or two passes over memory;
 * `src/model/fused.ts` pairs them into differentiable ops and falls back to the composed tf ops on other
 * backends. Every JS loop computes in double precision and rounds once when it stores; `native/kernels.c` runs the
 * same loops where it loaded (bit for bit where no exp or log is involved, see `native.ts`).
 *
 *   MoleRmsNorm        y = x · r · g,  r = 1/√(mean(x²) + ε)  (per row)            → [y, r]
 *   MoleRmsNormGrad    dx = r·(dy⊙g) − x·r³·mean(dy⊙g⊙x);  dg = Σ_rows dy⊙x·r      → [dx, dg]
 *   MoleSwiGlu         y = silu(a) ⊙ b,  s = σ(a) (kept for the backward)           → [y, s]
 *   MoleSwiGluGrad     da = dy⊙b⊙s(1 + a(1 − s));  db = dy⊙a⊙s                    → [da, db]
 *   MoleRope           y = x⊙cos + rotate_half(x)⊙sin per head (inverse: the transpose) → y
 *   MoleCausalSoftmax  p = softmax(scale·s) over keys j ≤ (row mod S), 0 above      → p
 *   MoleSoftmaxGrad    ds = scale · p ⊙ (dp − Σ_j dp⊙p)                           → ds
 *   MoleCrossEntropy   loss = Σ_t m_t (lse_t − z_t[y_t]) / max(Σ m, 1),  P = softmax(z) → [loss, P]
 *   MoleCrossEntropyGrad dz = dloss · m_t / max(Σ m, 1) · (P_t − onehot(y_t))       → dz
 *
 * DynMoLE's router entropy (one kernel each way instead of ≈ 12 ops):
 *   MoleTsallis        H̃_t = (1 − Σ_i pe^q) / (q − 1) / smax, pe = p + ε (q = 1: −Σ pe log pe / smax)  → H̃ [T]
 *   MoleTsallisGrad    dp = −q pe^{q−1} / (q − 1) / smax · dH̃ (q = 1: −(log pe + 1) / smax · dH̃)      → dp
 * the optimiser's update, one kernel per parameter instead of ~15 ops:
 *   MoleSumSquares     Σ over every input tensor of Σ x²                               → scalar
 *   MoleAdamW          g' = s·g;  m ← β1 m + (1−β1) g';  v ← β2 v + (1−β2) g'²;
 *                      p ← p(1 − lr·λ) − lr·(m/c1)/(√(v/c2) + ε)                          → [m, v, p]
 *   MoleAdamWAll       MoleAdamW over every parameter at once (inputs p0, g0, m0, v0, p1, …)  → [m0, v0, p0, m1, …]
 * and the routers' small [T, N] pieces, each a chain of tfjs ops per site:
 *   MoleDynamicMask    DynMoLE's keep mask from p [T, N] and H̃ [T] (src/routers/dynmole.ts), with the same
 *                      float32 rounding as the composed rank / cumulative-sum ops, so decisions agree exactly
 *   MoleTopKMask       1 for the k largest entries of each row (ties to the lower index), else 0
 *   MoleRenorm         g = w⊙m / D,  D = Σ_j w_j m_j (or 1 where that sum is 0 and `guard` is set)  → [g, D]
 *   MoleRenormGrad     dw = m ⊙ (dg − Σ_j g_j dg_j) / D                                         → dw
 *   MoleExpertScale    h[t, e·r + j] = xa[t, e·r + j] · s · g[t, e]  (each expert's r columns)    → h
 *   MoleExpertScaleGrad dxa = dh ⊙ s·g (repeated);  dg[t, e] = s Σ_j dh[t, e·r + j] xa[t, e·r + j] → [dxa, dg]
 * and one top-k router whole (≈ 20 tfjs ops per site, forward and backward, become two kernels):
 *   MoleTopKRoute      p = softmax(z); m = TopKMask(p, k); [g, D] = Renorm(p, m); P = mean_t p; f = mean_t m
 *                                                                                     → [g, p, m, D, P, f]
 *   MoleTopKRouteGrad  dz = SoftmaxGrad(p, ((dp + dP/T) + RenormGrad(dg)) + 0)          → dz
 * and an AdaMoLE router likewise (τ [T, 1] from the threshold network; P from a, or from p with `adapted` off):
 *   MoleAdaMoleRoute   p = softmax(z); a = p − τ; m = [a ≥ 0]; [g, D] = Renorm(a, m, guard); P = mean_t a; f = mean_t m
 *                                                                                     → [g, p, m, D, P, f, a]
 *   MoleAdaMoleRouteGrad da = ((da_ext + dP/T) + RenormGrad(dg)) + 0;  dz = SoftmaxGrad(p, dp_ext + da) → dz
 *                      or (`wrt: "tau"`) dτ_t = −Σ_i da_ti                                             → dτ
 * with its threshold network's activation (s = x·w_τᵀ from a matmul, b the bias, c = τ_max):
 *   MoleScaledSigmoid  σ = sigmoid(s + b); τ = c·σ                                          → [τ, σ]
 *   MoleScaledSigmoidGrad d = (dτ·c)·(σ·(1 − σ)); ds = d, or (`wrt: "b"`) db = Σ_t d          → ds | db
 * and a DynMoLE router (Tsallis entropy; with a token mask m [T] the means are Σ_t m_t v_t / (Σ m + 1e-8)):
 *   MoleDynMoleRoute(Masked) p = softmax(z); H̃ = Tsallis(p); keep = DynamicMask(p, H̃); g = p⊙keep;
 *                      f = mean_t g; P = mean_t p; H̄ = mean_t H̃                       → [g, p, keep, H̃, f, P, H̄]
 *   MoleDynMoleRouteGrad dp = (((dp_ext + dP_t) + (dg_ext + df_t)⊙keep) + 0) + TsallisGrad(dH̃_ext + dH̄/T) → dz
 * They call the kernels above (and the backend's Softmax and Mean) in the order the composed ops run, and
 * add the gradient terms in the order tfjs's tape accumulates them, so both are bit-identical to the composition.
 */
import * as tf from "@tensorflow/tfjs";
import { POOL } from "./buffer_pool.ts";
import { fastBinary, fastMean, fastSoftmax, fastUnary, type KernelArgs } from "./fast_kernels.ts";
import { nativeFor } from "./native.ts";

type TensorInfo = tf.TensorInfo;

export const FUSED = {
  rmsNorm: "MoleRmsNorm",
  rmsNormGrad: "MoleRmsNormGrad",
  swiGlu: "MoleSwiGlu",
  swiGluGrad: "MoleSwiGluGrad",
  rope: "MoleRope",
  causalSoftmax: "MoleCausalSoftmax",
  softmaxGrad: "MoleSoftmaxGrad",
  crossEntropy: "MoleCrossEntropy",
  crossEntropyGrad: "MoleCrossEntropyGrad",
  dynamicMask: "MoleDynamicMask",
  topKMask: "MoleTopKMask",
  renorm: "MoleRenorm",
  renormGrad: "MoleRenormGrad",
  expertScale: "MoleExpertScale",
  expertScaleGrad: "MoleExpertScaleGrad",
  tsallis: "MoleTsallis",
  tsallisGrad: "MoleTsallisGrad",
  sumSquares: "MoleSumSquares",
  adamW: "MoleAdamW",
  adamWAll: "MoleAdamWAll",
  topKRoute: "MoleTopKRoute",
  topKRouteGrad: "MoleTopKRouteGrad",
  adaMoleRoute: "MoleAdaMoleRoute",
  adaMoleRouteGrad: "MoleAdaMoleRouteGrad",
  scaledSigmoid: "MoleScaledSigmoid",
  scaledSigmoidGrad: "MoleScaledSigmoidGrad",
  dynMoleRoute: "MoleDynMoleRoute",
  dynMoleRouteMasked: "MoleDynMoleRouteMasked",
  dynMoleRouteGrad: "MoleDynMoleRouteGrad",
} as const;

const vals = (a: KernelArgs, t: TensorInfo) => a.backend.data.get(t.dataId).values as Float32Array;
const out = (a: KernelArgs, shape: number[], v: Float32Array | Int32Array, dtype: tf.DataType = "float32") =>
  a.backend.makeTensorInfo(shape, dtype, v);

function rmsNorm(a: KernelArgs): TensorInfo[] {
  const { x, g } = a.inputs as { x: TensorInfo; g: TensorInfo };
  const eps = a.attrs!.eps as number;
  const [T, d] = x.shape;
  const xv = vals(a, x);
  const gv = vals(a, g);
  const y = POOL.take(T * d);
  const r = new Float32Array(T);
  const c = nativeFor(xv, gv);
  if (c) {
    c.mole_rmsnorm(xv, gv, y, r, T, d, eps);
    return [out(a, [T, d], y), out(a, [T], r)];
  }
  for (let t = 0, o = 0; t < T; t++, o += d) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += xv[o + i] * xv[o + i];
    const inv = 1 / Math.sqrt(ss / d + eps);
    r[t] = inv;
    for (let i = 0; i < d; i++) y[o + i] = xv[o + i] * inv * gv[i];
  }
  return [out(a, [T, d], y), out(a, [T], r)];
}

function rmsNormGrad(a: KernelArgs): TensorInfo[] {
  const { dy, x, g, r } = a.inputs as Record<string, TensorInfo>;
  const [T, d] = x.shape;
  const [dyv, xv, gv, rv] = [vals(a, dy), vals(a, x), vals(a, g), vals(a, r)];
  const dx = POOL.take(T * d);
  const dg = new Float64Array(d);
  const c = nativeFor(dyv, xv, gv, rv);
  if (c) {
    c.mole_rmsnorm_grad(dyv, xv, gv, rv, dx, dg, T, d);
    return [out(a, [T, d], dx), out(a, [d], Float32Array.from(dg))];
  }
  for (let t = 0, o = 0; t < T; t++, o += d) {
    const inv = rv[t];
    let dot = 0; // Σ_i dy_i g_i x_i
    for (let i = 0; i < d; i++) {
      dot += dyv[o + i] * gv[i] * xv[o + i];
      dg[i] += dyv[o + i] * xv[o + i] * inv;
    }
    const c = (inv * inv * inv * dot) / d;
    for (let i = 0; i < d; i++) dx[o + i] = inv * dyv[o + i] * gv[i] - xv[o + i] * c;
  }
  return [out(a, [T, d], dx), out(a, [d], Float32Array.from(dg))];
}

function swiGlu(a: KernelArgs): TensorInfo[] {
  const { a: gate, b: up } = a.inputs as { a: TensorInfo; b: TensorInfo };
  const [av, bv] = [vals(a, gate), vals(a, up)];
  const y = POOL.take(av.length);
  const sig = POOL.take(av.length);
  const c = nativeFor(av, bv);
  if (c) c.mole_swiglu(av, bv, y, sig, av.length);
  else {
    for (let i = 0; i < av.length; i++) {
      const s = 1 / (1 + Math.exp(-av[i]));
      sig[i] = s;
      y[i] = av[i] * s * bv[i];
    }
  }
  return [out(a, gate.shape, y), out(a, gate.shape, sig)];
}

function swiGluGrad(a: KernelArgs): TensorInfo[] {
  const { dy, a: gate, b: up, s: sig } = a.inputs as Record<string, TensorInfo>;
  const [dyv, av, bv, sv] = [vals(a, dy), vals(a, gate), vals(a, up), vals(a, sig)];
  const da = POOL.take(av.length);
  const db = POOL.take(av.length);
  const c = nativeFor(dyv, av, bv, sv);
  if (c) c.mole_swiglu_grad(dyv, av, bv, sv, da, db, av.length);
  else {
    for (let i = 0; i < av.length; i++) {
      const s = sv[i];
      da[i] = dyv[i] * bv[i] * s * (1 + av[i] * (1 - s));
      db[i] = dyv[i] * av[i] * s;
    }
  }
  return [out(a, gate.shape, da), out(a, gate.shape, db)];
}

/**
 * RoPE on x [T, heads·hd] with cos/sin laid out the same way. rotate_half per head maps (x₁, x₂) ↦ (−x₂, x₁);
 * `inverse` applies the transpose (the gradient): dx = dy⊙cos − rotate_half(dy⊙sin).
 */
function rope(a: KernelArgs): TensorInfo {
  const { x, cos, sin } = a.inputs as Record<string, TensorInfo>;
  const hd = a.attrs!.headDim as number;
  const inverse = Boolean(a.attrs!.inverse);
  const [xv, c, s] = [vals(a, x), vals(a, cos), vals(a, sin)];
  const half = hd / 2;
  const y = POOL.take(xv.length);
  const n = nativeFor(xv, c, s);
  if (n) {
    n.mole_rope(xv, c, s, y, xv.length, hd, inverse ? 1 : 0);
    return out(a, x.shape, y);
  }
  for (let h = 0; h < xv.length; h += hd) {
    for (let i = 0; i < half; i++) {
      const lo = h + i;
      const hi = lo + half;
      const [xl, xh] = [xv[lo], xv[hi]];
      if (inverse) {
        y[lo] = xl * c[lo] + xh * s[hi];
        y[hi] = xh * c[hi] - xl * s[lo];
      } else {
        y[lo] = xl * c[lo] - xh * s[lo];
        y[hi] = xh * c[hi] + xl * s[hi];
      }
    }
  }
  return out(a, x.shape, y);
}

/** Softmax of scale·s over each row's causal keys: row i of a [G, R, S] block is query position i mod S. */
function causalSoftmax(a: KernelArgs): TensorInfo {
  const { x } = a.inputs as { x: TensorInfo };
  const scale = a.attrs!.scale as number;
  const S = x.shape[2];
  const xv = vals(a, x);
  const p = POOL.take(xv.length);
  const c = nativeFor(xv);
  if (c && S > 0) {
    c.mole_softmax_rows(xv, p, xv.length / S, x.shape[1], S, scale, 1);
    return out(a, x.shape, p);
  }
  for (let row = 0, o = 0; o < xv.length; row++, o += S) {
    const n = (row % x.shape[1] % S) + 1; // keys 0 … pos
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (xv[o + j] > max) max = xv[o + j];
    let sum = 0;
    for (let j = 0; j < n; j++) sum += p[o + j] = Math.exp(scale * (xv[o + j] - max));
    const inv = 1 / sum;
    for (let j = 0; j < n; j++) p[o + j] *= inv;
    p.fill(0, o + n, o + S);
  }
  return out(a, x.shape, p);
}

function softmaxGrad(a: KernelArgs): TensorInfo {
  const { dp, p } = a.inputs as Record<string, TensorInfo>;
  const scale = a.attrs!.scale as number;
  const S = p.shape.at(-1)!;
  const [dv, pv] = [vals(a, dp), vals(a, p)];
  const ds = POOL.take(pv.length);
  const c = nativeFor(dv, pv);
  if (c && S > 0) {
    c.mole_softmax_grad(dv, pv, ds, pv.length / S, S, scale);
    return out(a, p.shape, ds);
  }
  for (let o = 0; o < pv.length; o += S) {
    let dot = 0;
    for (let j = 0; j < S; j++) dot += dv[o + j] * pv[o + j];
    for (let j = 0; j < S; j++) ds[o + j] = scale * pv[o + j] * (dv[o + j] - dot);
  }
  return out(a, p.shape, ds);
}

function crossEntropy(a: KernelArgs): TensorInfo[] {
  const { logits, targets, mask } = a.inputs as Record<string, TensorInfo>;
  const [T, V] = logits.shape;
  const z = vals(a, logits);
  const y = a.backend.data.get(targets.dataId).values as Int32Array;
  const m = vals(a, mask);
  const P = POOL.take(T * V);
  let total = 0;
  let count = 0;
  const c = y instanceof Int32Array ? nativeFor(z, m) : null;
  if (c) {
    for (let t = 0; t < T; t++) count += m[t];
    total = c.mole_cross_entropy(z, y, m, P, T, V);
    return [out(a, [], Float32Array.of(total / Math.max(count, 1))), out(a, [T, V], P)];
  }
  for (let t = 0, o = 0; t < T; t++, o += V) {
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (z[o + j] > max) max = z[o + j];
    let sum = 0;
    for (let j = 0; j < V; j++) sum += P[o + j] = Math.exp(z[o + j] - max);
    const inv = 1 / sum;
    for (let j = 0; j < V; j++) P[o + j] *= inv;
    count += m[t];
    if (m[t] !== 0) total += m[t] * (max + Math.log(sum) - z[o + y[t]]);
  }
  return [out(a, [], Float32Array.of(total / Math.max(count, 1))), out(a, [T, V], P)];
}

function crossEntropyGrad(a: KernelArgs): TensorInfo {
  const { dy, probs, targets, mask } = a.inputs as Record<string, TensorInfo>;
  const [T, V] = probs.shape;
  const P = vals(a, probs);
  const y = a.backend.data.get(targets.dataId).values as Int32Array;
  const [m, d] = [vals(a, mask), vals(a, dy)];
  let count = 0;
  for (let t = 0; t < T; t++) count += m[t];
  const scale = d[0] / Math.max(count, 1);
  const dz = POOL.take(T * V);
  const c = y instanceof Int32Array ? nativeFor(P, m, d) : null;
  if (c) {
    c.mole_cross_entropy_grad(P, y, m, dz, T, V, scale);
    return out(a, probs.shape, dz);
  }
  for (let t = 0, o = 0; t < T; t++, o += V) {
    const w = scale * m[t];
    for (let j = 0; j < V; j++) dz[o + j] = w * P[o + j];
    dz[o + y[t]] -= w;
  }
  return out(a, probs.shape, dz);
}

/**
 * keep_ti = (c_ti ≤ topP) ∨ (rank_ti < keepTopK) ∨ (H̃_t > threshold), where rank counts larger entries and
 * equal ones at lower indices, and c_ti = Σ_j p_tj [rank_tj ≤ rank_ti] is summed in index order in double and
 * rounded to float32, as the composed path's Sum kernel does.
 */
function dynamicMask(a: KernelArgs): TensorInfo {
  const { p, entropy } = a.inputs as Record<string, TensorInfo>;
  const { topP, keepTopK, threshold } = a.attrs as Record<string, number>;
  const [T, N] = p.shape;
  const pv = vals(a, p);
  const h = entropy ? vals(a, entropy) : null;
  const topP32 = Math.fround(topP);
  const threshold32 = Math.fround(threshold);
  const keep = POOL.take(T * N);
  const rank = new Int32Array(N);
  const c = nativeFor(pv, ...(h ? [h] : []));
  if (c) {
    c.mole_dynamic_mask(pv, h ?? pv, keep, rank, T, N, topP32, keepTopK, threshold32, h ? 1 : 0);
    return out(a, p.shape, keep);
  }
  for (let t = 0, o = 0; t < T; t++, o += N) {
    if (h && h[t] > threshold32) {
      keep.fill(1, o, o + N);
      continue;
    }
    for (let i = 0; i < N; i++) {
      let r = 0;
      for (let j = 0; j < N; j++) if (pv[o + j] > pv[o + i] || (j < i && pv[o + j] === pv[o + i])) r++;
      rank[i] = r;
    }
    for (let i = 0; i < N; i++) {
      let c = 0;
      for (let j = 0; j < N; j++) if (rank[j] <= rank[i]) c += pv[o + j];
      keep[o + i] = Math.fround(c) <= topP32 || rank[i] < keepTopK ? 1 : 0;
    }
  }
  return out(a, p.shape, keep);
}

function topKMask(a: KernelArgs): TensorInfo {
  const { p } = a.inputs as { p: TensorInfo };
  const k = a.attrs!.k as number;
  const [T, N] = p.shape;
  const pv = vals(a, p);
  const m = POOL.take(T * N);
  const c = nativeFor(pv);
  if (c) {
    c.mole_topk_mask(pv, m, T, N, k);
    return out(a, p.shape, m);
  }
  for (let o = 0; o < T * N; o += N) {
    for (let i = 0; i < N; i++) {
      let rank = 0; // entries above p_i, and equal ones at lower indices
      for (let j = 0; j < N && rank < k; j++) if (pv[o + j] > pv[o + i] || (j < i && pv[o + j] === pv[o + i])) rank++;
      m[o + i] = rank < k ? 1 : 0;
    }
  }
  return out(a, p.shape, m);
}

function renorm(a: KernelArgs): TensorInfo[] {
  const { w, m } = a.inputs as Record<string, TensorInfo>;
  const guard = Boolean(a.attrs!.guard);
  const [T, N] = w.shape;
  const [wv, mv] = [vals(a, w), vals(a, m)];
  const g = POOL.take(T * N);
  const den = new Float32Array(T);
  const c = nativeFor(wv, mv);
  if (c) {
    c.mole_renorm(wv, mv, g, den, T, N, guard ? 1 : 0);
    return [out(a, w.shape, g), out(a, [T], den)];
  }
  for (let t = 0, o = 0; t < T; t++, o += N) {
    let s = 0;
    for (let i = 0; i < N; i++) s += Math.fround(wv[o + i] * mv[o + i]);
    let d = Math.fround(s);
    if (guard && d === 0) d = 1;
    den[t] = d;
    for (let i = 0; i < N; i++) g[o + i] = Math.fround(wv[o + i] * mv[o + i]) / d;
  }
  return [out(a, w.shape, g), out(a, [T], den)];
}

function renormGrad(a: KernelArgs): TensorInfo {
  const { dg, g, m, den } = a.inputs as Record<string, TensorInfo>;
  const [T, N] = g.shape;
  const [dv, gv, mv, d] = [vals(a, dg), vals(a, g), vals(a, m), vals(a, den)];
  const dw = POOL.take(T * N);
  const c = nativeFor(dv, gv, mv, d);
  if (c) {
    c.mole_renorm_grad(dv, gv, mv, d, dw, T, N);
    return out(a, g.shape, dw);
  }
  for (let t = 0, o = 0; t < T; t++, o += N) {
    let dot = 0;
    for (let i = 0; i < N; i++) dot += gv[o + i] * dv[o + i];
    for (let i = 0; i < N; i++) dw[o + i] = (mv[o + i] * (dv[o + i] - dot)) / d[t];
  }
  return out(a, g.shape, dw);
}

function expertScale(a: KernelArgs): TensorInfo {
  const { xa, g } = a.inputs as Record<string, TensorInfo>;
  const { r, s } = a.attrs as Record<string, number>;
  const [xv, gv] = [vals(a, xa), vals(a, g)];
  const h = POOL.take(xv.length);
  const c = r > 0 ? nativeFor(xv, gv) : null;
  if (c) {
    c.mole_expert_scale(xv, gv, h, xv.length, r, s);
    return out(a, xa.shape, h);
  }
  for (let i = 0, e = 0; i < xv.length; i += r, e++) {
    const w = s * gv[e];
    for (let j = 0; j < r; j++) h[i + j] = xv[i + j] * w;
  }
  return out(a, xa.shape, h);
}

function expertScaleGrad(a: KernelArgs): TensorInfo[] {
  const { dh, xa, g } = a.inputs as Record<string, TensorInfo>;
  const { r, s } = a.attrs as Record<string, number>;
  const [dv, xv, gv] = [vals(a, dh), vals(a, xa), vals(a, g)];
  const dxa = POOL.take(xv.length);
  const dg = POOL.take(gv.length);
  const c = r > 0 ? nativeFor(dv, xv, gv) : null;
  if (c) {
    c.mole_expert_scale_grad(dv, xv, gv, dxa, dg, xv.length, r, s);
    return [out(a, xa.shape, dxa), out(a, g.shape, dg)];
  }
  for (let i = 0, e = 0; i < xv.length; i += r, e++) {
    const w = s * gv[e];
    let dot = 0;
    for (let j = 0; j < r; j++) {
      dxa[i + j] = dv[i + j] * w;
      dot += dv[i + j] * xv[i + j];
    }
    dg[e] = s * dot;
  }
  return [out(a, xa.shape, dxa), out(a, g.shape, dg)];
}

function tsallis(a: KernelArgs): TensorInfo {
  const { p } = a.inputs as { p: TensorInfo };
  const { q, eps, smax } = a.attrs as Record<string, number>;
  const [T, N] = p.shape;
  const pv = vals(a, p);
  const h = POOL.take(T);
  const c = nativeFor(pv);
  if (c) {
    c.mole_tsallis(pv, h, T, N, q, eps, smax);
    return out(a, [T], h);
  }
  const [q32, eps32] = [Math.fround(q), Math.fround(eps)];
  for (let t = 0, o = 0; t < T; t++, o += N) {
    let s = 0;
    for (let i = 0; i < N; i++) {
      const pe = Math.fround(pv[o + i] + eps32);
      s += q32 === 1 ? -pe * Math.log(pe) : Math.pow(pe, q32);
    }
    h[t] = (q32 === 1 ? s : (1 - s) / (q32 - 1)) / smax;
  }
  return out(a, [T], h);
}

function tsallisGrad(a: KernelArgs): TensorInfo {
  const { dh, p } = a.inputs as Record<string, TensorInfo>;
  const { q, eps, smax } = a.attrs as Record<string, number>;
  const [T, N] = p.shape;
  const [dv, pv] = [vals(a, dh), vals(a, p)];
  const dp = POOL.take(T * N);
  const c = nativeFor(dv, pv);
  if (c) {
    c.mole_tsallis_grad(dv, pv, dp, T, N, q, eps, smax);
    return out(a, p.shape, dp);
  }
  const [q32, eps32] = [Math.fround(q), Math.fround(eps)];
  for (let t = 0, o = 0; t < T; t++, o += N) {
    const w = dv[t] / smax;
    for (let i = 0; i < N; i++) {
      const pe = Math.fround(pv[o + i] + eps32);
      dp[o + i] = q32 === 1 ? -w * (Math.log(pe) + 1) : ((-w * q32) / (q32 - 1)) * Math.pow(pe, q32 - 1);
    }
  }
  return out(a, p.shape, dp);
}

function sumSquares(a: KernelArgs): TensorInfo {
  let total = 0;
  for (const t of Object.values(a.inputs)) {
    const v = vals(a, t!);
    const c = nativeFor(v);
    if (c) total += c.mole_sum_squares(v, v.length);
    else for (let i = 0; i < v.length; i++) total += v[i] * v[i];
  }
  return out(a, [], Float32Array.of(total));
}

/** AdamW as `src/train/optim.ts` states it; m and v are rounded to float32 before they update p. */
function adamW(a: KernelArgs): TensorInfo[] {
  const { p, g, m, v } = a.inputs as Record<string, TensorInfo>;
  const { lr, beta1, beta2, eps, weightDecay, c1, c2, scale } = a.attrs as Record<string, number>;
  const [pv, gv, mv, vv] = [vals(a, p), vals(a, g), vals(a, m), vals(a, v)];
  const n = pv.length;
  const [m2, v2, p2] = [POOL.take(n), POOL.take(n), POOL.take(n)];
  const c = nativeFor(pv, gv, mv, vv);
  if (c) {
    c.mole_adamw(pv, gv, mv, vv, m2, v2, p2, n, lr, beta1, beta2, eps, weightDecay, c1, c2, scale);
    return [out(a, p.shape, m2), out(a, p.shape, v2), out(a, p.shape, p2)];
  }
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < n; i++) {
    const gi = gv[i] * scale;
    m2[i] = beta1 * mv[i] + (1 - beta1) * gi;
    v2[i] = beta2 * vv[i] + (1 - beta2) * gi * gi;
    p2[i] = pv[i] * decay - (lr * (m2[i] / c1)) / (Math.sqrt(v2[i] / c2) + eps); // m2, v2 read back as float32
  }
  return [out(a, p.shape, m2), out(a, p.shape, v2), out(a, p.shape, p2)];
}

/** Arguments for calling another kernel of the backend directly (no engine dispatch) from inside kernel `a`. */
const callWith = (a: KernelArgs) => (inputs: Record<string, TensorInfo>, attrs: Record<string, unknown> = {}) => ({
  ...a,
  inputs,
  attrs,
});

/** One top-k routing step from router logits z [T, N] (see the header): the composed ops' kernels in their order. */
function topKRoute(a: KernelArgs): TensorInfo[] {
  const { z } = a.inputs as { z: TensorInfo };
  const k = a.attrs!.k as number;
  const at = callWith(a);
  const p = fastSoftmax(at({ logits: z }, { dim: -1 }));
  const m = topKMask(at({ p }, { k }));
  const [g, den] = renorm(at({ w: p, m }, { guard: false }));
  const P = fastMean(at({ x: p }, { axis: 0, keepDims: false }));
  const f = fastMean(at({ x: m }, { axis: 0, keepDims: false }));
  return [g, p, m, den, P, f];
}

/**
 * dz from the gradients of g, p and P. The composed graph accumulates p's gradient as tfjs's tape visits its
 * consumers in reverse: mean_t p (dP/T, Mean's gradient), then Renorm, then the mask's zero; an external
 * consumer of p (none in the routers) comes first here.
 */
function topKRouteGrad(a: KernelArgs): TensorInfo {
  const { dg, dp, dP, p, g, m, den } = a.inputs as Record<string, TensorInfo>;
  const [T, N] = p.shape;
  const at = callWith(a);
  const fromRenorm = renormGrad(at({ dg, g, m, den }));
  const [ext, dMean, dr] = [vals(a, dp), vals(a, dP), vals(a, fromRenorm)];
  const total = POOL.take(T * N);
  for (let t = 0, o = 0; t < T; t++, o += N) {
    for (let i = 0; i < N; i++) {
      const mean = Math.fround(dMean[i] / T);
      total[o + i] = Math.fround(Math.fround(Math.fround(ext[o + i] + mean) + dr[o + i]) + 0);
    }
  }
  const dpTotal = out(a, p.shape, total);
  const dz = softmaxGrad(at({ dp: dpTotal, p }, { scale: 1 }));
  a.backend.disposeData(fromRenorm.dataId);
  a.backend.disposeData(dpTotal.dataId);
  return dz;
}

const SUB = fastBinary(tf.Sub);

/** One AdaMoLE routing step from logits z [T, N] and thresholds τ [T, 1] (see the header). */
function adaMoleRoute(a: KernelArgs): TensorInfo[] {
  const { z, tau } = a.inputs as { z: TensorInfo; tau: TensorInfo };
  const adapted = Boolean(a.attrs!.adapted);
  const at = callWith(a);
  const p = fastSoftmax(at({ logits: z }, { dim: -1 }));
  const adj = SUB(at({ a: p, b: tau }));
  const av = vals(a, adj);
  const sel = POOL.take(av.length);
  for (let i = 0; i < av.length; i++) sel[i] = av[i] >= 0 ? 1 : 0;
  const m = out(a, p.shape, sel);
  const [g, den] = renorm(at({ w: adj, m }, { guard: true }));
  const P = fastMean(at({ x: adapted ? adj : p }, { axis: 0, keepDims: false }));
  const f = fastMean(at({ x: m }, { axis: 0, keepDims: false }));
  return [g, p, m, den, P, f, adj];
}

/**
 * The gradient of an AdaMoLE routing step with respect to z (`wrt: "z"`) or τ (`wrt: "tau"`). As in the
 * composed graph, a's gradient accumulates an external consumer's, mean_t a's (`adapted`), Renorm's and the
 * mask's zero; p's an external consumer's, mean_t p's (not `adapted`) and the subtraction's; τ's is −Σ_i da.
 */
function adaMoleRouteGrad(a: KernelArgs): TensorInfo {
  const { dg, dp, da, dP, p, g, m, den } = a.inputs as Record<string, TensorInfo>;
  const { adapted, wrt } = a.attrs as { adapted: boolean; wrt: "z" | "tau" };
  const [T, N] = p.shape;
  const at = callWith(a);
  const fromRenorm = renormGrad(at({ dg, g, m, den }));
  const [extP, extA, dMean, dr] = [vals(a, dp), vals(a, da), vals(a, dP), vals(a, fromRenorm)];
  a.backend.disposeData(fromRenorm.dataId);
  const dAdj = (o: number, i: number) => {
    const mean = adapted ? Math.fround(dMean[i] / T) : 0;
    return Math.fround(Math.fround(Math.fround(extA[o + i] + mean) + dr[o + i]) + 0);
  };
  if (wrt === "tau") {
    const dTau = POOL.take(T);
    for (let t = 0, o = 0; t < T; t++, o += N) {
      let s = 0;
      for (let i = 0; i < N; i++) s += dAdj(o, i);
      dTau[t] = -Math.fround(s);
    }
    return out(a, [T, 1], dTau);
  }
  const total = POOL.take(T * N);
  for (let t = 0, o = 0; t < T; t++, o += N) {
    for (let i = 0; i < N; i++) {
      const mean = adapted ? 0 : Math.fround(dMean[i] / T);
      total[o + i] = Math.fround(Math.fround(extP[o + i] + mean) + dAdj(o, i));
    }
  }
  const dpTotal = out(a, p.shape, total);
  const dz = softmaxGrad(at({ dp: dpTotal, p }, { scale: 1 }));
  a.backend.disposeData(dpTotal.dataId);
  return dz;
}

const MUL = fastBinary(tf.Multiply);
const ADD = fastBinary(tf.Add);
const SIGMOID = fastUnary(tf.Sigmoid);

/** τ = c·sigmoid(s + b) for s [T, 1], b [1] (see the header), through the backend's Add and Sigmoid kernels. */
function scaledSigmoid(a: KernelArgs): TensorInfo[] {
  const { s, b } = a.inputs as { s: TensorInfo; b: TensorInfo };
  const c32 = Math.fround(a.attrs!.c as number);
  const at = callWith(a);
  const pre = ADD(at({ a: s, b }));
  const sig = SIGMOID(at({ x: pre }));
  a.backend.disposeData(pre.dataId);
  const sv = vals(a, sig);
  const tau = POOL.take(sv.length);
  for (let i = 0; i < sv.length; i++) tau[i] = sv[i] * c32;
  return [out(a, s.shape, tau), sig];
}

/** The gradient of τ = c·sigmoid(s + b) with respect to s or b, rounded as tfjs's Mul, Sigmoid and Add gradients. */
function scaledSigmoidGrad(a: KernelArgs): TensorInfo {
  const { dtau, sig } = a.inputs as { dtau: TensorInfo; sig: TensorInfo };
  const { c, wrt } = a.attrs as { c: number; wrt: "s" | "b" };
  const c32 = Math.fround(c);
  const [dv, sv] = [vals(a, dtau), vals(a, sig)];
  const d = (i: number) => Math.fround(Math.fround(dv[i] * c32) * Math.fround(sv[i] * Math.fround(1 - sv[i])));
  if (wrt === "b") {
    let sum = 0;
    for (let i = 0; i < sv.length; i++) sum += d(i);
    return out(a, [1], Float32Array.of(sum));
  }
  const ds = POOL.take(sv.length);
  for (let i = 0; i < sv.length; i++) ds[i] = d(i);
  return out(a, sig.shape, ds);
}
const EPS_MASKED_MEAN = Math.fround(1e-8); // tokenMean's ε for DynMoLE's masked means, as a float32 tensor holds it

/** Σ_t m_t x_ti / (Σ_t m_t + ε) per column of x [T, N] (tokenMean with a mask), or Σ_t x_ti / T without one. */
function columnMeans(x: Float32Array, T: number, N: number, m: Float32Array | null): Float32Array {
  const sums = new Float32Array(N); // summed over t in float32, as the Sum kernel does
  for (let t = 0, o = 0; t < T; t++, o += N) {
    for (let i = 0; i < N; i++) sums[i] += m ? Math.fround(x[o + i] * m[t]) : x[o + i];
  }
  const den = m ? maskedDenominator(m) : T;
  for (let i = 0; i < N; i++) sums[i] /= den;
  return sums;
}

/** Σ_t m_t (in double, stored as float32) + ε, rounded to float32: tokenMean's denominator. */
function maskedDenominator(m: Float32Array): number {
  let s = 0;
  for (let t = 0; t < m.length; t++) s += m[t];
  return Math.fround(Math.fround(s) + EPS_MASKED_MEAN);
}

/** One DynMoLE routing step from logits z [T, N] and an optional token mask [T] (see the header). */
function dynMoleRoute(a: KernelArgs): TensorInfo[] {
  const { z, mask } = a.inputs as { z: TensorInfo; mask?: TensorInfo };
  const { q, eps, smax, topP, keepTopK, threshold } = a.attrs as Record<string, number>;
  const [T, N] = z.shape;
  const at = callWith(a);
  const p = fastSoftmax(at({ logits: z }, { dim: -1 }));
  const h = tsallis(at({ p }, { q, eps, smax }));
  const keep = dynamicMask(at(threshold < 1 ? { p, entropy: h } : { p }, { topP, keepTopK, threshold }));
  const g = MUL(at({ a: p, b: keep }));
  const m = mask ? vals(a, mask) : null;
  const f = columnMeans(vals(a, g), T, N, m);
  const P = columnMeans(vals(a, p), T, N, m);
  const hv = vals(a, h);
  let hs = 0;
  for (let t = 0; t < T; t++) hs += hv[t];
  const hMean = Float32Array.of(Math.fround(hs) / T);
  return [g, p, keep, h, out(a, [N], f), out(a, [N], P), out(a, [], hMean)];
}

/**
 * dz of a DynMoLE routing step. p's gradient accumulates as the tape visits its consumers in reverse: an external
 * one, mean_t p, g = p⊙keep (g's own: the experts', then mean_t g), the mask's zero, then the entropy's
 * (H̃'s own gradient, then mean_t H̃'s).
 */
function dynMoleRouteGrad(a: KernelArgs): TensorInfo {
  const { dg, dp, dh, df, dP, dhMean, p, keep, mask } = a.inputs as Record<string, TensorInfo>;
  const { q, eps, smax } = a.attrs as Record<string, number>;
  const [T, N] = p.shape;
  const at = callWith(a);
  const m = mask ? vals(a, mask) : null;
  const den = m ? maskedDenominator(m) : T;
  const [dgv, dpv, dfv, dPv, kv] = [vals(a, dg), vals(a, dp), vals(a, df), vals(a, dP), vals(a, keep)];
  const perToken = (d: number, t: number) => m ? Math.fround(Math.fround(d / den) * m[t]) : Math.fround(d / den);
  const acc = POOL.take(T * N);
  for (let t = 0, o = 0; t < T; t++, o += N) {
    for (let i = 0; i < N; i++) {
      const dgTotal = Math.fround(dgv[o + i] + perToken(dfv[i], t));
      const viaG = Math.fround(dgTotal * kv[o + i]);
      acc[o + i] = Math.fround(Math.fround(Math.fround(dpv[o + i] + perToken(dPv[i], t)) + viaG) + 0);
    }
  }
  const [dhv, dhm] = [vals(a, dh), vals(a, dhMean)[0]];
  const dhTotal = new Float32Array(T);
  for (let t = 0; t < T; t++) dhTotal[t] = Math.fround(dhv[t] + Math.fround(dhm / T));
  const dhInfo = out(a, [T], dhTotal);
  const fromEntropy = tsallisGrad(at({ dh: dhInfo, p }, { q, eps, smax }));
  const ev = vals(a, fromEntropy);
  for (let i = 0; i < acc.length; i++) acc[i] = Math.fround(acc[i] + ev[i]);
  a.backend.disposeData(dhInfo.dataId);
  a.backend.disposeData(fromEntropy.dataId);
  const dpTotal = out(a, p.shape, acc);
  const dz = softmaxGrad(at({ dp: dpTotal, p }, { scale: 1 }));
  a.backend.disposeData(dpTotal.dataId);
  return dz;
}

/** AdamW for parameters 0 … count−1 in one kernel call (one engine dispatch per step instead of one per tensor). */
function adamWAll(a: KernelArgs): TensorInfo[] {
  const count = a.attrs!.count as number;
  const outs: TensorInfo[] = [];
  for (let i = 0; i < count; i++) {
    const { [`p${i}`]: p, [`g${i}`]: g, [`m${i}`]: m, [`v${i}`]: v } = a.inputs as Record<string, TensorInfo>;
    outs.push(...adamW(callWith(a)({ p, g, m, v }, a.attrs)));
  }
  return outs;
}

const KERNELS: [string, unknown][] = [
  [FUSED.rmsNorm, rmsNorm],
  [FUSED.rmsNormGrad, rmsNormGrad],
  [FUSED.swiGlu, swiGlu],
  [FUSED.swiGluGrad, swiGluGrad],
  [FUSED.rope, rope],
  [FUSED.causalSoftmax, causalSoftmax],
  [FUSED.softmaxGrad, softmaxGrad],
  [FUSED.crossEntropy, crossEntropy],
  [FUSED.crossEntropyGrad, crossEntropyGrad],
  [FUSED.dynamicMask, dynamicMask],
  [FUSED.topKMask, topKMask],
  [FUSED.renorm, renorm],
  [FUSED.renormGrad, renormGrad],
  [FUSED.expertScale, expertScale],
  [FUSED.expertScaleGrad, expertScaleGrad],
  [FUSED.tsallis, tsallis],
  [FUSED.tsallisGrad, tsallisGrad],
  [FUSED.sumSquares, sumSquares],
  [FUSED.adamW, adamW],
  [FUSED.adamWAll, adamWAll],
  [FUSED.topKRoute, topKRoute],
  [FUSED.topKRouteGrad, topKRouteGrad],
  [FUSED.adaMoleRoute, adaMoleRoute],
  [FUSED.adaMoleRouteGrad, adaMoleRouteGrad],
  [FUSED.scaledSigmoid, scaledSigmoid],
  [FUSED.scaledSigmoidGrad, scaledSigmoidGrad],
  [FUSED.dynMoleRoute, dynMoleRoute],
  [FUSED.dynMoleRouteMasked, dynMoleRoute],
  [FUSED.dynMoleRouteGrad, dynMoleRouteGrad],
];

/** Register the fused kernels for `backend` (idempotent). */
export function registerFusedKernels(backend: string): void {
  for (const [kernelName, fn] of KERNELS) {
    if (tf.getKernel(kernelName, backend)) continue;
    tf.registerKernel({ kernelName, backendName: backend, kernelFunc: fn as tf.KernelFunc });
  }
}

/** Whether the active backend has the fused kernels. */
export function hasFusedKernels(): boolean {
  return tf.getKernel(FUSED.rmsNorm, tf.getBackend()) !== undefined;
}
