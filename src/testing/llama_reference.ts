/**
 * A plain-loop Llama forward (Float64) written from the Hugging Face modeling code, sharing nothing with
 * the tfjs model: RMSNorm, rotary embeddings (rotate_half), grouped-query causal attention, SwiGLU MLP.
 * Tests compare the tfjs logits to it.
 */
import type { LlamaConfig } from "../model/config.ts";
import { type Mat, matVec, silu, type Vec } from "./moe_reference.ts";

export type Weights = Map<string, { shape: number[]; data: Float32Array }>;

function matrix(w: Weights, name: string): Mat {
  const t = w.get(name)!;
  const [rows, cols] = t.shape;
  return Array.from({ length: rows }, (_, r) => Array.from(t.data.subarray(r * cols, (r + 1) * cols)));
}

function vector(w: Weights, name: string): Vec {
  return Array.from(w.get(name)!.data);
}

function rmsNorm(x: Vec, g: Vec, eps: number): Vec {
  const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
  const r = 1 / Math.sqrt(ms + eps);
  return x.map((v, i) => v * r * g[i]);
}

/** Rotate one head vector at position pos (HF rotate_half layout). */
function rope(x: Vec, pos: number, theta: number): Vec {
  const d = x.length;
  const half = d / 2;
  const out = new Array(d);
  for (let i = 0; i < half; i++) {
    const angle = pos * theta ** (-(2 * i) / d);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    out[i] = x[i] * c - x[i + half] * s;
    out[i + half] = x[i + half] * c + x[i] * s;
  }
  return out;
}

/** Logits [S][V] for one sequence of token ids. */
export function refLlamaLogits(cfg: LlamaConfig, w: Weights, ids: number[]): Mat {
  const { nHeads: H, nKvHeads: KV, headDim: hd, rmsNormEps: eps, ropeTheta } = cfg;
  const emb = matrix(w, "model.embed_tokens.weight");
  let xs: Mat = ids.map((id) => [...emb[id]]);
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = (n: string) => `model.layers.${l}.${n}`;
    const Wq = matrix(w, p("self_attn.q_proj.weight"));
    const Wk = matrix(w, p("self_attn.k_proj.weight"));
    const Wv = matrix(w, p("self_attn.v_proj.weight"));
    const Wo = matrix(w, p("self_attn.o_proj.weight"));
    const h = xs.map((x) => rmsNorm(x, vector(w, p("input_layernorm.weight")), eps));
    const head = (v: Vec, i: number) => v.slice(i * hd, (i + 1) * hd);
    const q = h.map((x, t) => Array.from({ length: H }, (_, i) => rope(head(matVec(Wq, x), i), t, ropeTheta)));
    const k = h.map((x, t) => Array.from({ length: KV }, (_, i) => rope(head(matVec(Wk, x), i), t, ropeTheta)));
    const v = h.map((x) => Array.from({ length: KV }, (_, i) => head(matVec(Wv, x), i)));
    const attn = q.map((qt, t) =>
      qt.flatMap((qh, i) => {
        const kvh = Math.floor(i / (H / KV));
        const scores = Array.from({ length: t + 1 }, (_, s) =>
          qh.reduce((a, b, j) => a + b * k[s][kvh][j], 0) / Math.sqrt(hd));
        const m = Math.max(...scores);
        const e = scores.map((z) =>
          Math.exp(z - m)
        );
        const z = e.reduce((a, b) => a + b, 0);
        return Array.from({ length: hd }, (_, j) => e.reduce((acc, es, s) => acc + (es / z) * v[s][kvh][j], 0));
      })
    );
    xs = xs.map((x, t) => {
      const o = matVec(Wo, attn[t]);
      return x.map((val, i) => val + o[i]);
    });
    const Wg = matrix(w, p("mlp.gate_proj.weight"));
    const Wu = matrix(w, p("mlp.up_proj.weight"));
    const Wd = matrix(w, p("mlp.down_proj.weight"));
    xs = xs.map((x) => {
      const hh = rmsNorm(x, vector(w, p("post_attention_layernorm.weight")), eps);
      const g = matVec(Wg, hh);
      const u = matVec(Wu, hh);
      const d = matVec(Wd, g.map((gv, i) => silu(gv) * u[i]));
      return x.map((val, i) => val + d[i]);
    });
  }
  const final = xs.map((x) => rmsNorm(x, vector(w, "model.norm.weight"), eps));
  const headW = matrix(w, cfg.tieEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight");
  return final.map((x) => matVec(headW, x));
}
