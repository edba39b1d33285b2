/**
 * Full training steps of the embedded-default model (a 2-layer Llama, d 128, vocab 406, built from random
 * weights so the bench does not depend on the data suite) through the real `train()` loop: forward, loss with
 * the method's aux terms, backward, gradient clipping, AdamW. Every method adapts all seven projections at
 * the same total rank (LoRA r = 16; MoE 8 experts × r 2), dropout 0 as in the embedded studies.
 *
 * Methods are timed in interleaved rounds (a few steps of each, in turn) so a busy machine slows them alike
 * and their ratios stay fair. The soak runs one long `train()` and samples `tf.memory()` as it goes.
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../src/data/batch.ts";
import { BaseWeights } from "../src/model/base.ts";
import { parseLlamaConfig } from "../src/model/config.ts";
import { LlamaModel } from "../src/model/llama.ts";
import { type MethodConfig, methodConfig } from "../src/routers/registry.ts";
import { parseTrainConfig } from "../src/train/config.ts";
import { train, type TrainData } from "../src/train/trainer.ts";
import { Rng } from "../src/util/rng.ts";
import { summarize, type Timing } from "./stats.ts";

/** The embedded-default model's shape. */
export const EMBEDDED_DEFAULT = {
  vocabSize: 406,
  dModel: 128,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  headDim: 32,
  dFF: 344,
  maxSeqLen: 128,
  tieEmbeddings: true,
};

const ALL_TARGETS = ["q", "k", "v", "o", "gate", "up", "down"];
const MOA_LORA_TYPES = ["Q", "K", "V", "O", "FFN_UP", "FFN_GATE", "FFN_DOWN"];

/** Step-bench methods: name → config at total rank 16 per projection (MoE: 8 experts × r 2, top-2). */
export const STEP_METHODS: Record<string, () => MethodConfig> = {
  lora: () => methodConfig("lora", { rank: 16, alpha: 32, dropout: 0, targets: ALL_TARGETS }),
  topk: () => methodConfig("topk", { nExperts: 8, topK: 2, rank: 2, alpha: 4, dropout: 0, targets: ALL_TARGETS }),
  soft: () => methodConfig("topk", { nExperts: 8, topK: 8, rank: 2, alpha: 4, dropout: 0, targets: ALL_TARGETS }),
  threshold: () => methodConfig("threshold", { nExperts: 8, rank: 2, alpha: 4, dropout: 0, targets: ALL_TARGETS }),
  adamole: () => methodConfig("adamole", { nExperts: 8, rank: 2, alpha: 4, dropout: 0, targets: ALL_TARGETS }),
  dynmole: () =>
    methodConfig("dynmole", { nExperts: 8, keepTopK: 2, rank: 2, alpha: 4, dropout: 0, targets: ALL_TARGETS }),
  // MoA: one rank-16 LoRA per projection type (the same adapter budget as LoRA r 16) + the block router.
  "moa-soft": () => methodConfig("moa-soft", { types: MOA_LORA_TYPES, rank: 16, alpha: 32 }),
  "moa-sparse": () => methodConfig("moa-sparse", { types: MOA_LORA_TYPES, rank: 16, alpha: 32 }),
};
export type StepMethod = keyof typeof STEP_METHODS;
export const STEP_METHOD_NAMES = Object.keys(STEP_METHODS);

export interface StepShape {
  batch: number;
  seqLen: number;
}

/** `count` random batches of [batch, seqLen] tokens: every token real, every next token a target. */
export function randomBatches(shape: StepShape, count: number, vocab: number, seed = 7): Batch[] {
  const rng = new Rng(seed);
  const n = shape.batch * shape.seqLen;
  return Array.from({ length: count }, () => {
    const ids = Int32Array.from({ length: n + 1 }, () => Math.floor(rng.next() * vocab));
    return {
      inputIds: ids.slice(0, n),
      targetIds: ids.slice(1, n + 1),
      lossMask: new Float32Array(n).fill(1),
      attnMask: new Float32Array(n).fill(1),
      batchSize: shape.batch,
      seqLen: shape.seqLen,
    };
  });
}

