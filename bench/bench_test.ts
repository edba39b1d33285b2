/**
 * Bench tests: the pure parts (statistics, presets, ratios), the quick preset end to end into a temp dir,
 * and the PyTorch reference computing the same outputs and gradients as our layers (skipped without torch).
 */
import { assert, assertAlmostEquals, assertEquals } from "../src/testing/asserts.ts";
import { initBackend } from "../src/backend/backend.ts";
import { loadBlas } from "../src/backend/blas_ffi.ts";
import { loadNative, native } from "../src/backend/native.ts";
import { FUSED } from "../src/backend/fused_kernels.ts";
import * as tf from "@tensorflow/tfjs";
import { buildLayer, LAYER_METHODS, type LayerCase, layerInput, layerOutputs, USES_TOPK } from "./layer.ts";
import type { LayerRow } from "./measure.ts";
import { expandCases, expandShapes, FULL_AXES, overrideShapes, PRESETS } from "./presets.ts";
import { dispatchBreakEven, loadVerdict, overLora, soakVerdict, sparseOverDense } from "./ratios.ts";
import { benchLoad, LOAD_SHAPE } from "./load.ts";
import { quantile, summarize } from "./stats.ts";
import {
  benchSteps,
  embeddedBase,
  STEP_METHOD_NAMES,
  STEP_METHODS,
  stepFlops,
  stepMethodBase,
  stepMethodParts,
  torchStepRequest,
} from "./step.ts";
import { LlamaModel } from "../src/model/llama.ts";
import { Rng } from "../src/util/rng.ts";
import { checkCase, DISPATCH, maxRelDiff, probeTorch, runTorch, type TorchCheckResult } from "./torch.ts";

const torch = await probeTorch();

Deno.test("summarize: median and quartiles interpolate like numpy", () => {
  const t = summarize([4, 1, 3, 2]);
  assertEquals([t.median, t.q1, t.q3, t.min, t.max, t.reps], [2.5, 1.75, 3.25, 1, 4, 4]);
  assertEquals(quantile([], 0.5), NaN);
});

Deno.test("presets: full is the issue's 108-shape grid; sweeps vary one axis around the centre", () => {
  assertEquals(
    expandShapes({ mode: "product", axes: FULL_AXES, center: PRESETS.full.backends[0].shapes.center }).length,
    108,
  );
  const sweep = expandShapes(PRESETS.default.backends[0].shapes);
  assertEquals(sweep.length, 1 + 2 + 2 + 2 + 1 + 1); // centre + the other values of each axis
  for (const s of sweep) {
    const off = (["tokens", "d", "experts", "rank", "topk"] as const).filter((a) => s[a] !== sweep[0][a]);
    assert(off.length <= 1, `${JSON.stringify(s)} differs from the centre on ${off}`);
  }
});

Deno.test("expandCases: top-k only where it applies and k ≤ N; LoRA once per shape", () => {
  const shapes = [1, 2, 8].map((topk) => ({ tokens: 8, d: 8, experts: 4, rank: 2, topk }));
  const cases = expandCases(shapes, ["lora", "topk", "dynmole"]);
  assertEquals(cases.filter((c) => c.method === "lora").map((c) => c.topk), [null]);
  assertEquals(cases.filter((c) => c.method === "topk").map((c) => c.topk), [1, 2]);
  assertEquals(cases.filter((c) => c.method === "dynmole").map((c) => c.topk), [1, 2]);
});

Deno.test("overrideShapes: flags make a product, axes not given stay at the centre", () => {
  const plan = overrideShapes(PRESETS.default.backends[0].shapes, { tokens: [256, 512] });
  assertEquals(expandShapes(plan).map((s) => [s.tokens, s.d, s.experts]), [[256, 1024, 8], [512, 1024, 8]]);
});

