/**
 * Parallel adapter — MoA's `PADAPTER` expert (methods.md §7.1, DCDmllm/MoA `PAdapterLayer`): beside the
 * FFN, on its normed input ĥ, w_t · (W_up · silu(W_down ĥ + b_down) + b_up), bottleneck m; weights
 * xavier_uniform(gain = 1e-4), zero biases.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../util/rng.ts";
import { param, xavierUniform } from "./init.ts";
import { type Adapter, countParams } from "./types.ts";

export class ParallelAdapter implements Adapter {
  readonly kind = "parallel" as const;
  /** [m, d] */
  readonly downWeight: tf.Variable;
  readonly downBias: tf.Variable;
  /** [d, m] */
  readonly upWeight: tf.Variable;
  readonly upBias: tf.Variable;
  readonly params: Record<string, tf.Variable>;

  constructor(readonly name: string, readonly d: number, readonly size: number, rng: Rng) {
    this.downWeight = param(`${name}.down_proj.weight`, xavierUniform(rng, [size, d], d, size, 1e-4));
    this.downBias = param(`${name}.down_proj.bias`, tf.zeros([size]));
    this.upWeight = param(`${name}.up_proj.weight`, xavierUniform(rng, [d, size], size, d, 1e-4));
    this.upBias = param(`${name}.up_proj.bias`, tf.zeros([d]));
    this.params = {
      "down_proj.weight": this.downWeight,
      "down_proj.bias": this.downBias,
      "up_proj.weight": this.upWeight,
      "up_proj.bias": this.upBias,
    };
  }

  numParams(): number {
    return countParams(this.params);
  }

  /** h [T, d], per-token weight w [T, 1] (null: 1) → [T, d]. */
  forward(h: tf.Tensor2D, w: tf.Tensor2D | null): tf.Tensor2D {
    return tf.tidy(() => {
      const down = tf.matMul(h, this.downWeight, false, true).add(this.downBias); // [T, m]
      const up = tf.matMul(tf.mul(down, tf.sigmoid(down)), this.upWeight, false, true).add(this.upBias); // [T, d]
      return (w ? up.mul(w) : up) as tf.Tensor2D;
    });
  }

  dispose(): void {
    tf.dispose(Object.values(this.params));
  }
}
