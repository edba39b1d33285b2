/*
 * MoLE Lab native kernels for the `blas` backend: the element-wise and row-wise loops of a training step
 * (src/backend/fused_kernels.ts and fast_kernels.ts state each one's math), compiled once per machine by
 * src/backend/native.ts and called through Deno FFI.
 *
 * Numerics. Compiled with -ffp-contract=off and without -ffast-math, so every loop computes exactly what it
 * says in IEEE arithmetic, whatever the vector width the compiler picks (SSE2 or AVX2 builds give identical
 * bits). Loops without exp compute in double and round once on store, like the JS kernels they replace, so
 * they agree with them bit for bit. Loops with exp use `expf_` below (float, ≤ 2 ulp), the one place the
 * native path differs from Math.exp; long row sums use eight accumulators in a fixed order (vectorisable
 * and still deterministic).
 *
 * No headers: the only libm call is log, declared here, so a compiler without libc headers still works.
 */
double log(double);

typedef int i32;
typedef unsigned int u32;

static inline float bits_to_float(u32 b) {
  union { u32 u; float f; } v = { b };
  return v.f;
}
static inline u32 float_to_bits(float f) {
  union { float f; u32 u; } v = { f };
  return v.u;
}

/* exp(x) in float: x = k·ln2 + r, |r| ≤ ln2/2; e^r by the Cephes degree-6 polynomial; 2^k applied as two
 * halves so results down to the subnormals are exact powers. NaN propagates; ≥ 89 gives +inf, ≤ −104 gives 0. */
static inline float expf_(float x) {
  x = x > 89.0f ? 89.0f : x;
  x = x < -104.0f ? -104.0f : x;
  const float magic = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer, kept in the low bits */
  float t = x * 1.44269504088896341f + magic;
  i32 k = (i32)(float_to_bits(t) - float_to_bits(magic));
  float kf = t - magic;
  float r = x - kf * 0.693359375f;
  r = r - kf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  i32 k1 = k >> 1;
  i32 k2 = k - k1;
  return p * bits_to_float((u32)(k1 + 127) << 23) * bits_to_float((u32)(k2 + 127) << 23);
}

/* log(x) in float (Cephes logf): x = m·2^e with m ∈ [√½, √2), log m by a degree-9 polynomial in m − 1;
 * subnormals rescaled first. log 0 = −inf, log of a negative or NaN = NaN, log inf = inf. */
static inline float logf_(float x) {
  u32 b = float_to_bits(x);
  i32 sub = (b & 0x7f800000u) == 0;
  u32 bs = float_to_bits(sub ? x * 8388608.0f : x);
  i32 e = (i32)((bs >> 23) & 0xff) - 126 - (sub ? 23 : 0);
  float m = bits_to_float((bs & 0x007fffffu) | 0x3f000000u); /* [0.5, 1) */
  i32 lo = m < 0.707106781186547524f;
  e -= lo;
  m = lo ? m + m - 1.0f : m - 1.0f;
  float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  float fe = (float)e;
  y += fe * -2.12194440e-4f;
  y += -0.5f * z;
  float r = m + y + fe * 0.693359375f;
  r = x == 0 ? -__builtin_inff() : r;
  r = x < 0 ? __builtin_nanf("") : r;
  r = x == __builtin_inff() ? x : r;
  return x != x ? x : r;
}

/* max_j x_j (NaNs skipped: a NaN entry then turns its row to NaN through exp), in eight lanes. */
static float max8(const float *x, i32 n) {
  float m[8];
  for (i32 l = 0; l < 8; l++) m[l] = -__builtin_inff();
  i32 j = 0;
  for (; j + 8 <= n; j += 8)
    for (i32 l = 0; l < 8; l++) m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
  float r = -__builtin_inff();
  for (i32 l = 0; l < 8; l++) r = m[l] > r ? m[l] : r;
  for (; j < n; j++) r = x[j] > r ? x[j] : r;
  return r;
}

/* Σ x_j over n floats in double: eight lanes, combined in a fixed order. */
static double sum8(const float *x, i32 n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  i32 j = 0;
  for (; j + 8 <= n; j += 8)
    for (i32 l = 0; l < 8; l++) acc[l] += x[j + l];
  double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < n; j++) s += x[j];
  return s;
}

