import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { assertAllClose, assertEquals } from "../testing/asserts.ts";
import { mat, vec } from "../testing/tensors.ts";
import { cumulativeDescending, descendingRank, nonDiff, tokenMean, topKMask } from "./ops.ts";

await initBackend("cpu");

Deno.test("descendingRank ranks each row from 0 (largest) and breaks ties by the lower index", () => {
  const p = tf.tensor2d([[0.1, 0.5, 0.2, 0.2], [0.25, 0.25, 0.25, 0.25]]);
  assertEquals(mat(descendingRank(p)), [[3, 0, 1, 2], [0, 1, 2, 3]]);
});

Deno.test("topKMask keeps exactly k per row, ties to the lower index", () => {
  const p = tf.tensor2d([[0.1, 0.5, 0.2, 0.2], [0.25, 0.25, 0.25, 0.25]]);
  assertEquals(mat(topKMask(p, 2)), [[0, 1, 1, 0], [1, 1, 0, 0]]);
  assertEquals(mat(topKMask(p, 4)), [[1, 1, 1, 1], [1, 1, 1, 1]]);
});

Deno.test("topKMask's TopK path (cpu, blas) equals the rank rule on random rows with many ties", () => {
  // Values from {0, 0.25, 0.5, 0.75}: most rows of 8 have ties at the k-th place.
  const p = tf.tidy(() => tf.randomUniform([512, 8], 0, 4, "int32", 11).cast("float32").div(4)) as tf.Tensor2D;
  for (const k of [1, 2, 3, 7, 8]) {
    const byRank = tf.less(descendingRank(p), k).cast("float32");
    assertEquals(mat(topKMask(p, k)), mat(byRank as tf.Tensor2D), `k = ${k}`);
  }
});

Deno.test("cumulativeDescending gives each entry the mass ranked at or above it", () => {
  const p = tf.tensor2d([[0.05, 0.5, 0.15, 0.3]]);
  // sorted: 0.5 (i1), 0.3 (i3), 0.15 (i2), 0.05 (i0) → c = 0.5, 0.8, 0.95, 1.0
  assertAllClose(vec(cumulativeDescending(p)), [1.0, 0.5, 0.95, 0.8], 1e-6);
});

Deno.test("nonDiff blocks the gradient of a selection but not of the weights it multiplies", () => {
  const w = tf.variable(tf.tensor1d([0.3, -0.1, 0.5]));
  const { grads } = tf.variableGrads(() => {
    const mask = nonDiff(w, (x) => tf.topk(x, 2).values.min().lessEqual(x).cast("float32")); // topk: no tfjs gradient
    return w.mul(mask).mul(w).sum() as tf.Scalar; // Σ_{i∈S} w_i²
  });
  assertAllClose(vec(Object.values(grads)[0]), [0.6, 0, 1.0], 1e-6); // d/dw = 2w on kept entries, 0 elsewhere
});

Deno.test("tokenMean averages over rows, or only over rows with mask 1 (with an optional ε)", () => {
  const v = tf.tensor2d([[1, 2], [3, 4], [100, 100]]);
  assertAllClose(vec(tokenMean(v)), [104 / 3, 106 / 3], 1e-4);
  const mask = tf.tensor1d([1, 1, 0]);
  assertAllClose(vec(tokenMean(v, mask)), [2, 3], 1e-6);
  assertAllClose(vec(tokenMean(v, mask, 1e-8)), [4 / (2 + 1e-8), 6 / (2 + 1e-8)], 1e-6);
});
