import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { loadBlas } from "../backend/blas_ffi.ts";
import { collate } from "../data/batch.ts";
import { NonFiniteLossError } from "../errors.ts";
import { BaseWeights } from "../model/base.ts";
import { LlamaModel, lmLoss } from "../model/llama.ts";
import { forwardContext } from "../moe/moe_linear.ts";
import { METHOD_NAMES, methodConfig, type MethodName } from "../routers/registry.ts";
import { assert, assertAllClose, assertAlmostEquals, assertEquals, assertRejects } from "../testing/asserts.ts";
import { Rng } from "../testing/tensors.ts";
import { tinyConfig, toyData, toyExamples } from "../testing/toy.ts";
import { latestCheckpoint, listCheckpoints, loadCheckpoint } from "./checkpoint.ts";
import { parseTrainConfig } from "./config.ts";
import { AdamW } from "./optim.ts";
import { learningRate } from "./schedule.ts";
import { batchLoss, gradientNorm, lossPositions, train, type TrainData } from "./trainer.ts";

await initBackend("cpu");

const CFG = tinyConfig();

function build(method: MethodName | null, overrides: Record<string, unknown> = {}) {
  const base = BaseWeights.random(CFG, new Rng(1), 0.3);
  const model = new LlamaModel(base, method ? methodConfig(method, overrides) : null, new Rng(2));
  return { base, model };
}

const quick = (o: Record<string, unknown> = {}) => parseTrainConfig({ lr: 1e-2, batchSize: 8, logEvery: 1, ...o });

