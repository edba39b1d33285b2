/**
 * AdamW (Loshchilov & Hutter), as `torch.optim.AdamW` computes it — tfjs ships Adam without decoupled
 * weight decay. Per parameter p with gradient g at step t (1-based):
 *   p ← p − lr·λ·p
 *   m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
 *   p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
 * The moments are plain tensors owned here, so checkpoints can save and restore them exactly.
 */
import * as tf from "@tensorflow/tfjs";
import { FUSED, hasFusedKernels } from "../backend/fused_kernels.ts";

let oneCall = true;

/** Update every parameter with one fused kernel call (the default) or one call per parameter; returns the previous
 * setting. The same arithmetic either way: the step bench's `:unfused` variant times both. */
export function setAdamWOneCall(on: boolean): boolean {
  const was = oneCall;
  oneCall = on;
  return was;
}

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export class AdamW {
  /** Steps taken so far (t of the last update). */
  step = 0;
  readonly m = new Map<string, tf.Tensor>();
  readonly v = new Map<string, tf.Tensor>();

  /** `params` by stable name (checkpoint keys). */
  constructor(readonly params: Map<string, tf.Variable>, readonly opts: AdamWOptions) {
    for (const [name, p] of params) {
      this.m.set(name, tf.keep(tf.zerosLike(p)));
      this.v.set(name, tf.keep(tf.zerosLike(p)));
    }
  }

  /**
   * One update with gradients keyed by parameter name, each scaled by `gradScale` first (gradient clipping's
   * factor); grads are not disposed. One fused kernel for all parameters where the backend has it (blas).
   */
  update(grads: Map<string, tf.Tensor>, lr: number, gradScale = 1): void {
    this.step++;
    const { beta1, beta2, eps, weightDecay } = this.opts;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    // parameters the loss did not reach (e.g. a gate that never opened) keep their state
    const names = [...this.params.keys()].filter((name) => grads.has(name));
    const updated = tf.tidy(() => {
      if (hasFusedKernels() && !oneCall) {
        return names.map((name) =>
          tf.engine().runKernel(FUSED.adamW, {
            p: this.params.get(name)!,
            g: grads.get(name)!,
            m: this.m.get(name)!,
            v: this.v.get(name)!,
          }, { lr, beta1, beta2, eps, weightDecay, c1, c2, scale: gradScale }) as tf.Tensor[]
        );
      }
      if (hasFusedKernels()) { // one kernel for every parameter: [m0, v0, p0, m1, …]
        const inputs: tf.NamedTensorMap = {};
        names.forEach((name, i) => {
          Object.assign(inputs, {
            [`p${i}`]: this.params.get(name)!,
            [`g${i}`]: grads.get(name)!,
            [`m${i}`]: this.m.get(name)!,
            [`v${i}`]: this.v.get(name)!,
          });
        });
        const attrs = { lr, beta1, beta2, eps, weightDecay, c1, c2, scale: gradScale, count: names.length };
        const outs = names.length ? tf.engine().runKernel(FUSED.adamWAll, inputs, attrs) as tf.Tensor[] : [];
        return names.map((_, i) => outs.slice(3 * i, 3 * i + 3));
      }
      return names.map((name) => {
        const [p, raw] = [this.params.get(name)!, grads.get(name)!];
        const g = gradScale === 1 ? raw : raw.mul(gradScale);
        const m = this.m.get(name)!.mul(beta1).add(g.mul(1 - beta1));
        const v = this.v.get(name)!.mul(beta2).add(g.square().mul(1 - beta2));
        const decayed = weightDecay > 0 ? p.mul(1 - lr * weightDecay) : p;
        const next = decayed.sub(m.div(c1).div(v.div(c2).sqrt().add(eps)).mul(lr));
        return [m, v, next];
      });
    });
    names.forEach((name, i) => {
      const [m, v, next] = updated[i];
      this.m.get(name)!.dispose();
      this.v.get(name)!.dispose();
      this.m.set(name, tf.keep(m));
      this.v.set(name, tf.keep(v));
      this.params.get(name)!.assign(next);
      next.dispose();
    });
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
