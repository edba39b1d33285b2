/**
 * The fused routing kernels (top-k, AdaMoLE with its threshold network, DynMoLE) change no bit of a training
 * step: a whole site — base, router, aux losses, experts, with a padding mask and dropout — gives the same
 * output, aux loss and gradients of every parameter and of the input on blas with them on and off.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { loadBlas } from "../backend/blas_ffi.ts";
import type { SiteMethod } from "../routers/method.ts";
import { getMethod, type MethodName } from "../routers/registry.ts";
import { assertBitIdentical } from "../testing/asserts.ts";
import { testSite } from "../testing/sites.ts";
import { forwardContext } from "./moe_linear.ts";
import { setFusedRouting } from "./ops.ts";

const CASES: [MethodName, Record<string, unknown>][] = [
  ["topk", { nExperts: 8, topK: 2, auxLossCoef: 0.01 }],
  ["topk", { nExperts: 4, topK: 2, lbMaskPadding: true, lbNorm: "tokens", dropout: 0.1 }],
  ["topk", { nExperts: 4, topK: 4 }],
  ["mola", { experts: [6], topK: 2, auxLossCoef: 1e-3 }],
  ["adamole", { nExperts: 8 }],
  ["adamole", { nExperts: 4, constThreshold: true, lbProb: "p", lbMaskPadding: true, dropout: 0.1 }],
  ["adamole", { nExperts: 4, maxThreshold: 1 }],
  ["dynmole", { nExperts: 6 }],
  ["dynmole", { nExperts: 4, lbMaskPadding: false, q: 1, entropyThreshold: 0.5, keepTopK: 1 }],
  ["dynmole", { nExperts: 4, entropyType: "renyi", q: 2 }],
];

/** Output, aux loss and every gradient of one training step of a site, as arrays. */
function step(method: MethodName, overrides: Record<string, unknown>, fused: boolean): number[][] {
  const was = setFusedRouting(fused);
  const t = testSite(method, overrides, { dIn: 16, dOut: 12, T: 40, xStd: 2 });
  const vars = [t.site.bank!.A, t.site.bank!.Bt, ...Object.values(t.site.router!.params)];
  const mask = tf.tensor1d(Array.from({ length: 40 }, (_, i) => (i % 7 === 6 ? 0 : 1)));
  try {
    const kept: tf.Tensor[] = [];
    const x = tf.variable(t.x);
    const { value, grads } = tf.variableGrads(() => {
      const ctx = forwardContext({ training: true, mask, seed: 3 });
      const y = t.site.forward(x, ctx);
      kept.push(tf.keep(y.clone()));
      const aux = (getMethod(method) as SiteMethod).auxLoss(t.cfg, ctx.aux);
      const loss = y.square().mean() as tf.Scalar;
      return aux ? loss.add(aux.total) : loss;
    }, [...vars, x]);
    const out = [value, ...kept, ...[...vars, x].map((v) => grads[v.name])].map((v) => Array.from(v.dataSync()));
    tf.dispose([value, ...kept, ...Object.values(grads), x]);
    return out;
  } finally {
    tf.dispose([t.x, t.weight, mask, ...vars]);
    setFusedRouting(was);
  }
}

for (const [method, overrides] of CASES) {
  Deno.test({
    name: `fused routing: a ${method} ${JSON.stringify(overrides)} site step is bit-identical to the composed ops`,
    ignore: loadBlas() === null,
    async fn() {
      await initBackend("blas");
      try {
        const [on, off] = [step(method, overrides, true), step(method, overrides, false)];
        assertBitIdentical(on, off, `${method}: fused vs composed routing`);
      } finally {
        await initBackend("cpu");
      }
    },
  });
}
