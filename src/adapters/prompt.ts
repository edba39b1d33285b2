/**
 * Prompt expert — MoA's `PROMPT` type (methods.md §7.1; LLaMA-Adapter-style zero-gated prompt attention
 * in DCDmllm/MoA `Attention.forward`). L learned prompt vectors P ∈ R^{L×d} (nn.Embedding init, N(0, 1))
 * are projected by the block's *frozen* Wk and Wv (no LoRA, no RoPE; GQA-repeated), attended to by the
 * post-RoPE queries with their own softmax over the L slots, and gated per head by g ∈ R^{heads}
 * (zero-initialised, so the expert starts silent):
 *   out = w_t · concat_h[ g_h · softmax_l(q_h · k^P_{h,l} / √hd) · v^P_h ],  added before Wo.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../util/rng.ts";
import { normalInit, param } from "./init.ts";
import { type Adapter, countParams } from "./types.ts";

export class PromptExpert implements Adapter {
  readonly kind = "prompt" as const;
  /** [L, d] */
  readonly prompt: tf.Variable;
  /** [heads] */
  readonly gate: tf.Variable;
  readonly params: Record<string, tf.Variable>;

  constructor(readonly name: string, d: number, readonly length: number, readonly nHeads: number, rng: Rng) {
    this.prompt = param(`${name}.prompt`, normalInit(rng, [length, d], 1));
    this.gate = param(`${name}.prompt_gate`, tf.zeros([nHeads]));
    this.params = { prompt: this.prompt, prompt_gate: this.gate };
  }

  numParams(): number {
    return countParams(this.params);
  }

  /** Project P by a frozen [kvHeads·hd, d] weight and repeat kv heads: [H, L, hd]. */
  private heads(w: tf.Tensor2D, nKvHeads: number, headDim: number): tf.Tensor3D {
    const L = this.length;
    const rep = this.nHeads / nKvHeads;
    const kv = tf.matMul(this.prompt, w, false, true).reshape([L, nKvHeads, headDim]).transpose([1, 0, 2]); // [kv, L, hd]
    if (rep === 1) return kv as tf.Tensor3D;
    return tf.broadcastTo(kv.expandDims(1), [nKvHeads, rep, L, headDim]).reshape([this.nHeads, L, headDim]);
  }

  /**
   * q [T, H, hd] post-RoPE queries of T tokens; wk, wv the block's frozen key/value weights; w [T, 1] the
   * type weight (null: 1). Returns [T, H·hd], to add to the attention output before Wo.
   */
  forward(
    q: tf.Tensor3D,
    wk: tf.Tensor2D,
    wv: tf.Tensor2D,
    nKvHeads: number,
    w: tf.Tensor2D | null,
  ): tf.Tensor2D {
    return tf.tidy(() => {
      const [T, H, hd] = q.shape;
      const kP = this.heads(wk, nKvHeads, hd); // [H, L, hd]
      const vP = this.heads(wv, nKvHeads, hd); // [H, L, hd]
      const qh = q.transpose([1, 0, 2]); // [H, T, hd]
      const scores = tf.matMul(qh, kP, false, true).div(Math.sqrt(hd)); // [H, T, L]
      const attn = tf.softmax(scores).mul(this.gate.reshape([H, 1, 1])); // g_h · softmax over L slots
      const out = tf.matMul(attn, vP).transpose([1, 0, 2]).reshape([T, H * hd]); // [T, H·hd]
      return (w ? out.mul(w) : out) as tf.Tensor2D;
    });
  }

  dispose(): void {
    tf.dispose(Object.values(this.params));
  }
}
