import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { assert, assertAllClose, assertAlmostEquals } from "../testing/asserts.ts";
import { vec } from "../testing/tensors.ts";
import {
  aggregateLoadBalance,
  loadBalance,
  maxTsallis,
  meanEntropy,
  normalizedRenyi,
  normalizedShannon,
  normalizedTsallis,
  tsallisEntropy,
} from "./losses.ts";
import type { SiteAux } from "./types.ts";

await initBackend("cpu");

const scalar = (t: tf.Tensor) => vec(t)[0];

Deno.test("load balance equals N·Σ f·P on a hand-built top-2 routing", () => {
  // 4 tokens, 3 experts, top-2 selections: {0,1}, {0,2}, {0,1}, {1,2} → counts 3, 3, 2; f = count/T.
  const f = tf.tensor1d([3 / 4, 3 / 4, 2 / 4]);
  const P = tf.tensor1d([0.5, 0.3, 0.2]); // mean router probabilities
  // N·Σ f·P = 3 · (0.75·0.5 + 0.75·0.3 + 0.5·0.2) = 3 · 0.7 = 2.1
  assertAlmostEquals(scalar(loadBalance(f, P)), 2.1, 1e-6);
});

Deno.test("a perfectly balanced top-k routing has load balance k (Σf = k) or 1 (Σf = 1)", () => {
  const n = 4;
  const k = 2;
  const P = tf.fill([n], 1 / n) as tf.Tensor1D;
  assertAlmostEquals(scalar(loadBalance(tf.fill([n], k / n) as tf.Tensor1D, P)), k, 1e-6);
  assertAlmostEquals(scalar(loadBalance(tf.fill([n], 1 / n) as tf.Tensor1D, P)), 1, 1e-6);
});

Deno.test("site aggregation: sum of per-module losses, pooled means, and MoLA's per-layer pooling", () => {
  const site = (layer: number, f: number[], P: number[]): SiteAux => ({
    layer,
    nExperts: f.length,
    f: tf.tensor1d(f),
    P: tf.tensor1d(P),
  });
  const a = site(0, [1, 0], [0.8, 0.2]);
  const b = site(0, [0, 1], [0.4, 0.6]);
  const c = site(1, [0.5, 0.5], [0.5, 0.5]);
  // sum: 2(0.8) + 2(0.6) + 2(0.5) = 1.6 + 1.2 + 1.0 = 3.8
  assertAlmostEquals(scalar(aggregateLoadBalance([a, b, c], "sum")), 3.8, 1e-6);
  // pooled: f̄ = (0.5, 0.5), P̄ = (0.5667, 0.4333) → 2·(0.5·0.5667 + 0.5·0.4333) = 1.0
  assertAlmostEquals(scalar(aggregateLoadBalance([a, b, c], "pooled")), 1.0, 1e-6);
  // layer: layer 0 pooled f̄ = (0.5, 0.5), P̄ = (0.6, 0.4) → 1.0; layer 1 → 1.0; total 2.0
  assertAlmostEquals(scalar(aggregateLoadBalance([a, b, c], "layer")), 2.0, 1e-6);
  // pooled sites with different N are pooled per N and summed
  const d = site(1, [1, 0, 0], [0.5, 0.25, 0.25]); // 3·0.5 = 1.5
  assertAlmostEquals(scalar(aggregateLoadBalance([a, b, c, d], "pooled")), 2.5, 1e-6);
});

