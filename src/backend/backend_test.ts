import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../testing/asserts.ts";
import {
  BackendError,
  initBackend,
  parseBackendChoice,
  resolveAuto,
  TENSORFLOW_INSTALL_HINT,
  TENSORFLOW_PACKAGES,
} from "./backend.ts";
import { loadBlas } from "./blas_ffi.ts";

/** Tolerance for comparing a backend's float32 results with cpu's: |a − b| ≤ ATOL + RTOL·|b|. */
const ATOL = 1e-5;
const RTOL = 1e-4;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  assertEquals(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const tol = ATOL + RTOL * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`${what}[${i}]: ${actual[i]} vs ${expected[i]} (tolerance ${tol.toExponential(1)})`);
    }
  }
}

/** A deterministic pseudo-random Float32Array (LCG), so every backend sees identical inputs. */
function fixture(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 0.8;
  }
  return out;
}

/**
 * One Adam step on a small two-layer network with a fused (bias + relu) matmul, a batched matmul and a
 * softmax cross-entropy loss. Returns the loss, every gradient and the updated weights.
 */
async function gradientStep(): Promise<Record<string, Float32Array>> {
  const [B, D, H, C] = [6, 12, 16, 5];
  const w1 = tf.variable(tf.tensor2d(fixture(D * H, 1), [D, H]), true, "w1");
  const b1 = tf.variable(tf.tensor1d(fixture(H, 2)), true, "b1");
  const w2 = tf.variable(tf.tensor3d(fixture(2 * H * C, 3), [2, H, C]), true, "w2");
  const x = tf.tensor2d(fixture(B * D, 4), [B, D]);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0], "int32"), C);
  const opt: tf.Optimizer = tf.train.adam(0.01);
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const h = tf.fused.matMul({ a: x, b: w1, bias: b1, activation: "relu" }); // [B, H]
      const hh = tf.stack([h, h.mul(0.5)]); // [2, B, H]
      const logits = tf.matMul(hh, w2).sum(0); // [2, B, C] → [B, C]
      const t = tf.matMul(x, w1, false, false).matMul(w1, false, true); // transposeB path, [B, D]
      return tf.losses.softmaxCrossEntropy(labels, logits).add(t.square().mean().mul(0.1)) as tf.Scalar;
    })
  );
  opt.applyGradients(grads);
  const out: Record<string, Float32Array> = { loss: (await value.data()) as Float32Array };
  for (const [k, g] of Object.entries(grads)) out[`grad_${k}`] = (await g.data()) as Float32Array;
  for (const v of [w1, b1, w2]) out[`new_${v.name}`] = (await v.data()) as Float32Array;
  tf.dispose([value, x, labels, w1, b1, w2, ...Object.values(grads)]);
  opt.dispose();
  return out;
}

const hasAdapter = Boolean(await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter().catch(() => null));
const hasBlas = loadBlas() !== null;

await initBackend("cpu");
const reference = await gradientStep();

for (
  const [name, available] of [["wasm", true], ["blas", hasBlas], ["webgpu", hasAdapter]] as const
) {
  Deno.test({
    name: `the same Adam step on ${name} matches cpu (|Δ| ≤ 1e-5 + 1e-4·|cpu|)`,
    ignore: !available,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const info = await initBackend(name);
      assertEquals(tf.getBackend(), name);
      assertEquals(info.name, name);
      const got = await gradientStep();
      assertEquals(Object.keys(got).sort(), Object.keys(reference).sort());
      for (const k of Object.keys(reference)) assertClose(got[k], reference[k], `${name} ${k}`);
      assert(reference.loss[0] > 0.5, "the reference loss is a real cross-entropy value");
      await initBackend("cpu");
    },
  });
}

Deno.test("the cpu reference step is deterministic", async () => {
  await initBackend("cpu");
  const again = await gradientStep();
  for (const k of Object.keys(reference)) assertEquals(Array.from(again[k]), Array.from(reference[k]), k);
});

/** Naive row-major batched matmul with numpy broadcasting over the batch dims: an independent reference. */
function naiveMatMul(av: Float32Array, sa: number[], bv: Float32Array, sb: number[], ta: boolean, tb: boolean) {
  const [ra, rb] = [sa.length, sb.length];
  const M = ta ? sa[ra - 1] : sa[ra - 2];
  const K = ta ? sa[ra - 2] : sa[ra - 1];
  const N = tb ? sb[rb - 2] : sb[rb - 1];
  const da = sa.slice(0, -2);
  const db = sb.slice(0, -2);
  const rank = Math.max(da.length, db.length);
  const pa = [...Array(rank - da.length).fill(1), ...da];
  const pb = [...Array(rank - db.length).fill(1), ...db];
  const outDims = pa.map((d, i) => Math.max(d, pb[i]));
  const batch = outDims.reduce((x, y) => x * y, 1);
  const out = new Float64Array(batch * M * N);
  for (let bi = 0; bi < batch; bi++) {
    let [ia, ib, rem, stA, stB] = [0, 0, bi, 1, 1];
    for (let d = rank - 1; d >= 0; d--) {
      const c = rem % outDims[d];
      rem = Math.floor(rem / outDims[d]);
      if (pa[d] !== 1) ia += c * stA;
      if (pb[d] !== 1) ib += c * stB;
      stA *= pa[d];
      stB *= pb[d];
    }
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const x = av[ia * M * K + (ta ? k * M + i : i * K + k)];
          const y = bv[ib * K * N + (tb ? j * K + k : k * N + j)];
          sum += x * y;
        }
        out[bi * M * N + i * N + j] = sum;
      }
    }
  }
  return { shape: [...outDims, M, N], data: out };
}

