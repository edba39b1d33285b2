/**
 * The fused ops (blas kernels) against the composed tf ops (cpu): values and gradients, on ordinary and edge
 * shapes (one row, one column, empty, ties, masked rows, the grouped-attention layout).
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { loadBlas } from "../backend/blas_ffi.ts";
import { hasFusedKernels } from "../backend/fused_kernels.ts";
import { assert, assertAllClose, assertEquals } from "../testing/asserts.ts";
import { applyRope, causalSoftmax, crossEntropy, rmsNorm, swiGlu } from "./fused.ts";
import { normalizedTsallis } from "../routers/losses.ts";

const hasBlas = loadBlas() !== null;

function fill(shape: number[], seed: number, scale = 2): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * scale);
}

interface Outcome {
  value: number[];
  grads: number[][];
}

/**
 * f's value and the gradients of Σ f(xs)⊙w with respect to the inputs marked differentiable, on `backend`.
 * Inputs are built fresh on that backend from `make`.
 */
async function outcome(
  backend: "cpu" | "blas",
  make: () => tf.Tensor[],
  diff: number[],
  f: (...xs: tf.Tensor[]) => tf.Tensor,
): Promise<Outcome> {
  await initBackend(backend);
  const xs = make();
  const y = tf.tidy(() => f(...xs));
  const w = tf.tensor(fill(y.shape, 99, 1), y.shape);
  const grads = tf.grads((...d: tf.Tensor[]) => {
    const all = xs.map((x, i) => (diff.includes(i) ? d[diff.indexOf(i)] : x));
    return f(...all).mul(w).sum();
  })(diff.map((i) => xs[i]));
  const r = {
    value: Array.from(await y.data()),
    grads: await Promise.all(grads.map(async (g) => Array.from(await g.data()))),
  };
  tf.dispose([...xs, y, w, ...grads]);
  return r;
}

async function agree(
  what: string,
  make: () => tf.Tensor[],
  diff: number[],
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  tol = { atol: 1e-6, rtol: 1e-5 },
) {
  const want = await outcome("cpu", make, diff, f);
  const got = await outcome("blas", make, diff, f);
  assertAllClose(got.value, want.value, tol.atol, tol.rtol, `${what}: value`);
  assertEquals(got.grads.length, want.grads.length);
  for (const [i, g] of got.grads.entries()) assertAllClose(g, want.grads[i], tol.atol, tol.rtol, `${what}: grad ${i}`);
}

const t = (shape: number[], seed: number, scale?: number) => tf.tensor(fill(shape, seed, scale), shape);

Deno.test({
  name: "fused kernels: blas has them, cpu keeps the composed ops",
  ignore: !hasBlas,
  fn: async () => {
    await initBackend("blas");
    assert(hasFusedKernels());
    await initBackend("cpu");
    assert(!hasFusedKernels());
  },
});

Deno.test({
  name: "fused rmsNorm equals the composed one (value, dx, dg) on ordinary and edge shapes",
  ignore: !hasBlas,
  fn: async () => {
    for (const [T, d] of [[7, 16], [1, 1], [3, 1], [1, 33], [0, 8]]) {
      await agree(
        `rmsNorm ${T}×${d}`,
        () => [t([T, d], 1), t([d], 2)],
        [0, 1],
        (x, g) => rmsNorm(x as tf.Tensor2D, g, 1e-5),
      );
    }
  },
});

Deno.test({
  name: "fused swiGlu equals silu(a)⊙b (value, da, db), saturated inputs included",
  ignore: !hasBlas,
  fn: async () => {
    for (const shape of [[5, 9], [1, 1], [0, 4]]) {
      await agree(
        `swiGlu ${shape}`,
        () => [t(shape, 3, 8), t(shape, 4)],
        [0, 1],
        (a, b) => swiGlu(a as tf.Tensor2D, b as tf.Tensor2D),
      );
    }
    await agree(
      "swiGlu ±60",
      () => [tf.tensor2d([[-60, 60, 0, -0.5]]), t([1, 4], 5)],
      [0, 1],
      (a, b) => swiGlu(a as tf.Tensor2D, b as tf.Tensor2D),
    );
  },
});