/** The frozen random base of the embedded-default shape. */
export function embeddedBase(seed = 3): BaseWeights {
  const base = BaseWeights.random(parseLlamaConfig(EMBEDDED_DEFAULT), new Rng(seed));
  base.setTrainable(false);
  return base;
}

/** Run `steps` training updates of `model` and return each step's wall time (ms). */
async function stepTimes(model: LlamaModel, data: TrainData, steps: number, seed: number): Promise<number[]> {
  const times: number[] = [];
  let last = performance.now();
  await train(model, data, {
    config: parseTrainConfig({ maxSteps: steps, logEvery: steps, lr: 1e-4 }),
    seed,
    runHash: "bench",
    hooks: {
      onStep: () => {
        const now = performance.now();
        times.push(now - last);
        last = now;
      },
    },
  });
  return times;
}

export interface StepResult {
  method: string;
  timing: Timing;
  tokensPerStep: number;
  trainable: number;
}

/**
 * Per-step timings of each method: `warmup` untimed steps each, then `rounds` rounds in which every method
 * runs `perRound` steps in turn.
 */
export async function benchSteps(
  methods: string[],
  shape: StepShape,
  opts: { warmup: number; rounds: number; perRound: number },
): Promise<StepResult[]> {
  const base = embeddedBase();
  const batches = randomBatches(shape, 4, EMBEDDED_DEFAULT.vocabSize);
  const data: TrainData = { epoch: () => batches };
  const models = methods.map((m) => new LlamaModel(base, STEP_METHODS[m](), new Rng(11)));
  const samples = methods.map(() => [] as number[]);
  try {
    for (const [i, model] of models.entries()) if (opts.warmup > 0) await stepTimes(model, data, opts.warmup, i);
    for (let r = 0; r < opts.rounds; r++) {
      for (const [i, model] of models.entries()) samples[i].push(...await stepTimes(model, data, opts.perRound, r));
    }
    return methods.map((method, i) => ({
      method,
      timing: summarize(samples[i]),
      tokensPerStep: shape.batch * shape.seqLen,
      trainable: models[i].numTrainable(),
    }));
  } finally {
    for (const m of models) m.dispose();
    base.dispose();
  }
}

export interface SoakSample {
  step: number;
  numTensors: number;
  numBytes: number;
  /** Process resident set (MiB): JS heap, wasm memory and native buffers together. */
  rssMiB: number;
}

/** `steps` training updates of `method`, sampling tf.memory() at step 1, every `every` steps and the last. */
export async function soak(
  method: string,
  shape: StepShape,
  steps: number,
  every: number,
): Promise<{ samples: SoakSample[]; msPerStep: number; before: SoakSample; after: SoakSample }> {
  const snap = (step: number): SoakSample => {
    const m = tf.memory();
    return { step, numTensors: m.numTensors, numBytes: m.numBytes, rssMiB: Deno.memoryUsage().rss / 2 ** 20 };
  };
  const base = embeddedBase();
  const batches = randomBatches(shape, 8, EMBEDDED_DEFAULT.vocabSize);
  const model = new LlamaModel(base, STEP_METHODS[method](), new Rng(11));
  const before = snap(0);
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  await train(model, { epoch: () => batches }, {
    config: parseTrainConfig({ maxSteps: steps, logEvery: steps, lr: 1e-4 }),
    seed: 5,
    runHash: "soak",
    hooks: {
      onStep: (step, total) => {
        if (step === 1 || step % every === 0 || step === total) samples.push(snap(step));
      },
    },
  });
  const msPerStep = (performance.now() - t0) / steps;
  model.dispose();
  base.dispose();
  return { samples, msPerStep, before, after: snap(steps) };
}