Deno.test({
  name: "blas BatchMatMul matches a naive loop for transposes, batches and broadcast batches",
  ignore: !hasBlas,
  fn: async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[7, 5], [5, 3], false, false],
      [[5, 7], [5, 3], true, false],
      [[7, 5], [3, 5], false, true],
      [[5, 7], [3, 5], true, true],
      [[4, 7, 5], [4, 5, 3], false, false],
      [[4, 5, 7], [1, 3, 5], true, true],
      [[2, 1, 7, 5], [1, 3, 5, 3], false, false], // tfjs's own cpu kernel gets this one wrong
      [[1, 7, 5], [4, 5, 3], false, false],
      [[3, 7, 5], [5, 3], false, false],
      [[0, 5], [5, 3], false, false],
      [[4, 0], [0, 3], false, false],
    ];
    await initBackend("blas");
    for (const [sa, sb, ta, tb] of cases) {
      const av = fixture(sa.reduce((a, b) => a * b, 1), 7);
      const bv = fixture(sb.reduce((a, b) => a * b, 1), 8);
      const want = naiveMatMul(av, sa, bv, sb, ta, tb);
      const got = tf.tidy(() => tf.matMul(tf.tensor(av, sa), tf.tensor(bv, sb), ta, tb));
      const what = `${sa}${ta ? "ᵀ" : ""}×${sb}${tb ? "ᵀ" : ""}`;
      assertEquals(got.shape, want.shape, `shape for ${what}`);
      assertClose(got.dataSync(), want.data, what);
      got.dispose();
    }
    await initBackend("cpu");
  },
});

Deno.test({
  name: "blas _FusedMatMul applies bias and each activation like cpu",
  ignore: !hasBlas,
  fn: async () => {
    const run = () =>
      tf.tidy(() => {
        const a = tf.tensor2d(fixture(6 * 4, 11), [6, 4]);
        const b = tf.tensor2d(fixture(4 * 3, 12), [4, 3]);
        const bias = tf.tensor1d([0.1, -0.2, 0.3]);
        const acts = ["linear", "relu", "relu6", "elu", "sigmoid", "leakyrelu"] as const;
        return tf.concat(acts.map((activation) => tf.fused.matMul({ a, b, bias, activation, leakyreluAlpha: 0.3 })));
      });
    await initBackend("cpu");
    const want = run();
    const wantData = want.dataSync().slice();
    want.dispose();
    await initBackend("blas");
    const got = run();
    assertClose(got.dataSync(), wantData, "fused");
    got.dispose();
    await initBackend("cpu");
  },
});

Deno.test({
  name: "on blas, matmuls and their gradients go through cblas_sgemm (y = x·W and dW: 2 calls)",
  ignore: !hasBlas,
  fn: async () => {
    await initBackend("blas");
    const blas = loadBlas()!;
    const x = tf.tensor2d(fixture(8 * 4, 21), [8, 4]);
    const w = tf.variable(tf.tensor2d(fixture(4 * 3, 22), [4, 3]));
    const before = blas.calls;
    const { value, grads } = tf.variableGrads(() => tf.matMul(x, w).square().sum() as tf.Scalar, [w]);
    // forward x·W, then dW = xᵀ·dy (tfjs prunes dx: x is not a variable).
    assertEquals(blas.calls - before, 2);
    tf.dispose([x, w, value, ...Object.values(grads)]);
    await initBackend("cpu");
    const cpuBefore = blas.calls;
    tf.tidy(() => tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])));
    assertEquals(blas.calls, cpuBefore, "the cpu backend never calls BLAS");
  },
});

Deno.test("tensorflow backend without tfjs-node fails with one line telling how to install it", async () => {
  const saved = [...TENSORFLOW_PACKAGES];
  TENSORFLOW_PACKAGES.splice(
    0,
    saved.length,
    "@tensorflow/tfjs-node-gpu-not-installed",
    "@tensorflow/tfjs-node-not-installed",
  );
  try {
    const err = await assertRejects(() => initBackend("tensorflow"), BackendError);
    assertEquals(err.message, TENSORFLOW_INSTALL_HINT);
    assert(!err.message.includes("\n"), "one line");
    assert(err.message.includes("deno add --allow-scripts npm:@tensorflow/tfjs-node-gpu@4.22.0"));
  } finally {
    TENSORFLOW_PACKAGES.splice(0, TENSORFLOW_PACKAGES.length, ...saved);
  }
  await initBackend("cpu");
});

Deno.test("an unknown backend name is rejected with the allowed values", () => {
  const err = (() => {
    try {
      parseBackendChoice("cuda");
    } catch (e) {
      return e as Error;
    }
  })();
  assert(err instanceof BackendError);
  assertEquals(err.message, "--backend: unknown backend 'cuda'; allowed: cpu|wasm|blas|webgpu|tensorflow|auto");
});

Deno.test("auto prefers blas on a machine with BLAS and only a software GPU adapter", async () => {
  const picked = await resolveAuto();
  if (hasBlas) assertEquals(picked, "blas");
  else assert(["wasm", "cpu", "webgpu"].includes(picked));
  const info = await initBackend("auto");
  assertEquals(info.requested, "auto");
  assertEquals(info.name, picked);
  assertAlmostEquals(tf.tensor1d([1, 2]).sum().dataSync()[0], 3);
  await initBackend("cpu");
});
