/**
 * An independent, loop-based reference of every routing rule and the MoE-LoRA layer, in Float64 with
 * explicit sorting — written straight from methods.md, sharing no code with the tensor implementation,
 * so tests can compare the two on fixed-seed fixtures.
 */

export type Vec = number[];
export type Mat = number[][]; // [rows][cols]

export const dot = (a: Vec, b: Vec) => a.reduce((s, x, i) => s + x * b[i], 0);
export const matVec = (m: Mat, v: Vec): Vec => m.map((row) => dot(row, v));
export const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
export const silu = (z: number) => z * sigmoid(z);

export function softmax(z: Vec): Vec {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Indices sorted by value, descending; ties by lower index. */
export function sortDesc(p: Vec): number[] {
  return p.map((_, i) => i).sort((i, j) => (p[j] - p[i]) || (i - j));
}

/** Σ over the kept set, or 1 when it is 0 (the reference code's zero-sum guard). */
function normalise(w: Vec): Vec {
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / (s === 0 ? 1 : s));
}

export function refTopK(p: Vec, k: number): { g: Vec; active: Vec } {
  const keep = new Set(sortDesc(p).slice(0, k));
  const active = p.map((_, i) => (keep.has(i) ? 1 : 0));
  const s = p.reduce((acc, v, i) => acc + v * active[i], 0);
  return { g: p.map((v, i) => (active[i] ? v / s : 0)), active };
}

export function refThreshold(p: Vec, tau: number): { g: Vec; active: Vec } {
  const active = p.map((v) => (v >= tau ? 1 : 0));
  return { g: normalise(p.map((v, i) => v * active[i])), active };
}

export function refAdaMole(p: Vec, tau: number): { g: Vec; active: Vec; a: Vec } {
  const a = p.map((v) => v - tau);
  const active = a.map((v) => (v >= 0 ? 1 : 0));
  return { g: normalise(a.map((v, i) => v * active[i])), active, a };
}

export function refTsallis(p: Vec, q: number, eps: number): number {
  if (q === 1) return -p.reduce((s, v) => s + (v + eps) * Math.log(v + eps), 0);
  return (1 - p.reduce((s, v) => s + (v + eps) ** q, 0)) / (q - 1);
}

export function refNormalizedTsallis(p: Vec, q: number, eps: number): number {
  const n = p.length;
  const max = q === 1 ? Math.log(n) : (1 - n ** (1 - q)) / (q - 1);
  return refTsallis(p, q, eps) / max;
}

export interface RefDynRule {
  q: number;
  eps: number;
  entropyThreshold: number;
  topP: number;
  keepTopK: number;
}

export function refDynMole(p: Vec, rule: RefDynRule): { g: Vec; active: Vec; entropy: number } {
  const order = sortDesc(p);
  const active = p.map(() => 0);
  let c = 0;
  order.forEach((idx, rank) => {
    c += p[idx];
    if (c <= rule.topP || rank < rule.keepTopK) active[idx] = 1;
  });
  const entropy = refNormalizedTsallis(p, rule.q, rule.eps);
  if (rule.entropyThreshold < 1 && entropy > rule.entropyThreshold) active.fill(1);
  return { g: p.map((v, i) => v * active[i]), active, entropy };
}

/** One site: y = W0 x + Σ_i g_i · s · B_i (A_i x). */
export function refMoeLinear(x: Vec, W0: Mat, A: Mat[], B: Mat[], scale: number, g: Vec | null): Vec {
  const y = matVec(W0, x);
  A.forEach((Ai, i) => {
    const gi = g ? g[i] : 1;
    if (gi === 0) return;
    const h = matVec(Ai, x);
    const d = matVec(B[i], h);
    d.forEach((v, o) => (y[o] += gi * scale * v));
  });
  return y;
}

/** L = N · Σ_i f_i · P_i. */
export function refLoadBalance(f: Vec, P: Vec): number {
  return f.length * f.reduce((s, v, i) => s + v * P[i], 0);
}

/** Column means over rows. */
export function colMean(rows: Mat): Vec {
  return rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
}

/** MoA's SwiGLU router: w2(silu(w1 x + b1) ⊙ (w3 x + b3)) + b2. */
export function refSwiGlu(x: Vec, w1: Mat, b1: Vec, w3: Mat, b3: Vec, w2: Mat, b2: Vec): Vec {
  const a = matVec(w1, x).map((v, i) => v + b1[i]);
  const c = matVec(w3, x).map((v, i) => v + b3[i]);
  const h = a.map((v, i) => silu(v) * c[i]);
  return matVec(w2, h).map((v, i) => v + b2[i]);
}
