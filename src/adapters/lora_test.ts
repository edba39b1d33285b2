import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { loadBlas } from "../backend/blas_ffi.ts";
import { assert, assertAllClose, assertEquals, assertNotEquals } from "../testing/asserts.ts";
import { baseOutput, output, testSite } from "../testing/sites.ts";
import { mat, randn, Rng, vec } from "../testing/tensors.ts";
import { expertScale, LoraBank } from "./lora.ts";

await initBackend("cpu");

Deno.test("LoRA equals W0·x + (α/r)·B·A·x computed independently", () => {
  const t = testSite("lora", { rank: 4, alpha: 12 });
  const A = mat(t.site.bank!.A.squeeze([0])); // [r, d_in]
  const B = mat(t.site.bank!.Bt.squeeze([0]).transpose()); // [d_out, r]
  const W0 = mat(t.weight);
  const want = mat(t.x).map((x) => {
    const ax = A.map((row) => row.reduce((s, v, j) => s + v * x[j], 0));
    return W0.map((row, o) =>
      row.reduce((s, v, j) => s + v * x[j], 0) + (12 / 4) * B[o].reduce((s, v, k) => s + v * ax[k], 0)
    );
  });
  assertAllClose(vec(output(t)), want.flat(), 1e-5);
});

Deno.test("rsLoRA scales by α/√r instead of α/r", () => {
  const bank = new LoraBank("b", { rank: 4, alpha: 8, dropout: 0, rsLora: true }, 3, 2, 1, new Rng(1));
  assertEquals(bank.scale, 4);
  const plain = new LoraBank("b", { rank: 4, alpha: 8, dropout: 0 }, 3, 2, 1, new Rng(1));
  assertEquals(plain.scale, 2);
});

Deno.test("A is kaiming-uniform(a=√5) — U(±1/√d_in) — and B starts at zero, so a fresh adapter is a no-op", () => {
  const bank = new LoraBank("b", { rank: 8, alpha: 16, dropout: 0 }, 64, 32, 4, new Rng(7));
  const a = vec(bank.A);
  const bound = 1 / Math.sqrt(64);
  assert(a.every((v) => Math.abs(v) <= bound), "inside the bound");
  assert(Math.max(...a.map(Math.abs)) > 0.95 * bound, "fills the range");
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  assert(Math.abs(mean) < 0.01, `centred (${mean})`);
  assertEquals(vec(bank.Bt.abs().sum()), [0]);
  const t = testSite("lora", {}, { randomB: false });
  assertEquals(vec(output(t)), vec(baseOutput(t)));
});

Deno.test("the stacked bank equals the sum over experts of g_i · s · B_i A_i x, whatever N", () => {
  const rng = new Rng(3);
  for (const n of [1, 3, 8]) {
    const bank = new LoraBank("b", { rank: 2, alpha: 6, dropout: 0 }, 5, 4, n, rng.fork(`bank${n}`));
    bank.Bt.assign(randn(rng.fork(`B${n}`), bank.Bt.shape) as tf.Tensor3D);
    const x = randn(rng.fork(`x${n}`), [7, 5]) as tf.Tensor2D;
    const g = tf.softmax(randn(rng.fork(`g${n}`), [7, n])) as tf.Tensor2D;
    const dW = bank.deltaWeights(); // [N, d_out, d_in] = s·B_i A_i
    const want = tf.tidy(() =>
      tf.addN(Array.from({ length: n }, (_, i) => tf.matMul(x, dW.gather(i), false, true).mul(g.slice([0, i], [7, 1]))))
    );
    assertAllClose(vec(bank.delta(x, g, null)), vec(want), 1e-5, 0, `N = ${n}`);
  }
});

Deno.test("dropout: none in evaluation; fixed by the seed in training; one mask per expert with dropoutPerExpert", () => {
  const rng = new Rng(5);
  const make = (perExpert: boolean) => {
    const bank = new LoraBank(
      "b",
      { rank: 3, alpha: 3, dropout: 0.5, dropoutPerExpert: perExpert },
      16,
      4,
      2,
      new Rng(9),
    );
    // both experts identical, so only their dropout masks can make their outputs differ
    const A0 = bank.A.slice([0, 0, 0], [1, 3, 16]);
    bank.A.assign(tf.concat([A0, A0]) as tf.Tensor3D);
    bank.Bt.assign(tf.onesLike(bank.Bt) as tf.Tensor3D);
    return bank;
  };
  const x = randn(rng, [6, 16]) as tf.Tensor2D;
  const e0 = tf.tensor2d(Array(6).fill([1, 0]));
  const e1 = tf.tensor2d(Array(6).fill([0, 1]));
  const shared = make(false);
  const per = make(true);
  const drop = { rate: 0.5, seed: 42 };
  assertEquals(vec(shared.delta(x, e0, null)), vec(shared.delta(x, e1, null)), "identical experts without dropout");
  assertEquals(vec(shared.delta(x, e0, drop)), vec(shared.delta(x, e0, drop)), "the same seed gives the same mask");
  assertNotEquals(
    vec(shared.delta(x, e0, drop)),
    vec(shared.delta(x, e0, { rate: 0.5, seed: 43 })),
    "another seed differs",
  );
  assertEquals(vec(shared.delta(x, e0, drop)), vec(shared.delta(x, e1, drop)), "one shared mask");
  assertNotEquals(vec(per.delta(x, e0, drop)), vec(per.delta(x, e1, drop)), "a mask per expert");
});

Deno.test({
  name: "expertScale: blas's kernel equals the broadcast multiply (value, dxa, dg)",
  ignore: loadBlas() === null,
  fn: async () => {
    const run = async (backend: "cpu" | "blas") => {
      await initBackend(backend);
      const xa = tf.tensor2d(Array.from({ length: 5 * 6 }, (_, i) => Math.sin(i)), [5, 6]); // N 3 × r 2
      const g = tf.tensor2d(Array.from({ length: 5 * 3 }, (_, i) => Math.cos(i)), [5, 3]);
      const w = tf.tensor2d(Array.from({ length: 5 * 6 }, (_, i) => Math.sin(3 * i + 1)), [5, 6]);
      const f = (a: tf.Tensor, b: tf.Tensor) => expertScale(a as tf.Tensor2D, b as tf.Tensor2D, 2, 1.5).mul(w).sum();
      const h = expertScale(xa, g, 2, 1.5);
      const [dxa, dg] = tf.grads(f)([xa, g]);
      const out = [h, dxa, dg].map((t) => Array.from(t.dataSync()));
      tf.dispose([xa, g, w, h, dxa, dg]);
      return out;
    };
    const want = await run("cpu");
    const got = await run("blas");
    await initBackend("cpu");
    for (const [i, v] of want.entries()) assertAllClose(got[i], v, 1e-7, 1e-6, `output ${i}`);
  },
});
