/**
 * Every method runs forward and backward on every available backend and agrees with cpu:
 * |Δ| ≤ 1e-4 + 1e-3·|cpu| on outputs, aux losses and gradients (float32 kernels differ in summation order;
 * webgpu's software adapter uses fused multiply-adds).
 */
import * as tf from "@tensorflow/tfjs";
import { ParallelAdapter } from "../adapters/parallel.ts";
import { PromptExpert } from "../adapters/prompt.ts";
import { type BackendName, initBackend } from "../backend/backend.ts";
import { loadBlas } from "../backend/blas_ffi.ts";
import { MoaRouter, resolveTypes } from "../routers/moa.ts";
import type { SiteMethod } from "../routers/method.ts";
import { getMethod, methodConfig, type MethodName } from "../routers/registry.ts";
import type { MoaConfig } from "../routers/moa.ts";
import { assertAllClose, assertEquals } from "../testing/asserts.ts";
import { testSite } from "../testing/sites.ts";
import { randn, Rng } from "../testing/tensors.ts";
import { forwardContext } from "./moe_linear.ts";

const SITE_ROWS: [MethodName, Record<string, unknown>][] = [
  ["lora", { rank: 4 }],
  ["topk", { nExperts: 4, topK: 2 }],
  ["threshold", { nExperts: 4 }],
  ["mola", { experts: [4], auxLossCoef: 1e-3 }],
  ["adamole", { nExperts: 4 }],
  ["dynmole", { nExperts: 4 }],
];

/** Read every tensor asynchronously (webgpu under Deno has no synchronous readback) and dispose it. */
async function read(tensors: Record<string, tf.Tensor>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = Array.from(await t.data());
  tf.dispose(Object.values(tensors));
  return out;
}

/** Loss, aux loss and every gradient of one training step of a site method, as host arrays. */
async function siteStep(method: MethodName, overrides: Record<string, unknown>): Promise<Record<string, number[]>> {
  const t = testSite(method, overrides, { dIn: 8, dOut: 6, T: 12, xStd: 2 });
  const vars = [t.site.bank!.A, t.site.bank!.Bt, ...Object.values(t.site.router?.params ?? {})];
  const kept: Record<string, tf.Tensor> = {};
  const { value, grads } = tf.variableGrads(() => {
    const ctx = forwardContext({ training: true });
    const y = t.site.forward(t.x, ctx);
    kept.y = tf.keep(y);
    const aux = (getMethod(method) as SiteMethod).auxLoss(t.cfg, ctx.aux);
    const loss = y.square().mean();
    if (aux) kept.aux = tf.keep(aux.total);
    return (aux ? loss.add(aux.total) : loss) as tf.Scalar;
  }, vars);
  kept.loss = value;
  vars.forEach((v, i) => (kept[`grad${i}`] = grads[v.name]));
  const out = await read(kept);
  tf.dispose([t.x, t.weight, ...vars]);
  return out;
}

/** One step through MoA's pieces: the block router (soft and sparse), a parallel adapter and a prompt expert. */
async function moaStep(method: "moa-soft" | "moa-sparse"): Promise<Record<string, number[]>> {
  const rng = new Rng(4);
  const cfg = methodConfig(method, { types: "soft-readme" }) as MoaConfig;
  const router = new MoaRouter("r", 8, resolveTypes(cfg.types), cfg, rng.fork("router"));
  const pad = new ParallelAdapter("pa", 8, 4, rng.fork("pa"));
  const prompt = new PromptExpert("pr", 8, 3, 4, rng.fork("pr"));
  prompt.gate.assign(tf.tensor1d([0.5, -0.2, 0.1, 0.3]));
  const x = randn(rng.fork("x"), [12, 8], 1.5) as tf.Tensor2D;
  const wk = randn(rng.fork("wk"), [4, 8]) as tf.Tensor2D; // 2 kv heads × head dim 2
  const wv = randn(rng.fork("wv"), [4, 8]) as tf.Tensor2D;
  const q = randn(rng.fork("q"), [12, 4, 2]) as tf.Tensor3D;
  const vars = [...Object.values(router.params), ...Object.values(pad.params), ...Object.values(prompt.params)];
  const kept: Record<string, tf.Tensor> = {};
  const { value, grads } = tf.variableGrads(() => {
    const g = router.route(x, { training: true, mask: null }).g;
    const a = pad.forward(x, g.slice([0, 6], [12, 1]));
    const b = prompt.forward(q, wk, wv, 2, g.slice([0, 3], [12, 1]));
    kept.g = tf.keep(g);
    return a.mul(1e4).square().mean().add(b.square().mean()).add(g.sum()) as tf.Scalar;
  }, vars);
  kept.loss = value;
  vars.forEach((v, i) => (kept[`grad${i}`] = grads[v.name]));
  const out = await read(kept);
  tf.dispose([x, wk, wv, q, ...vars]);
  return out;
}

function compare(got: Record<string, number[]>, want: Record<string, number[]>, what: string) {
  assertEquals(Object.keys(got).sort(), Object.keys(want).sort());
  for (const k of Object.keys(want)) assertAllClose(got[k], want[k], 1e-4, 1e-3, `${what} ${k}`);
}

await initBackend("cpu");
const reference = new Map<string, Record<string, number[]>>();
for (const [m, o] of SITE_ROWS) reference.set(m, await siteStep(m, o));
for (const m of ["moa-soft", "moa-sparse"] as const) reference.set(m, await moaStep(m));

const hasAdapter = Boolean(await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter().catch(() => null));
const backends: [BackendName, boolean][] = [["wasm", true], ["blas", loadBlas() !== null], ["webgpu", hasAdapter]];

for (const [backend, available] of backends) {
  Deno.test({
    name: `every method's forward and backward on ${backend} matches cpu`,
    ignore: !available,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await initBackend(backend);
      for (const [m, o] of SITE_ROWS) compare(await siteStep(m, o), reference.get(m)!, `${backend} ${m}`);
      for (const m of ["moa-soft", "moa-sparse"] as const) {
        compare(await moaStep(m), reference.get(m)!, `${backend} ${m}`);
      }
      await initBackend("cpu");
    },
  });
}
