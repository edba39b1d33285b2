import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { ConfigError } from "../errors.ts";
import { assert, assertAllClose, assertEquals, assertThrows } from "../testing/asserts.ts";
import { type Mat, matVec, refSwiGlu, sigmoid } from "../testing/moe_reference.ts";
import { mat, randn, Rng, vec } from "../testing/tensors.ts";
import { type MoaConfig, MoaRouter, resolveTypes } from "./moa.ts";
import { methodConfig } from "./registry.ts";

await initBackend("cpu");

const D = 6;
const T = 10;

function router(method: "moa-soft" | "moa-sparse", overrides: Record<string, unknown> = {}, seed = 1) {
  const cfg = methodConfig(method, overrides) as MoaConfig;
  const rng = new Rng(seed);
  const r = new MoaRouter("block.router", D, resolveTypes(cfg.types), cfg, rng);
  const x = randn(rng.fork("x"), [T, D], 1.5) as tf.Tensor2D;
  return { r, x, cfg };
}

const ctx = { training: false, mask: null };

Deno.test("MoA presets resolve to the router's column order Q,K,V,PROMPT,O,FFN_UP,FFN_GATE,FFN_DOWN,PADAPTER", () => {
  assertEquals(resolveTypes("soft-readme"), ["Q", "K", "V", "PROMPT", "O", "FFN_DOWN", "PADAPTER"]);
  assertEquals(resolveTypes("sparse-readme"), ["Q", "K", "V", "O", "FFN_UP", "FFN_DOWN", "PADAPTER"]);
  assertEquals(resolveTypes("transformers"), ["Q", "K", "V", "O", "FFN_DOWN", "PADAPTER"]);
  assertEquals(resolveTypes(["PADAPTER", "FFN_GATE", "Q", "PROMPT"]), ["Q", "PROMPT", "FFN_GATE", "PADAPTER"]);
});

Deno.test("soft MoA weights are independent sigmoids of a SwiGLU router, as a loop computes them", () => {
  const { r, x } = router("moa-soft");
  const p = Object.fromEntries(Object.entries(r.params).map(([k, v]) => [k, v.arraySync()]));
  const g = mat(r.route(x, ctx).g);
  mat(x).forEach((xt, t) => {
    const z = refSwiGlu(
      xt,
      p["w1.weight"] as Mat,
      p["w1.bias"] as number[],
      p["w3.weight"] as Mat,
      p["w3.bias"] as number[],
      p["w2.weight"] as Mat,
      p["w2.bias"] as number[],
    );
    assertAllClose(g[t], z.map(sigmoid), 1e-5);
  });
  assertEquals(r.params["w1.weight"].shape, [7 * 4, D], "hidden = n_types · swi_x");
  assertEquals(vec(r.params["w2.bias"]), Array(7).fill(0), "zero-initialised biases");
});

Deno.test("swiX = 0 gives a linear router with bias", () => {
  const { r, x } = router("moa-soft", { swiX: 0, types: "transformers" });
  assertEquals(Object.keys(r.params), ["weight", "bias"]);
  const W = mat(r.params.weight);
  const b = vec(r.params.bias);
  const g = mat(r.route(x, ctx).g);
  mat(x).forEach((xt, t) => assertAllClose(g[t], matVec(W, xt).map((v, i) => sigmoid(v + b[i])), 1e-5));
});

Deno.test("sparse MoA keeps a type iff σ_t ≥ τ and weights it by the ORIGINAL σ_t (not σ − τ, not renormalised)", () => {
  const { r, x } = router("moa-sparse", { maxThreshold: 0.5 });
  const out = r.route(x, ctx);
  const p = mat(out.p);
  const tau = vec(out.threshold!);
  mat(out.g).forEach((g, t) =>
    g.forEach((v, i) => {
      assertEquals(v, p[t][i] >= tau[t] ? p[t][i] : 0, `token ${t} type ${i}`);
      assert(v <= 1, "a type's weight never exceeds 1");
    })
  );
  tau.forEach((v) => assert(v > 0 && v < 0.5));
  const active = vec(out.active.sum());
  assert(active[0] > 0 && active[0] < T * 7, "the fixture has both kept and dropped types");
});

Deno.test("sparse MoA with τ_max = 0 equals soft MoA", () => {
  const soft = router("moa-soft", { types: "sparse-readme" }, 5);
  const sparse = router("moa-sparse", { maxThreshold: 0 }, 5);
  // same seed → same SwiGLU weights (drawn before the threshold network)
  assertAllClose(vec(sparse.r.route(sparse.x, ctx).g), vec(soft.r.route(soft.x, ctx).g), 0);
});

Deno.test("with τ = τ_max = 1 no type passes: every weight is 0 (the block reduces to the frozen one)", () => {
  const { r, x } = router("moa-sparse", { maxThreshold: 1, constThreshold: true });
  const out = r.route(x, ctx);
  assertEquals(vec(out.g.abs().sum()), [0]);
  assertEquals(Object.keys(r.params).some((k) => k.startsWith("threshold")), false);
});

Deno.test("as in the official code, the sparse threshold network gets no gradient; the type router does", () => {
  const { r, x } = router("moa-sparse");
  const { grads } = tf.variableGrads(() => r.route(x, ctx).g.square().sum() as tf.Scalar, Object.values(r.params));
  assertEquals(vec(grads[r.params["threshold.weight"].name].abs().sum()), [0]);
  assert(vec(grads[r.params["w2.weight"].name].abs().sum())[0] > 0);
});

Deno.test("MoA rejects unknown adapter types and a threshold outside [0, 1]", () => {
  const e = assertThrows(() => methodConfig("moa-soft", { types: ["Q", "LORA_X"] }), ConfigError);
  assertEquals(e.message, "method.types.1: must be one of Q|K|V|PROMPT|O|FFN_UP|FFN_GATE|FFN_DOWN|PADAPTER");
  assertEquals(
    assertThrows(() => methodConfig("moa-sparse", { maxThreshold: -0.1 }), ConfigError).message,
    "method.maxThreshold: must be in [0, 1]",
  );
});