Deno.test("Tsallis entropy matches a hand computation, with ε added and not renormalised", () => {
  const p = tf.tensor2d([[0.5, 0.3, 0.2]]);
  // q = 2, ε = 0: S = 1 − (0.25 + 0.09 + 0.04) = 0.62; S_max = 1 − 1/3 = 2/3; H̃ = 0.93
  assertAlmostEquals(scalar(tsallisEntropy(p, 2, 0)), 0.62, 1e-6);
  assertAlmostEquals(maxTsallis(3, 2), 2 / 3, 1e-12);
  assertAlmostEquals(scalar(normalizedTsallis(p, 2, 0)), 0.93, 1e-6);
  // q = 1.1, ε = 1e-5, by the formula term by term
  const eps = 1e-5;
  const s = (1 - [0.5, 0.3, 0.2].reduce((acc, v) => acc + (v + eps) ** 1.1, 0)) / 0.1;
  assertAlmostEquals(scalar(tsallisEntropy(p, 1.1, eps)), s, 1e-5);
  assertAlmostEquals(scalar(normalizedTsallis(p, 1.1, eps)), s / ((1 - 3 ** -0.1) / 0.1), 1e-5);
});

Deno.test("as q → 1 the Tsallis entropy tends to Shannon's", () => {
  const p = tf.tensor2d([[0.6, 0.25, 0.1, 0.05]]);
  const shannon = -[0.6, 0.25, 0.1, 0.05].reduce((acc, v) => acc + v * Math.log(v), 0);
  assertAlmostEquals(scalar(tsallisEntropy(p, 1, 0)), shannon, 1e-6);
  const gaps = [0.5, 0.1, 0.01, 0.001].map((d) => Math.abs(scalar(tsallisEntropy(p, 1 + d, 0)) - shannon));
  for (let i = 1; i < gaps.length; i++) assert(gaps[i] < gaps[i - 1], `gap shrinks as q → 1: ${gaps}`);
  assert(gaps.at(-1)! < 2e-3, `q = 1.001 is within 2e-3 of Shannon (${gaps.at(-1)})`);
  assertAlmostEquals(scalar(normalizedTsallis(p, 1.001, 0)), scalar(normalizedTsallis(p, 1, 0)), 2e-3);
});

Deno.test("ε makes H̃ ≈ 1 − 3.4e-4 for a uniform router at q = 1.1, N = 6 (methods.md §6's discontinuity)", () => {
  const u = tf.fill([1, 6], 1 / 6) as tf.Tensor2D;
  const h11 = scalar(normalizedTsallis(u, 1.1, 1e-5));
  // extra ≈ −q·ε·Σ p^{q−1}/(q−1) / S_max = −1.1e-5 · 6·6^{-0.1} / 0.1 / 1.6410 ≈ −3.4e-4
  assertAlmostEquals(h11, 1 - 3.36e-4, 2e-5);
  assertAlmostEquals(scalar(normalizedTsallis(u, 1, 1e-5)), 1, 1e-4);
  assertAlmostEquals(scalar(normalizedTsallis(u, 1.1, 0)), 1, 1e-6);
});

Deno.test("normalised Rényi and Shannon entropies: uniform → 1, one-hot → 0", () => {
  const u = tf.fill([1, 4], 0.25) as tf.Tensor2D;
  const oneHot = tf.tensor2d([[1, 0, 0, 0]]);
  assertAlmostEquals(scalar(normalizedRenyi(u, 2, 0)), 1, 1e-6);
  assertAlmostEquals(scalar(normalizedRenyi(oneHot, 2, 0)), 0, 1e-6);
  assertAllClose(vec(normalizedShannon(tf.concat([u, oneHot]) as tf.Tensor2D)), [1, 0], 1e-6);
  // Rényi of order 2 on (0.5, 0.3, 0.2): −log(0.38)/log 3
  assertAlmostEquals(
    scalar(normalizedRenyi(tf.tensor2d([[0.5, 0.3, 0.2]]), 2, 0)),
    -Math.log(0.38) / Math.log(3),
    1e-6,
  );
});

Deno.test("meanEntropy averages the per-site entropies; no sites gives 0", () => {
  const s = (e: number): SiteAux => ({
    layer: 0,
    nExperts: 2,
    f: tf.tensor1d([0, 0]),
    P: tf.tensor1d([0, 0]),
    entropy: tf.scalar(e),
  });
  assertAlmostEquals(scalar(meanEntropy([s(0.2), s(0.6)])), 0.4, 1e-6);
  assertAlmostEquals(scalar(meanEntropy([])), 0, 0);
});