function row(method: string, ms: number, experts = 8, topk: number | null = null): LayerRow {
  const timing = { median: ms, q1: ms, q3: ms, min: ms, max: ms, reps: 1 };
  return {
    backend: "blas",
    method: method as LayerRow["method"],
    tokens: 8,
    d: 8,
    experts,
    rank: 2,
    topk,
    timing,
    peakMiB: 0,
    baseMiB: 0,
  };
}

Deno.test("ratios: over LoRA and sparse over dense match shapes; dispatch break-even needs all larger N", () => {
  const rows = [row("lora", 10), row("topk", 15, 8, 2), row("soft", 12), row("lora", 99, 4)];
  assertEquals(overLora(rows).map((r) => [r.method, r.ratio]), [["topk", 1.5], ["soft", 1.2]]);
  assertEquals(sparseOverDense(rows).map((r) => r.ratio), [1.25]);
  const d = (experts: number, dispatch: number) => ({ experts, shape: "", masked: 1, dispatch, soft: 10 });
  assertEquals(dispatchBreakEven([d(4, 20), d(8, 5), d(16, 4)]), 8);
  assertEquals(dispatchBreakEven([d(4, 5), d(8, 20)]), null);
});

Deno.test("soakVerdict: flat only when tensors and bytes are unchanged", () => {
  const s = (step: number, numTensors: number, numBytes: number) => ({ step, numTensors, numBytes });
  assertEquals(soakVerdict([s(1, 10, 100), s(50, 10, 100)]).met, true);
  assertEquals(soakVerdict([s(1, 10, 100), s(50, 11, 104)]).met, false);
  assertEquals(soakVerdict([]).met, null);
});

Deno.test("loadVerdict judges the sharded layout against 1.3× the float32 bytes", () => {
  const row = (layout: string, peakRatio: number) => ({ layout, peakRatio, peakBytes: peakRatio * 2 ** 20 });
  assertEquals(loadVerdict([row("single", 1.6), row("sharded", 1.2)]).met, true);
  assertEquals(loadVerdict([row("sharded", 1.31)]).met, false);
  assertEquals(loadVerdict([]).met, null);
});

Deno.test({
  name: "benchLoad writes a BF16 checkpoint in both layouts and reports the child's peak over float32 bytes",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const shape = {
      ...LOAD_SHAPE,
      vocabSize: 300,
      dModel: 32,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 2,
      headDim: 8,
      dFF: 64,
    };
    const rows = await benchLoad(shape, "cpu", 16 * 1024);
    assertEquals(rows.map((r) => r.layout), ["single", "sharded"]);
    const params = 2 * 300 * 32 + 2 * (2 * 32 + 32 * 32 * 2 + 32 * 16 * 2 + 3 * 32 * 64) + 32;
    for (const r of rows) {
      assertEquals(r.f32Bytes, 4 * params);
      assert(r.fileBytes > 2 * params && r.fileBytes < 2 * params + 16 * 1024, `${r.layout}: ${r.fileBytes} bytes`);
      assert(r.peakBytes > 0 && r.seconds > 0, JSON.stringify(r));
    }
    assertEquals(rows[0].shards, 1);
    assert(rows[1].shards > 1, `${rows[1].shards} shards`);
  },
});

