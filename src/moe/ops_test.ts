import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { loadBlas } from "../backend/blas_ffi.ts";
import { assertAllClose, assertBitIdentical, assertEquals } from "../testing/asserts.ts";
import { onBlasNativeAndJs } from "../testing/blas.ts";
import { rowSoftmax } from "../model/fused.ts";
import { mat, randn, Rng, vec } from "../testing/tensors.ts";
import {
  adaMoleRoute,
  cumulativeDescending,
  descendingRank,
  nonDiff,
  renormalize,
  tokenMean,
  topKMask,
  topKRoute,
} from "./ops.ts";

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

Deno.test({
  name: "topKMask and renormalize: blas's kernels equal the composed ops (ties, a zero row, gradients)",
  ignore: loadBlas() === null,
  fn: async () => {
    const rows = [[0.1, 0.4, 0.4, 0.1], [0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.15, 0.05], [0, 0, 0, 0]];
    const dg = [[1, -2, 0.5, 3], [0.1, 0.2, 0.3, 0.4], [-1, 1, -1, 1], [1, -1, 2, 0.5]];
    const run = async (backend: "cpu" | "blas") => {
      await initBackend(backend);
      const out: number[][] = [];
      for (const k of [1, 2, 3]) {
        const p = tf.tensor2d(rows);
        const m = topKMask(p, k);
        out.push(Array.from(await m.data()));
        for (const guard of [false, true]) {
          const w = (guard ? p : p.add(0.01)) as tf.Tensor2D; // the unguarded form needs a non-zero sum
          const f = (x: tf.Tensor) => renormalize(x as tf.Tensor2D, m, guard).mul(tf.tensor2d(dg)).sum() as tf.Scalar;
          const g = renormalize(w, m, guard);
          const grad = tf.grad(f)(w);
          out.push(Array.from(await g.data()), Array.from(await grad.data()));
          tf.dispose([g, grad, ...(guard ? [] : [w])]);
        }
        tf.dispose([p, m]);
      }
      return out;
    };
    const want = await run("cpu");
    const got = await run("blas");
    await initBackend("cpu");
    // gradients are O(1–10): 1e-6 absolute is float32 rounding of the composed chain (its zeros come out ±5e-7)
    for (const [i, w] of want.entries()) assertAllClose(got[i], w, 1e-6, 1e-6, `output ${i}`);
  },
});

/** Outputs and logit gradient of top-k routing, fused (topKRoute) or composed from the separate ops, as arrays. */
function routeOnce(z: tf.Tensor2D, k: number, means: boolean, fused: boolean, rng: Rng): number[][] {
  const [T, N] = z.shape;
  const wg = randn(rng, [T, N]); // upstream gradients of g and (with means) of P
  const wP = randn(rng, [N]);
  const parts: tf.Tensor[] = [];
  const route = (x: tf.Tensor2D) => {
    if (fused) return topKRoute(x, k, means);
    const p = rowSoftmax(x);
    const active = topKMask(p, k);
    const g = renormalize(p, active, false);
    if (!means) return { p, active, g };
    const f = tokenMean(active) as tf.Tensor1D;
    return { p, active, g, f, P: tokenMean(p) as tf.Tensor1D };
  };
  const dz = tf.grad((x: tf.Tensor) => {
    const r = route(x as tf.Tensor2D);
    parts.push(...[r.p, r.active, r.g, r.P, r.f].filter((t) => t !== undefined).map((t) => tf.keep(t!.clone())));
    const loss = r.g.mul(wg).sum();
    return means ? loss.add(r.P!.mul(wP).sum()) : loss;
  })(z);
  const out = [...parts, dz].map((t) => Array.from(t.dataSync()));
  tf.dispose([...parts, dz, wg, wP]);
  return out;
}

