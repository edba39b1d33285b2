import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { loadBlas } from "../backend/blas_ffi.ts";
import { ConfigError } from "../errors.ts";
import {
  assert,
  assertAllClose,
  assertAlmostEquals,
  assertBitIdentical,
  assertEquals,
  assertThrows,
} from "../testing/asserts.ts";
import { colMean, refDynMole, refNormalizedTsallis, refTopK } from "../testing/moe_reference.ts";
import { route, testSite } from "../testing/sites.ts";
import { onBlasNativeAndJs } from "../testing/blas.ts";
import { setFusedRouting } from "../moe/ops.ts";
import { mat, randn, Rng, vec } from "../testing/tensors.ts";
import {
  dynamicMask,
  type DynMoleConfig,
  dynmoleMethod,
  dynMoleRoute,
  type DynMoleRule,
  topPCanExceedFloor,
} from "./dynmole.ts";
import { methodConfig } from "./registry.ts";

await initBackend("cpu");

const RULE: DynMoleRule = {
  q: 1.1,
  entropyType: "tsallis",
  entropyEps: 1e-5,
  entropyThreshold: 1,
  topP: 0.75,
  keepTopK: 1,
};

Deno.test("top-p keeps ranks whose cumulative mass ≤ top_p and excludes the expert that crosses it", () => {
  const p = tf.tensor2d([[0.5, 0.3, 0.15, 0.05], [0.4, 0.3, 0.04, 0.26]]);
  // row 0: c = 0.5, 0.8 → only expert 0 (0.8 > 0.75 excluded); row 1: c = 0.4, 0.7, 0.96 → experts 0, 1
  assertEquals(mat(dynamicMask(p, RULE)), [[1, 0, 0, 0], [1, 1, 0, 0]]);
  assertEquals(mat(dynamicMask(p, { ...RULE, topP: 0.97 })), [[1, 1, 1, 0], [1, 1, 0, 1]]);
});

Deno.test("the top-k floor keeps at least keep_top_k experts even when the top-1 mass exceeds top_p", () => {
  const p = tf.tensor2d([[0.9, 0.05, 0.03, 0.02]]);
  assertEquals(mat(dynamicMask(p, { ...RULE, keepTopK: 1 })), [[1, 0, 0, 0]]);
  assertEquals(mat(dynamicMask(p, { ...RULE, keepTopK: 2 })), [[1, 1, 0, 0]]);
});

Deno.test("top-p can add an expert beyond the top-2 floor only when (k+1)/N < top_p: never at N = 4", () => {
  const rule = { ...RULE, keepTopK: 2 };
  assertEquals(topPCanExceedFloor(rule, 4), false); // 3/4 of the mass always sits in the top 3
  assertEquals(topPCanExceedFloor(rule, 6), true);
  assertEquals(topPCanExceedFloor({ ...rule, topP: 0.8 }, 4), true);
  assertEquals(topPCanExceedFloor(rule, 2), false);
  // The property on random routers: at N = 4 every token keeps exactly 2; at N = 6 some keep 3.
  const keptPerToken = (n: number) =>
    tf.tidy(() => dynamicMask(tf.softmax(tf.randomNormal([256, n], 0, 1, "float32", 7)) as tf.Tensor2D, rule).sum(1))
      .arraySync() as number[];
  assert(keptPerToken(4).every((k) => k === 2));
  assert(keptPerToken(6).some((k) => k === 3));
});

Deno.test("tokens whose normalised entropy exceeds the threshold are routed densely; a threshold of 1 turns that off", () => {
  const p = tf.tensor2d([[0.3, 0.28, 0.22, 0.2], [0.9, 0.05, 0.03, 0.02]]);
  const h = mat(p).map((row) => refNormalizedTsallis(row, 1.1, 1e-5));
  assert(h[0] > 0.9 && h[1] < 0.9, `entropies ${h}`);
  assertEquals(mat(dynamicMask(p, { ...RULE, entropyThreshold: 0.9, keepTopK: 2 })), [[1, 1, 1, 1], [1, 1, 0, 0]]);
  assertEquals(mat(dynamicMask(p, { ...RULE, entropyThreshold: 1, keepTopK: 2 })), [[1, 1, 0, 0], [1, 1, 0, 0]]);
});

Deno.test("with every token's entropy above the threshold DynMoLE equals dense soft routing (g = p)", () => {
  const t = testSite("dynmole", { nExperts: 4 });
  t.site.router!.params.weight.assign(tf.randomNormal([4, 6], 0, 0.01, "float32", 3)); // near-uniform p: H̃ ≈ 1
  const r = route(t);
  vec(r.entropy!).forEach((h) => assert(h > 0.9));
  assertAllClose(vec(r.g), vec(r.p), 0);
  const zero = testSite("dynmole", { nExperts: 4, entropyThreshold: 0 }, { xStd: 5 }); // threshold 0: always dense
  const rz = route(zero);
  assertAllClose(vec(rz.g), vec(rz.p), 0);
});

