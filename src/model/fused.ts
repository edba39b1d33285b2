/**
 * The Llama block's element-wise pieces as differentiable ops: RMSNorm, SwiGLU, RoPE, causal attention softmax
 * and the next-token cross-entropy. Where the active backend has the fused kernels (`blas`,
 * `src/backend/fused_kernels.ts`) each is one forward and one backward kernel; elsewhere the same equation runs
 * as composed tf ops and tfjs derives the gradient.
 */
import * as tf from "@tensorflow/tfjs";
import { FUSED, hasFusedKernels } from "../backend/fused_kernels.ts";

const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown> = {}) =>
  tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap);

type Saved = (tensors: tf.Tensor[]) => void;

/** RMSNorm: x · rsqrt(mean(x²) + ε) · g, per row of x [T, d]. */
export function rmsNorm(x: tf.Tensor2D, gain: tf.Tensor, eps: number): tf.Tensor2D {
  if (!hasFusedKernels()) {
    return tf.tidy(() => x.mul(tf.rsqrt(x.square().mean(1, true).add(eps))).mul(gain) as tf.Tensor2D);
  }
  const op = tf.customGrad((...args: unknown[]) => {
    const [xi, g, save] = args as [tf.Tensor, tf.Tensor, Saved];
    const [y, r] = run(FUSED.rmsNorm, { x: xi, g }, { eps }) as tf.Tensor[];
    save([xi, g, r]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, gs, rs] = saved;
        return run(FUSED.rmsNormGrad, { dy: dy as tf.Tensor, x: xs, g: gs, r: rs }) as tf.Tensor[];
      },
    };
  });
  return op(x, gain) as tf.Tensor2D;
}

/** SwiGLU's gating: silu(a) ⊙ b (a = W_gate h, b = W_up h). */
export function swiGlu(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!hasFusedKernels()) return tf.tidy(() => a.mul(tf.sigmoid(a)).mul(b) as tf.Tensor2D);
  const op = tf.customGrad((...args: unknown[]) => {
    const [ai, bi, save] = args as [tf.Tensor, tf.Tensor, Saved];
    const [y, s] = run(FUSED.swiGlu, { a: ai, b: bi }) as tf.Tensor[];
    save([ai, bi, s]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        run(FUSED.swiGluGrad, { dy: dy as tf.Tensor, a: saved[0], b: saved[1], s: saved[2] }) as tf.Tensor[],
    };
  });
  return op(a, b) as tf.Tensor2D;
}

/** RoPE tables laid out as x: [T, heads·hd] each, and the rotate_half matrix R the composed path uses. */
export interface RopeTables {
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  /** [heads·hd, heads·hd]: x·R = rotate_half(x) per head. */
  rotate: tf.Tensor2D;
}

/**
 * RoPE on the token-major layout x [T, heads·hd]: x·cos + rotate_half(x)·sin (rotate_half per head: (x₁, x₂) ↦
 * (−x₂, x₁)). Composed, rotate_half is one matmul by R; fused, one pass (its gradient is the transposed pass).
 */
export function applyRope(x: tf.Tensor2D, tables: RopeTables, headDim: number): tf.Tensor2D {
  if (!hasFusedKernels()) {
    return tf.tidy(() => x.mul(tables.cos).add(tf.matMul(x, tables.rotate).mul(tables.sin)) as tf.Tensor2D);
  }
  const { cos, sin } = tables; // kept by the model's layout cache
  const op = tf.customGrad((...args: unknown[]) => {
    const xi = args[0] as tf.Tensor;
    return {
      value: run(FUSED.rope, { x: xi, cos, sin }, { headDim, inverse: false }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) =>
        run(FUSED.rope, { x: dy as tf.Tensor, cos, sin }, { headDim, inverse: true }) as tf.Tensor,
    };
  });
  return op(x) as tf.Tensor2D;
}

/**
 * Attention weights softmax(scale·s + causal) for scores s [G, R, S] whose row i is query position i mod S
 * (grouped-query layout); `causal` [G, R, S] is the additive mask (0 / −1e9) the composed path adds.
 */
export function causalSoftmax(scores: tf.Tensor3D, scale: number, causal: tf.Tensor3D): tf.Tensor3D {
  if (!hasFusedKernels()) return tf.tidy(() => tf.softmax(scores.mul(scale).add(causal)) as tf.Tensor3D);
  const op = tf.customGrad((...args: unknown[]) => {
    const [s, save] = args as [tf.Tensor, Saved];
    const p = run(FUSED.causalSoftmax, { x: s }, { scale }) as tf.Tensor;
    save([p]);
    return {
      value: p,
      gradFunc: (dp: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        run(FUSED.softmaxGrad, { dp: dp as tf.Tensor, p: saved[0] }, { scale }) as tf.Tensor,
    };
  });
  return op(scores) as tf.Tensor3D;
}

/**
 * Mean next-token cross-entropy over positions where `lossMask` [T] is 1:
 * Σ mask·(logsumexp(z) − z[target]) / max(Σ mask, 1). Composed, z[target] is read through a one-hot product
 * (gather with batchDims crashes tfjs-wasm and its gradient is missing there); fused, one pass per row forward
 * that keeps softmax(z) and one backward (softmax − one-hot), never materialising the one-hot matrix.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, lossMask: tf.Tensor1D): tf.Scalar {
  if (!hasFusedKernels()) {
    return tf.tidy(() => {
      const picked = logits.mul(tf.oneHot(targets, logits.shape[1])).sum(1); // z[target], [T]
      const nll = tf.logSumExp(logits, 1).sub(picked); // [T]
      return nll.mul(lossMask).sum().div(lossMask.sum().maximum(1)) as tf.Scalar;
    });
  }
  const op = tf.customGrad((...args: unknown[]) => {
    const [z, y, m, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, Saved];
    const [loss, probs] = run(FUSED.crossEntropy, { logits: z, targets: y, mask: m }) as tf.Tensor[];
    save([probs, y, m]);
    return {
      value: loss,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [ps, ys, ms] = saved;
        const dz = run(FUSED.crossEntropyGrad, { dy: dy as tf.Tensor, probs: ps, targets: ys, mask: ms });
        return [dz as tf.Tensor, tf.zerosLike(ys), tf.zerosLike(ms)];
      },
    };
  });
  return op(logits, targets.cast("int32"), lossMask) as tf.Scalar;
}

/**
 * softmax over the last axis of z [T, N] (a router's gate): tfjs's Softmax forward, and one backward kernel
 * dz = p ⊙ (dp − Σ_j dp⊙p) where the backend has it (blas) instead of tfjs's five-op gradient.
 */
export function rowSoftmax(z: tf.Tensor2D): tf.Tensor2D {
  if (!hasFusedKernels()) return tf.softmax(z) as tf.Tensor2D;
  const op = tf.customGrad((...args: unknown[]) => {
    const [zi, save] = args as [tf.Tensor, Saved];
    const p = tf.softmax(zi);
    save([p]);
    return {
      value: p,
      gradFunc: (dp: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        run(FUSED.softmaxGrad, { dp: dp as tf.Tensor, p: saved[0] }, { scale: 1 }) as tf.Tensor,
    };
  });
  return op(z) as tf.Tensor2D;
}