Deno.test({
  name: "fused RoPE equals x·cos + (x·R)·sin, and its gradient is the transposed rotation",
  ignore: !hasBlas,
  fn: async () => {
    for (const [T, heads, hd] of [[6, 3, 8], [1, 1, 2], [4, 2, 4]]) {
      const D = heads * hd;
      const make = () => {
        const rot = new Float32Array(D * D);
        for (let h = 0; h < heads; h++) {
          for (let i = 0; i < hd / 2; i++) {
            const lo = h * hd + i;
            rot[(lo + hd / 2) * D + lo] = -1;
            rot[lo * D + lo + hd / 2] = 1;
          }
        }
        return [t([T, D], 6), t([T, D], 7, 1), t([T, D], 8, 1), tf.tensor2d(rot, [D, D])];
      };
      await agree(`rope T${T} ${heads}×${hd}`, make, [0], (x, cos, sin, rotate) =>
        applyRope(x as tf.Tensor2D, {
          cos: cos as tf.Tensor2D,
          sin: sin as tf.Tensor2D,
          rotate: rotate as tf.Tensor2D,
        }, hd));
    }
  },
});

/** The additive causal mask of the grouped layout [G, rep·S, S]: row i is query position i mod S. */
function causalMask(G: number, rows: number, S: number): tf.Tensor3D {
  const m = new Float32Array(G * rows * S);
  for (let g = 0; g < G; g++) {
    for (let i = 0; i < rows; i++) m.fill(-1e9, (g * rows + i) * S + (i % S) + 1, (g * rows + i + 1) * S);
  }
  return tf.tensor3d(m, [G, rows, S]);
}

Deno.test({
  name: "fused causal softmax equals softmax(scale·s + causal) in the grouped layout, ties included",
  ignore: !hasBlas,
  fn: async () => {
    for (const [G, rep, S] of [[3, 2, 5], [1, 1, 1], [2, 1, 4]]) {
      await agree(`causal softmax ${G}×${rep}×${S}`, () => [t([G, rep * S, S], 9, 3), causalMask(G, rep * S, S)], [0], (
        s,
        mask,
      ) => causalSoftmax(s as tf.Tensor3D, 0.35, mask as tf.Tensor3D));
    }
    await agree(
      "causal softmax ties",
      () => [tf.ones([1, 4, 4]), causalMask(1, 4, 4)],
      [0],
      (s, mask) => causalSoftmax(s as tf.Tensor3D, 1, mask as tf.Tensor3D),
    );
  },
});

Deno.test({
  name: "fused cross-entropy equals the masked mean of logsumexp − z[target] (value and dz)",
  ignore: !hasBlas,
  fn: async () => {
    const cases: [string, number, number, number[]][] = [
      ["ordinary", 6, 11, [1, 1, 0, 1, 1, 0]],
      ["one row, two classes", 1, 2, [1]],
      ["all masked", 3, 5, [0, 0, 0]],
      ["wide logits", 4, 7, [1, 1, 1, 1]],
    ];
    for (const [what, T, V, mask] of cases) {
      const make = () => [
        t([T, V], 10, what === "wide logits" ? 40 : 3),
        tf.tensor1d(Array.from({ length: T }, (_, i) => (i * 7) % V), "int32"),
        tf.tensor1d(mask),
      ];
      await agree(
        `cross-entropy ${what}`,
        make,
        [0],
        (z, y, m) => crossEntropy(z as tf.Tensor2D, y as tf.Tensor1D, m as tf.Tensor1D),
      );
    }
    await agree("cross-entropy ties", () => [tf.zeros([2, 4]), tf.tensor1d([0, 3], "int32"), tf.ones([2])], [0], (
      z,
      y,
      m,
    ) => crossEntropy(z as tf.Tensor2D, y as tf.Tensor1D, m as tf.Tensor1D));
  },
});

Deno.test({
  name: "fused Tsallis entropy equals the composed H̃ (value and dp) for q ∈ {0.5, 1, 1.1, 2}, one-hot and uniform rows",
  ignore: !hasBlas,
  fn: async () => {
    const probs = () => {
      const z = t([6, 8], 11, 3);
      const rows = tf.concat([tf.softmax(z), tf.oneHot([3], 8).cast("float32"), tf.fill([1, 8], 1 / 8)]);
      z.dispose();
      return [rows];
    };
    for (const q of [0.5, 1, 1.1, 2]) {
      await agree(`tsallis q=${q}`, probs, [0], (p) => normalizedTsallis(p as tf.Tensor2D, q, 1e-5), {
        atol: 2e-6,
        rtol: 2e-5,
      });
    }
  },
});