Deno.test("with the dense branch off and top-p 0, DynMoLE equals top-2 WITHOUT renormalisation", () => {
  const t = testSite("dynmole", { nExperts: 5, entropyThreshold: 1, topP: 0 }, { T: 16, xStd: 3 });
  const r = route(t);
  const p = mat(r.p);
  mat(r.g).forEach((g, i) => {
    const { active } = refTopK(p[i], 2);
    assertAllClose(g, p[i].map((v, j) => v * active[j]), 1e-7);
  });
  assert(vec(r.g.sum(1)).every((s) => s < 1), "Σg < 1 on sparse tokens");
});

Deno.test("DynMoLE's mask matches the loop reference on many random tokens", () => {
  const t = testSite("dynmole", { nExperts: 6 }, { T: 128, xStd: 2.5 });
  const r = route(t);
  const p = mat(r.p);
  const rule = { q: 1.1, eps: 1e-5, entropyThreshold: 0.9, topP: 0.75, keepTopK: 2 };
  mat(r.active).forEach((a, i) => assertEquals(a, refDynMole(p[i], rule).active, `token ${i}`));
  const kinds = new Set(mat(r.active).map((a) => a.reduce((x, y) => x + y)));
  assert(kinds.size >= 2, `the fixture exercises both sparse and dense tokens (${[...kinds]})`);
});

Deno.test("aux loss = 0.01·mean H̃ + 0.001·N·Σ mean(g)·mean(p), pooled over sites, by hand", () => {
  const a = testSite("dynmole", { nExperts: 4 }, { seed: 1, xStd: 2 });
  const b = testSite("dynmole", { nExperts: 4 }, { seed: 2, xStd: 2 });
  const ra = a.site.router!.route(a.x, { training: true, mask: null });
  const rb = b.site.router!.route(b.x, { training: true, mask: null });
  const g = [...mat(ra.g), ...mat(rb.g)];
  const p = [...mat(ra.p), ...mat(rb.p)];
  const h = [...mat(ra.p), ...mat(rb.p)].map((row) => refNormalizedTsallis(row, 1.1, 1e-5));
  const meanH = h.reduce((x, y) => x + y) / h.length;
  const f = colMean(g);
  const P = colMean(p);
  const lb = 4 * f.reduce((s, v, i) => s + v * P[i], 0);
  const loss = dynmoleMethod.auxLoss(a.cfg as DynMoleConfig, [ra.aux!, rb.aux!])!;
  assertAlmostEquals(vec(loss.parts.entropy)[0], meanH, 1e-5);
  assertAlmostEquals(vec(loss.parts.load_balance)[0], lb, 1e-5);
  assertAlmostEquals(vec(loss.total)[0], 0.01 * meanH + 0.001 * lb, 1e-6);
});

Deno.test("the entropy loss is masked nowhere but the load balance ignores padding", () => {
  const t = testSite("dynmole", { nExperts: 4 }, { xStd: 2 });
  const mask = tf.tensor1d([1, 1, 1, 1, 1, 1, 0, 0]);
  const aux = t.site.router!.route(t.x, { training: true, mask }).aux!;
  const r = route(t);
  assertAlmostEquals(vec(aux.entropy!)[0], vec(r.entropy!.mean())[0], 1e-6);
  const g = mat(r.g).slice(0, 6);
  assertAllClose(vec(aux.f), colMean(g), 1e-5);
});

Deno.test("DynMoLE rejects q ≤ 0, q > 2 and keep_top_k > N with one line each", () => {
  const msg = (o: Record<string, unknown>) => assertThrows(() => methodConfig("dynmole", o), ConfigError).message;
  assertEquals(msg({ q: 0 }), "method.q: must be in (0, 2] (q ≤ 0 has no Tsallis entropy)");
  assertEquals(msg({ q: -1 }), "method.q: must be in (0, 2] (q ≤ 0 has no Tsallis entropy)");
  assertEquals(msg({ q: 2.5 }), "method.q: must be in (0, 2]");
  assertEquals(
    msg({ keepTopK: 7 }),
    "method.keepTopK: keepTopK (7) must be ≤ nExperts (6); lower keepTopK or add experts",
  );
  assertEquals(msg({ topP: 1.2 }), "method.topP: must be in [0, 1]");
});

Deno.test("DynMoLE defaults follow the fork's config: N 6, r 24, α 48, gate/up/down, q 1.1, 0.9, 0.75, top-2", () => {
  const c = methodConfig("dynmole") as DynMoleConfig;
  assertEquals(
    [c.nExperts, c.rank, c.alpha, c.q, c.entropyThreshold, c.topP, c.keepTopK, c.entropyCoef, c.auxLossCoef],
    [6, 24, 48, 1.1, 0.9, 0.75, 2, 0.01, 0.001],
  );
  assertEquals(c.targets, ["gate", "up", "down"]);
});