Deno.test({
  name: "quick preset runs end to end and writes tables, charts and a manifest",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "mole-bench-" });
    try {
      const args = ["run", "-A", "--frozen", new URL("./main.ts", import.meta.url).pathname, "--preset", "quick"];
      const run = await new Deno.Command(Deno.execPath(), {
        args: [...args, "--out", out, "--no-torch", "--soak", "4"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
      assert(run.success, text);
      const files = new Set([...Deno.readDirSync(out)].map((e) => e.name));
      for (const f of ["layer", "ratios", "step", "soak"]) {
        assert(files.has(`${f}.csv`) && files.has(`${f}.md`), `missing ${f} table in ${[...files]}`);
      }
      for (const f of ["layer_over_lora.png", "step_tokens_per_s.png", "soak.png", "manifest.json"]) {
        assert(files.has(f), `missing ${f}`);
      }
      const csv = Deno.readTextFileSync(`${out}/layer.csv`).trim().split("\n");
      assertEquals(csv.length, 1 + LAYER_METHODS.length);
      const manifest = JSON.parse(Deno.readTextFileSync(`${out}/manifest.json`));
      assertEquals(manifest.preset, "quick");
      assert(manifest.environment.commit);
      assert(text.includes("memory flat over 4 training steps"), text);
      assert(text.includes("PyTorch reference skipped"), text);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name: "usage errors are one line with exit code 2",
  async fn() {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--frozen", new URL("./main.ts", import.meta.url).pathname, "--tokens", "0,x"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(run.code, 2);
    const err = new TextDecoder().decode(run.stderr).trim();
    assertEquals(err.split("\n").length, 1, err);
    assert(err.startsWith("error: --tokens"), err);
  },
});

Deno.test({
  name: "torch reference: same outputs, loss and gradients as our layers (1e-4)",
  ignore: torch === null,
  async fn() {
    await initBackend("cpu");
    const cases = [];
    const ours = new Map<string, Awaited<ReturnType<typeof layerOutputs>>>();
    for (const method of [...LAYER_METHODS, DISPATCH]) {
      const m = method === DISPATCH ? "topk" : method as LayerCase["method"];
      const c: LayerCase = { method: m, tokens: 16, d: 8, experts: 4, rank: 2, topk: USES_TOPK.has(m) ? 2 : null };
      const layer = buildLayer(c, 1, 0.5);
      const x = layerInput(c);
      cases.push(await checkCase(method, c, layer, x, method));
      ours.set(method, await layerOutputs(layer, x));
      layer.dispose();
      x.dispose();
    }
    const res = await runTorch<TorchCheckResult>({ cases }, { device: "cpu", threads: 1, check: true });
    assertEquals(res.results.length, cases.length);
    for (const r of res.results) {
      const o = ours.get(r.id)!;
      assert(maxRelDiff(o.y, r.y) < 1e-4, `${r.id}: y differs by ${maxRelDiff(o.y, r.y)}`);
      assertAlmostEquals(o.loss, r.loss, 1e-4 * (1 + Math.abs(r.loss)), `${r.id}: loss`);
      assertEquals(Object.keys(o.grads).sort(), Object.keys(r.grads).sort(), `${r.id}: gradient names`);
      for (const [name, g] of Object.entries(r.grads)) {
        const diff = maxRelDiff(o.grads[name], g);
        assert(diff < 1e-4, `${r.id}: gradient of ${name} differs by ${diff}`);
      }
    }
  },
});

Deno.test("step bench: the torch reference gets every method's experts, rank, α and k; FLOPs by hand for LoRA", async () => {
  await initBackend("cpu");
  const req = torchStepRequest(STEP_METHOD_NAMES, { batch: 2, seqLen: 8 }, 3, 1, "real-vocab").steps;
  assertEquals(req.model.vocabSize, 32001);
  assertEquals(req.model.tieEmbeddings, false);
  const by = Object.fromEntries(req.methods.map((m) => [m.id, m]));
  assertEquals(by.lora, { id: "lora", method: "lora", nExperts: 1, rank: 16, alpha: 32 });
  assertEquals(by.topk, { id: "topk", method: "topk", nExperts: 8, rank: 2, alpha: 4, topK: 2 });
  assertEquals(by.soft, { id: "soft", method: "soft", nExperts: 8, rank: 2, alpha: 4, topK: 8 });
  assertEquals(by.dynmole.topK, 2);
  assertEquals([by["moa-soft"].method, by["moa-soft"].rank], ["moa-soft", 16]);
  // LoRA on the embedded shape: per token, forward F = base projections + attention + head + adapters;
  // a step is 2F (forward, activation gradients) + the adapters' weight gradients, times the tokens.
  const base = embeddedBase();
  const model = new LlamaModel(base, STEP_METHODS.lora(), new Rng(1));
  const d = 128, ff = 344, q = 128, kv = 64, S = 64, V = 406;
  const proj = d * q + d * kv + d * kv + q * d + 3 * d * ff;
  const lora = 16 * ((d + q) + (d + kv) + (d + kv) + (q + d) + 3 * (d + ff));
  const forward = 2 * 2 * proj + 2 * 2 * 2 * S * 4 * 32 + 2 * d * V + 2 * 2 * lora;
  assertEquals(stepFlops(model, 1024, S), 1024 * (2 * forward + 2 * 2 * lora));
  model.dispose();
  base.dispose();
});

Deno.test({
  name:
    "step bench: an ':unfused' variant routes with the composed ops, clones saves and updates per parameter, then restores",
  ignore: !loadBlas(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assertEquals(stepMethodParts("topk:unfused"), ["topk", "unfused"]);
    await initBackend("blas");
    const counts = new Map<string, number>();
    const names = [FUSED.topKRoute, FUSED.adamWAll, FUSED.adamW, "Identity"];
    const kernels = names.map((n) => tf.getKernel(n, "blas")!);
    const step = async (method: string) => {
      counts.clear();
      await benchSteps([method], { batch: 2, seqLen: 8 }, { warmup: 0, rounds: 1, perRound: 1 });
      return Object.fromEntries(names.map((n) => [n, counts.get(n) ?? 0]));
    };
    for (const k of kernels) {
      tf.unregisterKernel(k.kernelName, "blas");
      tf.registerKernel({
        ...k,
        kernelFunc: (a) => (counts.set(k.kernelName, (counts.get(k.kernelName) ?? 0) + 1), k.kernelFunc(a)),
      });
    }
    try {
      const [fused, unfused, again] = [await step("topk"), await step("topk:unfused"), await step("topk")];
      assert(
        fused[FUSED.topKRoute] > 0 && fused[FUSED.adamWAll] === 1 && fused[FUSED.adamW] === 0,
        JSON.stringify(fused),
      );
      assertEquals(unfused[FUSED.topKRoute], 0);
      assertEquals(unfused[FUSED.adamWAll], 0);
      assert(unfused[FUSED.adamW] > 1 && unfused.Identity > fused.Identity, JSON.stringify(unfused));
      assertEquals(again, fused, "every switch is back on after the variant");
    } finally {
      for (const k of kernels) {
        tf.unregisterKernel(k.kernelName, "blas");
        tf.registerKernel(k);
      }
    }
  },
});

Deno.test({
  name: "step bench: a ':js' twin runs the same method with the native kernels off, then restores them",
  ignore: !loadBlas(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assertEquals([stepMethodBase("topk:js"), stepMethodBase("topk")], ["topk", "topk"]);
    await initBackend("blas");
    if ((await loadNative()).symbols === null) return; // no compiler here: nothing to switch off
    // record, per SwiGLU kernel call, whether the native kernels were on
    const k = tf.getKernel(FUSED.swiGlu, "blas")!;
    const seen: boolean[] = [];
    tf.unregisterKernel(k.kernelName, "blas");
    tf.registerKernel({ ...k, kernelFunc: (a) => (seen.push(native() !== null), k.kernelFunc(a)) });
    try {
      const rows = await benchSteps(["lora", "lora:js"], { batch: 2, seqLen: 8 }, {
        warmup: 0,
        rounds: 1,
        perRound: 1,
      });
      assertEquals(rows.map((r) => r.method), ["lora", "lora:js"]);
    } finally {
      tf.unregisterKernel(k.kernelName, "blas");
      tf.registerKernel(k);
    }
    const half = seen.length / 2; // one lora step (native), then one lora:js step (JS), same number of calls
    assertEquals(seen, [...Array(half).fill(true), ...Array(half).fill(false)]);
    assert(half > 0 && native() !== null, "the native kernels are back on after the bench");
  },
});