/* ---- binary ops over a broadcast plan: runs of `len` at offsets aOff/bOff, steps 0 or 1. A float op rounds
 * exactly as the JS kernels' double op then store does (double has more than 2·24 + 2 bits). ---- */

enum { OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3 };

#define RUN_LOOP(EXPR)                                                                            \
  if (as && bs)                                                                                   \
    for (i32 i = 0; i < len; i++) { float x = a[i], y = b[i]; o[i] = EXPR; }                    \
  else if (as)                                                                                    \
    for (i32 i = 0; i < len; i++) { float x = a[i], y = b[0]; o[i] = EXPR; }                    \
  else if (bs)                                                                                    \
    for (i32 i = 0; i < len; i++) { float x = a[0], y = b[i]; o[i] = EXPR; }                    \
  else                                                                                            \
    for (i32 i = 0; i < len; i++) { float x = a[0], y = b[0]; o[i] = EXPR; }

void mole_binary(i32 op, const float *restrict A, const float *restrict B, float *restrict out, const i32 *restrict aOff, const i32 *restrict bOff, i32 nOuter,
                 i32 len, i32 as, i32 bs) {
  for (i32 r = 0; r < nOuter; r++) {
    const float *a = A + aOff[r];
    const float *b = B + bOff[r];
    float *o = out + (long)r * len;
    switch (op) {
      case OP_ADD: RUN_LOOP(x + y) break;
      case OP_SUB: RUN_LOOP(x - y) break;
      case OP_MUL: RUN_LOOP(x * y) break;
      case OP_DIV: RUN_LOOP(x / y) break;
    }
  }
}

/* ---- transpose: out walks `nd` output dims (sizes dims[], source steps steps[]) in row-major order, copying
 * `inner` contiguous floats per position (inner = 1 when the permutation moves the last axis) ---- */

void mole_transpose(const float *restrict src, float *restrict out, const i32 *restrict dims,
                    const i32 *restrict steps, i32 nd, i32 inner, i32 total) {
  i32 idx[16] = {0};
  long from = 0;
  for (i32 w = 0; w < total; w += inner) {
    if (inner == 1) out[w] = src[from];
    else for (i32 i = 0; i < inner; i++) out[w + i] = src[from + i];
    for (i32 d = nd - 1; d >= 0; d--) { /* odometer with incremental source offset */
      idx[d]++;
      from += steps[d];
      if (idx[d] < dims[d]) break;
      from -= (long)steps[d] * dims[d];
      idx[d] = 0;
    }
  }
}

/* ---- unary ---- */

enum { U_EXP = 0, U_SIGMOID = 1, U_NEG = 2, U_SQUARE = 3, U_LOG = 4 };

void mole_unary(i32 op, const float *restrict x, float *restrict out, i32 n) {
  switch (op) {
    case U_EXP:
      for (i32 i = 0; i < n; i++) out[i] = expf_(x[i]);
      break;
    case U_SIGMOID:
      for (i32 i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf_(-x[i]));
      break;
    case U_NEG:
      for (i32 i = 0; i < n; i++) out[i] = -x[i];
      break;
    case U_LOG:
      for (i32 i = 0; i < n; i++) out[i] = logf_(x[i]);
      break;
    case U_SQUARE:
      for (i32 i = 0; i < n; i++) out[i] = x[i] * x[i];
      break;
  }
}

/* ---- the Llama block's fused pieces ---- */

/* y = silu(a)·b, s = σ(a) */
void mole_swiglu(const float *restrict a, const float *restrict b, float *restrict y, float *restrict s, i32 n) {
  for (i32 i = 0; i < n; i++) {
    float si = 1.0f / (1.0f + expf_(-a[i]));
    s[i] = si;
    y[i] = (float)((double)a[i] * si * b[i]);
  }
}

/* da = dy·b·s(1 + a(1 − s)), db = dy·a·s */
void mole_swiglu_grad(const float *restrict dy, const float *restrict a, const float *restrict b, const float *restrict s, float *restrict da, float *restrict db, i32 n) {
  for (i32 i = 0; i < n; i++) {
    double si = s[i];
    da[i] = (float)((double)dy[i] * b[i] * si * (1 + a[i] * (1 - si)));
    db[i] = (float)((double)dy[i] * a[i] * si);
  }
}