Deno.test({
  name: "dynamicMask: the blas kernel makes exactly the composed ops' decisions (ties, top-p edges, dense rows)",
  ignore: loadBlas() === null,
  fn: async () => {
    // Rows with ties, cumulative sums landing on top-p, near-uniform rows (dense by entropy) and random ones.
    const rows = [
      [0.25, 0.25, 0.25, 0.25],
      [0.5, 0.25, 0.125, 0.125],
      [0.75, 0.125, 0.0625, 0.0625],
      [0.4, 0.35, 0.15, 0.1],
      [0.26, 0.25, 0.25, 0.24],
    ];
    for (let i = 0; i < 40; i++) {
      const raw = Array.from({ length: 4 }, (_, j) => Math.exp(Math.sin(i * 7.1 + j * 3.3) * 3));
      const sum = raw.reduce((a, b) => a + b, 0);
      rows.push(raw.map((v) => v / sum));
    }
    const masks: number[][] = [];
    for (const backend of ["cpu", "blas"] as const) {
      await initBackend(backend);
      for (const rule of [RULE, { ...RULE, keepTopK: 2, entropyThreshold: 0.9 }, { ...RULE, topP: 0.5 }]) {
        const p = tf.tensor2d(rows);
        const m = dynamicMask(p, rule);
        masks.push(Array.from(await m.data()));
        tf.dispose([p, m]);
      }
    }
    await initBackend("cpu");
    assertEquals(masks.slice(3), masks.slice(0, 3));
  },
});

/** Every output and dz of a DynMoLE routing step, fused (one kernel each way) or composed, as arrays. */
function dynMoleOnce(z: tf.Tensor2D, rule: DynMoleRule, mask: tf.Tensor1D | null, means: boolean, fused: boolean) {
  const was = setFusedRouting(fused);
  const rng = new Rng(9);
  const [T, N] = z.shape;
  const [wg, wf, wP, wh] = [randn(rng, [T, N]), randn(rng, [N]), randn(rng, [N]), randn(rng, [T])];
  const parts: tf.Tensor[] = [];
  try {
    const dz = tf.grad((x: tf.Tensor) => {
      const r = dynMoleRoute(x as tf.Tensor2D, rule, mask, means);
      const outs = [r.g, r.p, r.active, r.entropy, r.f, r.P, r.meanEntropy].filter((t) => t !== undefined);
      parts.push(...outs.map((t) => tf.keep(t!.clone())));
      let loss = r.g.mul(wg).sum(); // the experts' use of g comes after the routing
      if (means) loss = loss.add(r.f!.mul(wf).sum()).add(r.P!.mul(wP).sum()).add(r.meanEntropy!.mul(0.01));
      return loss.add(r.entropy.mul(wh).sum().mul(means ? 0 : 1)); // H̃'s own gradient (zero with the aux)
    })(z);
    const out = [...parts, dz].map((t) => Array.from(t.dataSync()));
    tf.dispose([...parts, dz, wg, wf, wP, wh]);
    return out;
  } finally {
    setFusedRouting(was);
  }
}

Deno.test({
  name: "dynMoleRoute (one fused kernel each way on blas) is bit-identical to the composed ops, native and JS kernels",
  ignore: loadBlas() === null,
  async fn() {
    await initBackend("blas");
    const z = randn(new Rng(3), [29, 6], 2) as tf.Tensor2D;
    const flat = tf.zeros([7, 4]) as tf.Tensor2D; // uniform rows: H̃ = 1, ties everywhere
    const mask = tf.tensor1d(Array.from({ length: 29 }, (_, t) => (t % 5 === 4 ? 0 : 1)));
    const rules: DynMoleRule[] = [
      { ...RULE, keepTopK: 2, entropyThreshold: 0.9 },
      { ...RULE, q: 1, keepTopK: 1, entropyThreshold: 1 },
      { ...RULE, q: 2, keepTopK: 2, topP: 0.5, entropyThreshold: 0.5 },
    ];
    await onBlasNativeAndJs((native) => {
      for (const [i, rule] of rules.entries()) {
        for (const [what, zz, m] of [["masked", z, mask], ["unmasked", z, null], ["uniform", flat, null]] as const) {
          for (const means of [true, false]) {
            const fused = dynMoleOnce(zz, rule, m, means, true);
            const composed = dynMoleOnce(zz, rule, m, means, false);
            assertBitIdentical(
              fused,
              composed,
              `rule ${i}, ${what}, means ${means}, native ${native}, fused vs composed`,
            );
          }
        }
      }
    });
    tf.dispose([z, flat, mask]);
  },
});