for (const m of METHOD_NAMES) {
  Deno.test(`${m}: a tiny Llama trains end to end and its loss falls`, async () => {
    const { base, model } = build(m, m === "mola" ? { experts: "24" } : {});
    const r = await train(model, toyData(3), { config: quick({ maxSteps: 30 }), seed: 3, runHash: "toy" });
    const first = r.losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = r.losses.slice(-3).reduce((a, b) => a + b) / 3;
    assert(last < 0.8 * first, `${m}: loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
    assertEquals(r.steps, 30);
    assert(r.tokens === 30 * 8 * 6, "real tokens counted");
    model.dispose();
    base.dispose();
  });
}

Deno.test("the same seed gives the same losses bit for bit on cpu (dropout on)", async () => {
  const run = async () => {
    const { base, model } = build("topk", { nExperts: 4, dropout: 0.1 });
    const r = await train(model, toyData(5), { config: quick({ maxSteps: 8 }), seed: 5, runHash: "det" });
    model.dispose();
    base.dispose();
    return r.losses;
  };
  const a = await run();
  assertEquals(await run(), a);
});

Deno.test("an interrupted run resumes from its last checkpoint to the same final loss, bit for bit", async () => {
  const dir = await Deno.makeTempDir();
  const config = quick({ maxSteps: 12, checkpointEvery: 4, keepCheckpoints: 2 });
  const full = build("adamole", { nExperts: 4, dropout: 0.1 });
  const want = await train(full.model, toyData(7), { config, seed: 7, runHash: "r" });
  full.model.dispose();
  full.base.dispose();

  const a = build("adamole", { nExperts: 4, dropout: 0.1 });
  const crash = new Error("simulated crash at step 6");
  await assertRejects(() =>
    train(a.model, toyData(7), {
      config,
      seed: 7,
      runHash: "r",
      checkpointDir: dir,
      hooks: {
        onStep: (s) => {
          if (s === 6) throw crash;
        },
      },
    })
  );
  a.model.dispose();
  a.base.dispose();
  assertEquals((await latestCheckpoint(dir))!.endsWith("checkpoint-000004"), true);

  const b = build("adamole", { nExperts: 4, dropout: 0.1 });
  const got = await train(b.model, toyData(7), { config, seed: 7, runHash: "r", checkpointDir: dir });
  assertEquals(got.resumedFrom, 4);
  assertEquals(got.losses, want.losses);
  assertEquals(got.finalLoss, want.finalLoss);
  assertEquals((await listCheckpoints(dir)).map((p) => p.split("/").at(-1)), [
    "checkpoint-000008",
    "checkpoint-000012",
  ]);
  b.model.dispose();
  b.base.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a checkpoint from another run is never resumed", async () => {
  const dir = await Deno.makeTempDir();
  const a = build("lora", { rank: 2 });
  await train(a.model, toyData(1), { config: quick({ maxSteps: 2 }), seed: 1, runHash: "one", checkpointDir: dir });
  const opt = new AdamW(a.model.trainableParams(), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const last = (await latestCheckpoint(dir))!;
  await assertRejects(
    () => loadCheckpoint(last, a.model.trainableParams(), opt, "two"),
    Error,
    "belongs to another run",
  );
  opt.dispose();
  a.model.dispose();
  a.base.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a NaN loss stops the run naming the step, and the last good checkpoint survives", async () => {
  const dir = await Deno.makeTempDir();
  const { base, model } = build("lora", { rank: 2 });
  const embed = base.get("model.embed_tokens.weight");
  const err = await assertRejects(
    () =>
      train(model, toyData(2), {
        config: quick({ maxSteps: 10, checkpointEvery: 2 }),
        seed: 2,
        runHash: "nan",
        checkpointDir: dir,
        hooks: { onStep: (s) => void (s === 3 && embed.assign(tf.fill(embed.shape, NaN))) },
      }),
    NonFiniteLossError,
  );
  assertEquals(err.message.split(";")[0], "step 4: the loss is NaN");
  assert(err.message.includes("checkpoint-000002"), err.message);
  const last = (await latestCheckpoint(dir))!;
  assert(last.endsWith("checkpoint-000002"));
  const opt = new AdamW(model.trainableParams(), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const state = await loadCheckpoint(last, model.trainableParams(), opt, "nan");
  assertEquals(state.step, 2);
  assert(state.losses.every(Number.isFinite));
  opt.dispose();
  model.dispose();
  base.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("memory stays flat: 50 training steps leave tf.memory().numTensors unchanged", async () => {
  const { base, model } = build("dynmole", { nExperts: 4, dropout: 0.05 });
  const counts: number[] = [];
  await train(model, toyData(4), {
    config: quick({ maxSteps: 50, gradAccum: 2, evalEvery: 10 }),
    seed: 4,
    runHash: "mem",
    hooks: { onStep: () => void counts.push(tf.memory().numTensors) },
  });
  assertEquals(counts.length, 50);
  assertEquals(new Set(counts.slice(1)).size, 1, `tensor counts over steps: ${[...new Set(counts)]}`);
  model.dispose();
  base.dispose();
});

Deno.test("gradient accumulation over two micro-batches equals one batch of both (equal-length examples)", async () => {
  const ex = toyExamples(8, 9);
  const halves: TrainData = { epoch: () => [collate(ex.slice(0, 4)), collate(ex.slice(4))] };
  const whole: TrainData = { epoch: () => [collate(ex)] };
  const run = async (data: TrainData, gradAccum: number, batchSize: number) => {
    const { base, model } = build("lora", { rank: 2, dropout: 0 });
    await train(model, data, { config: quick({ maxSteps: 1, gradAccum, batchSize }), seed: 1, runHash: "acc" });
    const out = await Promise.all([...model.trainableParams().values()].map(async (v) => Array.from(await v.data())));
    model.dispose();
    base.dispose();
    return out.flat();
  };
  assertAllClose(await run(halves, 2, 4), await run(whole, 1, 8), 1e-6);
});

Deno.test("the loss on loss-carrying positions only equals the full-logits loss (value and gradients)", () => {
  const { base, model } = build("topk", { nExperts: 3, topK: 2 });
  const b = collate(toyExamples(4, 5));
  assert(lossPositions(b) !== null, "the toy batch has prompt positions without loss");
  const vars = model.trainableVariables();
  const full = tf.variableGrads(() =>
    tf.tidy(() => {
      const ctx = forwardContext({ training: true, mask: tf.tensor1d(b.attnMask) });
      const ids = tf.tensor2d(b.inputIds, [b.batchSize, b.seqLen], "int32");
      const ce = lmLoss(model.logits(ids, ctx), tf.tensor1d(b.targetIds, "int32"), tf.tensor1d(b.lossMask));
      return ce.add(model.auxLoss(ctx)!.total) as tf.Scalar;
    }), vars);
  const rows = tf.variableGrads(() => batchLoss(model, b, null, true), vars);
  assertAllClose([rows.value.dataSync()[0]], [full.value.dataSync()[0]], 1e-7, 1e-6);
  for (const v of vars) {
    assertAllClose(Array.from(rows.grads[v.name].dataSync()), Array.from(full.grads[v.name].dataSync()), 1e-7, 1e-5);
  }
  tf.dispose([full.value, rows.value, ...Object.values(full.grads), ...Object.values(rows.grads)]);
  model.dispose();
  base.dispose();
});

Deno.test("AdamW matches a hand computation of two steps with decoupled weight decay", () => {
  const p = tf.variable(tf.tensor1d([1.0, -2.0]));
  const opt = new AdamW(new Map([["p", p]]), { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
  const g1 = tf.tensor1d([0.5, -1.0]);
  opt.update(new Map([["p", g1]]), 0.1);
  // step 1: m̂ = g, v̂ = g² → update = lr·sign(g)·(1/(1+ε/|g|)); decay first: p·(1 − 0.01)
  const want1 = [1.0 * 0.99 - 0.1, -2.0 * 0.99 + 0.1];
  assertAllClose(Array.from(p.dataSync()), want1, 1e-6);
  const g2 = tf.tensor1d([1.0, 0.0]);
  opt.update(new Map([["p", g2]]), 0.1);
  const m = [0.9 * 0.05 + 0.1 * 1.0, 0.9 * -0.1 + 0];
  const v = [0.99 * 0.0025 + 0.01 * 1.0, 0.99 * 0.01 + 0];
  const c1 = 1 - 0.9 ** 2;
  const c2 = 1 - 0.99 ** 2;
  const want2 = want1.map((x, i) => x * (1 - 0.01) - 0.1 * (m[i] / c1) / (Math.sqrt(v[i] / c2) + 1e-8));
  assertAllClose(Array.from(p.dataSync()), want2, 1e-6);
  opt.dispose();
});

Deno.test("learning-rate schedules follow transformers' LambdaLR formulas", () => {
  assertEquals(learningRate("constant", 1, 0, 10, 5), 1);
  assertEquals([0, 1, 4, 5, 9].map((s) => learningRate("constant_with_warmup", 2, s, 10, 4)), [0, 0.5, 2, 2, 2]);
  assertEquals([0, 2, 6, 10].map((s) => learningRate("linear", 1, s, 10, 2)), [0, 1, 0.5, 0]);
  assertAlmostEquals(learningRate("cosine", 1, 6, 10, 2), 0.5, 1e-12);
  assertAlmostEquals(learningRate("cosine", 1, 2, 10, 2), 1, 1e-12);
  assertAlmostEquals(learningRate("cosine", 1, 10, 10, 2), 0, 1e-12);
});

Deno.test("clipping: the factor is maxNorm/(‖g‖ + 1e-6) when the global norm exceeds maxNorm, else 1", async () => {
  const grads = new Map<string, tf.Tensor>([["a", tf.tensor1d([3, 0])], ["b", tf.tensor1d([0, 4])]]);
  const big = await gradientNorm(grads, 1);
  assertAlmostEquals(big.norm, 5, 1e-6);
  assertAlmostEquals(big.scale, 1 / (5 + 1e-6), 1e-7);
  const small = await gradientNorm(new Map([["a", tf.tensor1d([0.3, 0.4])]]), 1);
  assertEquals(small.scale, 1);
  assertEquals((await gradientNorm(grads, 0)).scale, 1, "maxNorm 0 turns clipping off");
});

Deno.test("AdamW with a gradient scale equals AdamW on the scaled gradients", () => {
  const run = (g: number[], scale: number) => {
    const p = tf.variable(tf.tensor1d([1.0, -2.0, 0.5]));
    const opt = new AdamW(new Map([["p", p]]), { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
    for (let i = 0; i < 3; i++) opt.update(new Map([["p", tf.tensor1d(g.map((x) => x * (i + 1)))]]), 0.1, scale);
    const out = Array.from(p.dataSync());
    opt.dispose();
    p.dispose();
    return out;
  };
  assertAllClose(run([0.5, -1.0, 2.0], 0.25), run([0.125, -0.25, 0.5], 1), 1e-6);
});

Deno.test({
  name: "AdamW and the gradient norm: blas's fused kernels (one call for all parameters) equal the composed ops on cpu",
  ignore: loadBlas() === null,
  fn: async () => {
    const run = async (backend: "cpu" | "blas") => {
      await initBackend(backend);
      const p = tf.variable(tf.tensor2d([[1.0, -2.0, 0.5], [0.1, 0.0, -0.3]]));
      const q = tf.variable(tf.tensor1d([3, -1]));
      const r = tf.variable(tf.tensor1d([7])); // no gradient reaches it: it keeps its value
      const opt = new AdamW(new Map<string, tf.Variable>([["p", p], ["r", r], ["q", q]]), {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0.01,
      });
      const norms: number[] = [];
      for (let i = 0; i < 4; i++) {
        const grads = new Map<string, tf.Tensor>([
          ["p", tf.tensor2d([[0.5, -1.0, 2.0], [i, -i, 0.25]])],
          ["q", tf.tensor1d([i * 0.1, -3])],
        ]);
        const { norm, scale } = await gradientNorm(grads, 1);
        norms.push(norm, scale);
        opt.update(grads, 1e-2, scale);
        tf.dispose([...grads.values()]);
      }
      const out = [...norms, ...p.dataSync(), ...q.dataSync(), ...r.dataSync()];
      opt.dispose();
      tf.dispose([p, q, r]);
      return out;
    };
    const want = await run("cpu");
    const got = await run("blas");
    await initBackend("cpu");
    assertAllClose(got, want, 1e-7, 1e-6);
    assertEquals(got.at(-1), 7);
  },
});

Deno.test("train config errors name the field: lr out of range, negative warmup, unknown key", () => {
  const msg = (v: unknown) => {
    try {
      parseTrainConfig(v);
    } catch (e) {
      return (e as Error).message;
    }
  };
  assertEquals(msg({ lr: 0 }), "train.lr: must be in (0, 1]; try 1e-4 to 1e-3");
  assertEquals(msg({ lr: 5 }), "train.lr: must be in (0, 1]; try 1e-4 to 1e-3");
  assertEquals(msg({ warmupSteps: -1 }), "train.warmupSteps: must be ≥ 0");
  assertEquals(
    msg({ learningRate: 1e-3 }),
    "train: unknown key 'learningRate'; remove or rename (unknown keys are rejected)",
  );
});

Deno.test("epochs of different lengths are walked in order, and a resumed run finds the same batches", async () => {
  const ex = toyExamples(12, 3);
  // epoch e has 3 − e % 3 batches: 3, 2, 1, 3, … (whole-document packing can shorten later epochs; indexing
  // every epoch by the first one's length would run off the end of epoch 1)
  const data: TrainData = {
    epoch: (e) => Array.from({ length: 3 - (e % 3) }, (_, i) => collate(ex.slice(i * 4, i * 4 + 4))),
  };
  const run = async (dir: string | null, stopAt?: number) => {
    const { base, model } = build("lora", { rank: 2 });
    const seen: number[] = [];
    try {
      return await train(model, data, {
        config: quick({ maxSteps: 9, checkpointEvery: 3 }),
        seed: 3,
        runHash: "uneven",
        checkpointDir: dir,
        hooks: {
          onStep: (s, _t, loss) => {
            seen.push(loss);
            if (s === stopAt) throw new Error("stop");
          },
        },
      });
    } catch {
      return null;
    } finally {
      model.dispose();
      base.dispose();
    }
  };
  const full = (await run(null))!;
  assertEquals(full.steps, 9);
  const dir = await Deno.makeTempDir();
  assertEquals(await run(dir, 5), null);
  const resumed = (await run(dir))!;
  assertEquals(resumed.resumedFrom, 3);
  assertEquals(resumed.losses, full.losses);
  await Deno.remove(dir, { recursive: true });
});