Deno.test({
  name: "topKRoute (one fused kernel each way on blas) is bit-identical to the composed ops, native and JS kernels",
  ignore: loadBlas() === null,
  async fn() {
    await initBackend("blas");
    const cases: [string, tf.Tensor2D, number][] = [
      ["random", randn(new Rng(3), [37, 8], 2) as tf.Tensor2D, 2],
      ["ties", tf.tidy(() => tf.randomUniform([64, 6], 0, 3, "int32", 5).cast("float32")) as tf.Tensor2D, 2],
      ["k = N", randn(new Rng(4), [9, 4]) as tf.Tensor2D, 4],
      ["one token, one expert", tf.tensor2d([[0.3]]), 1],
      ["large logits", randn(new Rng(6), [16, 8], 40) as tf.Tensor2D, 3],
    ];
    await onBlasNativeAndJs((native) => {
      for (const [what, z, k] of cases) {
        for (const means of [true, false]) {
          const fused = routeOnce(z, k, means, true, new Rng(9));
          const composed = routeOnce(z, k, means, false, new Rng(9));
          assertBitIdentical(fused, composed, `${what}, means ${means}, native ${native}, fused vs composed`);
        }
      }
    });
    tf.dispose(cases.map((c) => c[1]));
  },
});

/** Every output and the gradients of z and τ of an AdaMoLE routing step, fused or composed, as arrays. */
function adaMoleOnce(z: tf.Tensor2D, tau: tf.Tensor2D, adapted: boolean, means: boolean, fused: boolean): number[][] {
  const rng = new Rng(9);
  const [T, N] = z.shape;
  const [wg, wP, wa] = [randn(rng, [T, N]), randn(rng, [N]), randn(rng, [T, N])]; // upstream gradients
  const parts: tf.Tensor[] = [];
  const route = (x: tf.Tensor2D, t: tf.Tensor2D) => {
    if (fused) return adaMoleRoute(x, t, adapted, means);
    const p = rowSoftmax(x);
    const a = p.sub(t) as tf.Tensor2D;
    const active = nonDiff(a, (v) => tf.greaterEqual(v, 0).cast("float32")) as tf.Tensor2D;
    const g = renormalize(a, active, true);
    if (!means) return { p, a, active, g };
    const f = tokenMean(active) as tf.Tensor1D;
    return { p, a, active, g, f, P: tokenMean(adapted ? a : p) as tf.Tensor1D };
  };
  const grads = tf.grads((x: tf.Tensor, t: tf.Tensor) => {
    const r = route(x as tf.Tensor2D, t as tf.Tensor2D);
    parts.push(...[r.p, r.a, r.active, r.g, r.P, r.f].filter((v) => v !== undefined).map((v) => tf.keep(v!.clone())));
    let loss = r.g.mul(wg).sum();
    if (means) loss = loss.add(r.P!.mul(wP).sum());
    return loss.add(r.a.mul(wa).sum()); // a consumer of a after the routing (a padding-masked mean, say)
  })([z, tau]);
  const out = [...parts, ...grads].map((t) => Array.from(t.dataSync()));
  tf.dispose([...parts, ...grads, wg, wP, wa]);
  return out;
}

Deno.test({
  name: "adaMoleRoute (one fused kernel each way on blas) is bit-identical to the composed ops, native and JS kernels",
  ignore: loadBlas() === null,
  async fn() {
    await initBackend("blas");
    const cases: [string, tf.Tensor2D, tf.Tensor2D][] = [
      ["learned τ", randn(new Rng(3), [37, 8], 2) as tf.Tensor2D, tf.fill([37, 1], 0.125) as tf.Tensor2D],
      ["τ at the probabilities", tf.zeros([6, 4]) as tf.Tensor2D, tf.fill([6, 1], 0.25) as tf.Tensor2D],
      ["nothing passes", randn(new Rng(4), [9, 4]) as tf.Tensor2D, tf.fill([9, 1], 1) as tf.Tensor2D],
      ["τ = 0", randn(new Rng(5), [5, 8], 30) as tf.Tensor2D, tf.zeros([5, 1]) as tf.Tensor2D],
      [
        "random τ",
        randn(new Rng(6), [16, 8]) as tf.Tensor2D,
        tf.randomUniform([16, 1], 0, 0.2, "float32", 2) as tf.Tensor2D,
      ],
    ];
    await onBlasNativeAndJs((native) => {
      for (const [what, z, tau] of cases) {
        for (const adapted of [true, false]) {
          for (const means of [true, false]) {
            const fused = adaMoleOnce(z, tau, adapted, means, true);
            const composed = adaMoleOnce(z, tau, adapted, means, false);
            const what2 = `${what}, adapted ${adapted}, means ${means}, native ${native}, fused vs composed`;
            assertBitIdentical(fused, composed, what2);
          }
        }
      }
    });
    tf.dispose(cases.flatMap((c) => [c[1], c[2]]));
  },
});