/* y = x·r·g per row, r = 1/√(mean(x²) + ε) */
void mole_rmsnorm(const float *restrict x, const float *restrict g, float *restrict y, float *restrict r, i32 T, i32 d, double eps) {
  for (i32 t = 0; t < T; t++) {
    const float *xr = x + (long)t * d;
    float *yr = y + (long)t * d;
    double ss = 0;
    for (i32 i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
    double inv = 1 / __builtin_sqrt(ss / d + eps);
    r[t] = (float)inv;
    for (i32 i = 0; i < d; i++) yr[i] = (float)(xr[i] * inv * g[i]);
  }
}

/* dx = r·(dy⊙g) − x·r³·mean(dy⊙g⊙x); dg (double, zeroed by the caller) += dy⊙x·r */
void mole_rmsnorm_grad(const float *restrict dy, const float *restrict x, const float *restrict g, const float *restrict r, float *restrict dx, double *restrict dg, i32 T,
                       i32 d) {
  for (i32 t = 0; t < T; t++) {
    const float *dyr = dy + (long)t * d;
    const float *xr = x + (long)t * d;
    float *dxr = dx + (long)t * d;
    double inv = r[t];
    double dot = 0;
    for (i32 i = 0; i < d; i++) {
      dot += (double)dyr[i] * g[i] * xr[i];
      dg[i] += (double)dyr[i] * xr[i] * inv;
    }
    double c = (inv * inv * inv * dot) / d;
    for (i32 i = 0; i < d; i++) dxr[i] = (float)(inv * dyr[i] * g[i] - xr[i] * c);
  }
}

/* RoPE per head of width hd over n values; inverse applies the transpose (the gradient). */
void mole_rope(const float *restrict x, const float *restrict c, const float *restrict s, float *restrict y, i32 n, i32 hd, i32 inverse) {
  i32 half = hd / 2;
  for (i32 h = 0; h < n; h += hd) {
    const float *xl = x + h, *xh = x + h + half;
    const float *cl = c + h, *ch = c + h + half, *sl = s + h, *sh = s + h + half;
    float *yl = y + h, *yh = y + h + half;
    if (inverse) {
      for (i32 i = 0; i < half; i++) {
        yl[i] = (float)((double)xl[i] * cl[i] + (double)xh[i] * sh[i]);
        yh[i] = (float)((double)xh[i] * ch[i] - (double)xl[i] * sl[i]);
      }
    } else {
      for (i32 i = 0; i < half; i++) {
        yl[i] = (float)((double)xl[i] * cl[i] - (double)xh[i] * sl[i]);
        yh[i] = (float)((double)xh[i] * ch[i] + (double)xl[i] * sh[i]);
      }
    }
  }
}

/* Row-wise softmax of scale·x over the first n_row entries (the rest 0); n_row = row mod R mod S + 1 when
 * causal, else S. */
void mole_softmax_rows(const float *restrict x, float *restrict p, i32 rows, i32 R, i32 S, float scale, i32 causal) {
  for (i32 row = 0; row < rows; row++) {
    const float *xr = x + (long)row * S;
    float *pr = p + (long)row * S;
    i32 n = causal ? row % R % S + 1 : S;
    float max = max8(xr, n);
    for (i32 j = 0; j < n; j++) pr[j] = expf_(scale * (xr[j] - max));
    float inv = (float)(1 / sum8(pr, n));
    for (i32 j = 0; j < n; j++) pr[j] *= inv;
    for (i32 j = n; j < S; j++) pr[j] = 0;
  }
}

/* ds = scale·p⊙(dp − Σ_j dp⊙p) per row of S */
void mole_softmax_grad(const float *restrict dp, const float *restrict p, float *restrict ds, i32 rows, i32 S, double scale) {
  for (i32 row = 0; row < rows; row++) {
    const float *dr = dp + (long)row * S, *pr = p + (long)row * S;
    float *o = ds + (long)row * S;
    double dot = 0;
    for (i32 j = 0; j < S; j++) dot += (double)dr[j] * pr[j];
    for (i32 j = 0; j < S; j++) o[j] = (float)(scale * pr[j] * (dr[j] - dot));
  }
}

/* P = softmax(z) per row; returns Σ_t m_t (lse_t − z_t[y_t]) */
double mole_cross_entropy(const float *restrict z, const i32 *restrict y, const float *restrict m, float *restrict P, i32 T, i32 V) {
  double total = 0;
  for (i32 t = 0; t < T; t++) {
    const float *zr = z + (long)t * V;
    float *pr = P + (long)t * V;
    float max = max8(zr, V);
    for (i32 j = 0; j < V; j++) pr[j] = expf_(zr[j] - max);
    double sum = sum8(pr, V);
    float inv = (float)(1 / sum);
    for (i32 j = 0; j < V; j++) pr[j] *= inv;
    if (m[t] != 0) total += m[t] * (max + log(sum) - zr[y[t]]);
  }
  return total;
}

/* dz = scale·m_t·(P_t − onehot(y_t)) */
void mole_cross_entropy_grad(const float *restrict P, const i32 *restrict y, const float *restrict m, float *restrict dz, i32 T, i32 V, double scale) {
  for (i32 t = 0; t < T; t++) {
    const float *pr = P + (long)t * V;
    float *o = dz + (long)t * V;
    double w = scale * m[t];
    for (i32 j = 0; j < V; j++) o[j] = (float)(w * pr[j]);
    if (m[t] != 0) o[y[t]] = (float)(o[y[t]] - w); /* a masked row's target (padding) may lie outside the vocabulary */
  }
}

/* Σ x² of one array in double, in index order (the JS kernel's order for each input). */
double mole_sum_squares(const float *restrict x, i32 n) {
  double s = 0;
  for (i32 i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}

/* AdamW, as src/train/optim.ts states it; m and v are rounded to float32 before they update p. */
void mole_adamw(const float *restrict p, const float *restrict g, const float *restrict m, const float *restrict v, float *restrict m2, float *restrict v2, float *restrict p2, i32 n,
                double lr, double beta1, double beta2, double eps, double wd, double c1, double c2, double scale) {
  double decay = 1 - lr * wd;
  for (i32 i = 0; i < n; i++) {
    double gi = g[i] * scale;
    float mi = (float)(beta1 * m[i] + (1 - beta1) * gi);
    float vi = (float)(beta2 * v[i] + (1 - beta2) * gi * gi);
    m2[i] = mi;
    v2[i] = vi;
    p2[i] = (float)(p[i] * decay - (lr * (mi / c1)) / (__builtin_sqrt(vi / c2) + eps));
  }
}

/* ---- the routers' selection masks ([T, N], N small): rank_i = #{j: p_j > p_i} + #{j < i: p_j = p_i} ---- */

static i32 rank_of(const float *p, i32 N, i32 i, i32 stop) {
  i32 r = 0;
  for (i32 j = 0; j < N && r < stop; j++) r += p[j] > p[i] || (j < i && p[j] == p[i]);
  return r;
}

/* 1 for the k largest entries of each row (ties to the lower index), else 0 */
void mole_topk_mask(const float *restrict p, float *restrict m, i32 T, i32 N, i32 k) {
  for (i32 t = 0; t < T; t++) {
    const float *pr = p + (long)t * N;
    for (i32 i = 0; i < N; i++) m[(long)t * N + i] = rank_of(pr, N, i, k) < k ? 1.0f : 0.0f;
  }
}

/* DynMoLE's keep mask: (c_i ≤ topP) ∨ (rank_i < keepTopK) ∨ (H_t > threshold), c_i = Σ_j p_j [rank_j ≤ rank_i]
 * summed in index order in double and rounded to float32 (as the composed ops do); h may be null. */
void mole_dynamic_mask(const float *restrict p, const float *restrict h, float *restrict keep, i32 *restrict rank,
                       i32 T, i32 N, float topP, i32 keepTopK, float threshold, i32 hasH) {
  for (i32 t = 0; t < T; t++) {
    const float *pr = p + (long)t * N;
    float *kr = keep + (long)t * N;
    if (hasH && h[t] > threshold) {
      for (i32 i = 0; i < N; i++) kr[i] = 1.0f;
      continue;
    }
    for (i32 i = 0; i < N; i++) rank[i] = rank_of(pr, N, i, N);
    for (i32 i = 0; i < N; i++) {
      double c = 0;
      for (i32 j = 0; j < N; j++)
        if (rank[j] <= rank[i]) c += pr[j];
      kr[i] = (float)c <= topP || rank[i] < keepTopK ? 1.0f : 0.0f;
    }
  }
}

/* ---- DynMoLE's normalised Tsallis entropy per row of p [T, N] (methods.md §6), pe = p + ε rounded to float:
 * H̃ = (1 − Σ pe^q) / (q − 1) / smax, or −Σ pe·log pe / smax for q = 1; sums in double ---- */

void mole_tsallis(const float *restrict p, float *restrict h, i32 T, i32 N, float q, float eps, double smax) {
  for (i32 t = 0; t < T; t++) {
    const float *pr = p + (long)t * N;
    double s = 0;
    if (q == 1.0f) {
      for (i32 i = 0; i < N; i++) {
        float pe = pr[i] + eps;
        s -= (double)pe * logf_(pe);
      }
    } else {
      for (i32 i = 0; i < N; i++) s += expf_(q * logf_(pr[i] + eps));
      s = (1 - s) / (q - 1);
    }
    h[t] = (float)(s / smax);
  }
}

/* dp = −q·pe^{q−1} / (q − 1) / smax · dh (q = 1: −(log pe + 1) / smax · dh) */
void mole_tsallis_grad(const float *restrict dh, const float *restrict p, float *restrict dp, i32 T, i32 N, float q,
                       float eps, double smax) {
  for (i32 t = 0; t < T; t++) {
    const float *pr = p + (long)t * N;
    float *o = dp + (long)t * N;
    double w = dh[t] / smax;
    if (q == 1.0f) {
      for (i32 i = 0; i < N; i++) o[i] = (float)(-w * (logf_(pr[i] + eps) + 1.0));
    } else {
      double c = -w * q / (q - 1);
      for (i32 i = 0; i < N; i++) o[i] = (float)(c * expf_((q - 1.0f) * logf_(pr[i] + eps)));
    }
  }
}

/* ---- routed experts' small [T, N] / [T, N·r] pieces (fused_kernels.ts states each) ---- */

/* h[t, e·r + j] = xa[t, e·r + j] · s · g[t, e] */
void mole_expert_scale(const float *restrict xa, const float *restrict g, float *restrict h, i32 n, i32 r, double s) {
  for (i32 i = 0, e = 0; i < n; i += r, e++) {
    double w = s * g[e];
    for (i32 j = 0; j < r; j++) h[i + j] = (float)(xa[i + j] * w);
  }
}

/* dxa = dh · s·g (repeated);  dg[t, e] = s Σ_j dh[t, e·r + j] xa[t, e·r + j] */
void mole_expert_scale_grad(const float *restrict dh, const float *restrict xa, const float *restrict g,
                            float *restrict dxa, float *restrict dg, i32 n, i32 r, double s) {
  for (i32 i = 0, e = 0; i < n; i += r, e++) {
    double w = s * g[e];
    double dot = 0;
    for (i32 j = 0; j < r; j++) {
      dxa[i + j] = (float)(dh[i + j] * w);
      dot += (double)dh[i + j] * xa[i + j];
    }
    dg[e] = (float)(s * dot);
  }
}

/* g = w⊙m / D, D = Σ_j fround(w_j m_j) (1 where that sum is 0 and guard is set) */
void mole_renorm(const float *restrict w, const float *restrict m, float *restrict g, float *restrict den, i32 T, i32 N,
                 i32 guard) {
  for (i32 t = 0; t < T; t++) {
    const float *wr = w + (long)t * N, *mr = m + (long)t * N;
    double s = 0;
    for (i32 i = 0; i < N; i++) s += wr[i] * mr[i]; /* float products, summed in double */
    float d = (float)s;
    if (guard && d == 0) d = 1;
    den[t] = d;
    for (i32 i = 0; i < N; i++) g[(long)t * N + i] = (wr[i] * mr[i]) / d;
  }
}

/* dw = m ⊙ (dg − Σ_j g_j dg_j) / D */
void mole_renorm_grad(const float *restrict dg, const float *restrict g, const float *restrict m,
                      const float *restrict den, float *restrict dw, i32 T, i32 N) {
  for (i32 t = 0; t < T; t++) {
    const float *dr = dg + (long)t * N, *gr = g + (long)t * N, *mr = m + (long)t * N;
    double dot = 0;
    for (i32 i = 0; i < N; i++) dot += (double)gr[i] * dr[i];
    for (i32 i = 0; i < N; i++) dw[(long)t * N + i] = (float)((mr[i] * (dr[i] - dot)) / den[t]);
  }
}
