/**
 * The shared-buffer clone for saved tensors (saved_tensors.ts): a training step of every routed method on
 * blas gives bit-identical losses and gradients with it on and off, runs no Identity kernel with it on,
 * leaves the tensor and byte counts as before, and second-order gradients still flow through saved tensors.
 */
import * as tf from "@tensorflow/tfjs";
import { getMethod, type MethodName } from "../routers/registry.ts";
import type { SiteMethod } from "../routers/method.ts";
import { forwardContext } from "../moe/moe_linear.ts";
import { assert, assertBitIdentical, assertEquals } from "../testing/asserts.ts";
import { testSite } from "../testing/sites.ts";
import { initBackend } from "./backend.ts";
import { loadBlas } from "./blas_ffi.ts";
import { setSharedSaves } from "./saved_tensors.ts";

const ignore = loadBlas() === null;

const METHODS: [MethodName, Record<string, unknown>][] = [
  ["lora", { rank: 4 }],
  ["topk", { nExperts: 4, topK: 2 }],
  ["adamole", { nExperts: 4 }],
  ["dynmole", { nExperts: 4 }],
];

/** Run `f` counting the dispatches of one blas kernel (the registry is restored afterwards). */
function countKernel<T>(name: string, f: () => T): { result: T; calls: number } {
  const kernel = tf.getKernel(name, "blas")!;
  let calls = 0;
  tf.unregisterKernel(name, "blas");
  tf.registerKernel({ ...kernel, kernelFunc: (args) => (calls++, kernel.kernelFunc(args)) });
  try {
    return { result: f(), calls };
  } finally {
    tf.unregisterKernel(name, "blas");
    tf.registerKernel(kernel);
  }
}

/** Loss and gradients of one site step (as arrays), the kernels it ran, and the engine's counts after it. */
function step(method: MethodName, overrides: Record<string, unknown>, shared: boolean) {
  const was = setSharedSaves(shared);
  const t = testSite(method, overrides, { dIn: 8, dOut: 6, T: 12, xStd: 2 });
  const vars = [t.site.bank!.A, t.site.bank!.Bt, ...Object.values(t.site.router?.params ?? {})];
  try {
    const before = tf.memory();
    const identities = countKernel("Identity", () => {
      const { value, grads } = tf.variableGrads(() => {
        const ctx = forwardContext({ training: true });
        const loss = t.site.forward(t.x, ctx).square().mean() as tf.Scalar;
        const aux = (getMethod(method) as SiteMethod).auxLoss(t.cfg, ctx.aux);
        return aux ? loss.add(aux.total) : loss;
      }, vars);
      return [value, ...vars.map((v) => grads[v.name])];
    });
    const out = identities.result;
    const values = out.map((x) => Array.from(x.dataSync()));
    tf.dispose(out);
    const after = tf.memory();
    return {
      values,
      identities: identities.calls,
      leaked: { tensors: after.numTensors - before.numTensors, bytes: after.numBytes - before.numBytes },
    };
  } finally {
    tf.dispose([t.x, t.weight, ...vars]);
    setSharedSaves(was);
  }
}

for (const [method, overrides] of METHODS) {
  Deno.test({
    name: `shared saved tensors: a ${method} step is bit-identical, runs no Identity clone and leaks nothing`,
    ignore,
    async fn() {
      await initBackend("blas");
      const off = step(method, overrides, false);
      const on = step(method, overrides, true);
      // tfjs's clone dispatches an Identity kernel per saved tensor; shared saves none. At most one is left: the
      // user-level tf.clone inside Add's gradient function, which is not a save and keeps tfjs's clone.
      assert(off.identities >= 10, `${off.identities} Identity kernels without shared saves`);
      assert(on.identities <= 1, `${on.identities} Identity kernels with shared saves`);
      assertBitIdentical(on.values, off.values, `${method}: shared saves vs tfjs's clones`);
      assertEquals(on.leaked, { tensors: 0, bytes: 0 });
      assertEquals(off.leaked, { tensors: 0, bytes: 0 });
      await initBackend("cpu");
    },
  });
}

Deno.test({
  name: "shared saved tensors: second-order gradients are unchanged (d²/dx² of Σx³ = 6x; Σx·eˣ, Σx²·tanh x as tfjs)",
  ignore,
  async fn() {
    await initBackend("blas");
    const x = tf.tensor1d([-1.5, 0.5, 2]);
    const fs = [
      (v: tf.Tensor) => v.mul(v).mul(v).sum(),
      (v: tf.Tensor) => v.exp().mul(v).sum(),
      (v: tf.Tensor) => v.square().mul(v.tanh()).sum(),
    ];
    const second = (shared: boolean) => {
      const was = setSharedSaves(shared);
      try {
        return fs.map((f) => {
          const g = tf.grad(tf.grad(f))(x);
          const v = Array.from(g.dataSync());
          g.dispose();
          return v;
        });
      } finally {
        setSharedSaves(was);
      }
    };
    const [on, off] = [second(true), second(false)];
    assertEquals(on, off);
    assertEquals(on[0], [-9, 3, 12]);
    x.dispose();
    await initBackend("cpu");
  },
});
