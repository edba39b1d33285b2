/**
 * Rotary position embeddings (Su et al. 2021, RoFormer) as Hugging Face Llama computes them.
 *
 *   inv_freq_i = θ^(−2i/d),  i = 0 … d/2 − 1          (d = headDim, θ = ropeTheta)
 *
 * Llama 3.1 ("llama3" rope_scaling, transformers' `_compute_llama3_parameters`) rescales by wavelength
 * λ_i = 2π / inv_freq_i, with L = originalMaxPositionEmbeddings, α = lowFreqFactor, β = highFreqFactor:
 *   λ < L/β → unchanged;   λ > L/α → inv_freq / factor;
 *   otherwise s = (L/λ − α) / (β − α),  inv_freq' = (1 − s)·inv_freq/factor + s·inv_freq.
 *
 * Tables use the "rotate_half" layout: for position t, emb = concat(t·inv_freq, t·inv_freq) (length d),
 * and q' = q·cos(emb) + rotate_half(q)·sin(emb) with rotate_half(x) = concat(−x₂, x₁).
 */
import { ConfigError } from "../errors.ts";
import type { LlamaConfig } from "./config.ts";

export type RopeConfig = Pick<LlamaConfig, "headDim" | "ropeTheta" | "ropeScaling">;

/** Inverse frequencies, length headDim / 2, with llama3 scaling applied when configured. */
export function ropeInvFreq(cfg: RopeConfig): Float64Array {
  const d = cfg.headDim;
  if (d % 2 !== 0) throw new ConfigError(`headDim must be even for rotary embeddings, got ${d}`);
  const inv = new Float64Array(d / 2);
  for (let i = 0; i < d / 2; i++) inv[i] = cfg.ropeTheta ** (-(2 * i) / d);
  const s = cfg.ropeScaling;
  if (s === null) return inv;
  const L = s.originalMaxPositionEmbeddings;
  const lowFreqWavelen = L / s.lowFreqFactor;
  const highFreqWavelen = L / s.highFreqFactor;
  for (let i = 0; i < inv.length; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    if (wavelen < highFreqWavelen) continue; // high frequency: unchanged
    if (wavelen > lowFreqWavelen) {
      inv[i] /= s.factor; // low frequency: slowed down by the factor
    } else {
      const smooth = (L / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[i] = (1 - smooth) * inv[i] / s.factor + smooth * inv[i];
    }
  }
  return inv;
}

/** cos and sin tables, each [seqLen, headDim] row-major, for positions 0 … seqLen − 1. */
export function ropeTables(cfg: RopeConfig, seqLen: number): { cos: Float32Array; sin: Float32Array } {
  const inv = ropeInvFreq(cfg);
  const d = cfg.headDim;
  const half = d / 2;
  const cos = new Float32Array(seqLen * d);
  const sin = new Float32Array(seqLen * d);
  for (let t = 0; t < seqLen; t++) {
    for (let i = 0; i < half; i++) {
      const angle = t * inv[i];
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[t * d + i] = cos[t * d + half + i] = c; // [T, d]
      sin[t * d + i] = sin[t * d + half + i] = s;
    }
  }
  return { cos, sin };
}
