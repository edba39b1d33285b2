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
import { adapterFlops } from "../src/model/flops.ts";
import { LlamaModel } from "../src/model/llama.ts";
import { type MethodConfig, methodConfig } from "../src/routers/registry.ts";
import { parseTrainConfig } from "../src/train/config.ts";
import { train, type TrainData } from "../src/train/trainer.ts";
import { Rng } from "../src/util/rng.ts";
import { loadBlas } from "../src/backend/blas_ffi.ts";
import { nativeEnabled, setNativeEnabled } from "../src/backend/native.ts";
import { setSharedSaves } from "../src/backend/saved_tensors.ts";
import { setFusedRouting } from "../src/moe/ops.ts";
import { setAdamWOneCall } from "../src/train/optim.ts";
import { gflopRate, summarize, type Timing } from "./stats.ts";

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

/**
 * The real-format shape (issue 15): a 2-layer, hidden-64 Llama with a Llama-2-sized vocabulary (32,001
 * tokens), untied LM head, 4 heads / 2 KV heads. Its cost is the vocabulary: logits, softmax and
 * cross-entropy over 32,001 columns for every position.
 */
export const REAL_VOCAB = {
  vocabSize: 32001,
  dModel: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  headDim: 16,
  dFF: 172,
  maxSeqLen: 128,
  tieEmbeddings: false,
};

/** Step-bench model shapes by name. */
export const STEP_MODELS = { embedded: EMBEDDED_DEFAULT, "real-vocab": REAL_VOCAB } as const;
export type StepModel = keyof typeof STEP_MODELS;

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

/**
 * Variants of a step-bench method ("lora:js"), timed in the same rounds as the method itself, so each pair gives
 * one optimisation's speed-up from one run. `off` switches it off and returns what restores the setting.
 */
export const STEP_VARIANTS: Record<string, { what: string; off: () => () => void }> = {
  js: {
    what: "Native kernels over the JS loops",
    off: () => {
      const was = nativeEnabled();
      setNativeEnabled(false);
      return () => setNativeEnabled(was);
    },
  },
  unfused: {
    what: "Fused routing kernels, shared saved tensors and one-call AdamW over the per-op path",
    off: () => {
      const [routing, saves, adam] = [setFusedRouting(false), setSharedSaves(false), setAdamWOneCall(false)];
      return () => (setFusedRouting(routing), setSharedSaves(saves), setAdamWOneCall(adam));
    },
  },
};

/** "topk:js" → ["topk", "js"]; "topk" → ["topk", null]. */
export function stepMethodParts(name: string): [string, string | null] {
  const i = name.indexOf(":");
  return i < 0 ? [name, null] : [name.slice(0, i), name.slice(i + 1)];
}

/** "topk:js" → "topk". */
export function stepMethodBase(name: string): string {
  return stepMethodParts(name)[0];
}

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

/** A frozen random base of a step-bench shape (the embedded default unless named). */
export function embeddedBase(seed = 3, model: StepModel = "embedded"): BaseWeights {
  const base = BaseWeights.random(parseLlamaConfig(STEP_MODELS[model]), new Rng(seed));
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
  /** Useful FLOPs of one step (`stepFlops`). */
  flops: number;
  /** The PyTorch reference's step on CPU, timed in the same rounds (absent without torch). */
  torch?: Timing & { trainable: number };
}

/**
 * The machine's matmul ceiling: `cblas_sgemm` GFLOP/s on n×n×n float32 (null where no BLAS loads). The step
 * bench states its useful FLOP/s as a share of this, measured in the same run.
 */
export async function sgemmPeak(n = 1024, minMs = 500): Promise<number | null> {
  const blas = loadBlas();
  if (!blas) return null;
  const rng = new Rng(1);
  const a = Float32Array.from({ length: n * n }, () => rng.next());
  const b = Float32Array.from({ length: n * n }, () => rng.next());
  const c = new Float32Array(n * n);
  return await gflopRate(2 * n ** 3, minMs, () => blas.sgemm(false, false, n, n, n, a, b, c));
}

/** A step method as `torch_step.py` builds it: the routing rule's name in the reference and its sizes. */
export interface TorchStepMethod {
  id: string;
  method: string;
  nExperts: number;
  rank: number;
  alpha: number;
  topK?: number;
}

/** The reference's spec of step method `name` (same experts, rank, α and k as `STEP_METHODS`). */
export function torchStepMethod(name: string): TorchStepMethod {
  const c = STEP_METHODS[name]() as MethodConfig & Record<string, unknown>;
  const num = (k: string) => (typeof c[k] === "number" ? c[k] as number : undefined);
  const topK = num("topK") ?? num("keepTopK");
  return {
    id: name,
    method: name === "soft" ? "soft" : c.method,
    nExperts: num("nExperts") ?? 1,
    rank: c.rank as number,
    alpha: c.alpha as number,
    ...(topK !== undefined ? { topK } : {}),
  };
}

/** The torch_step.py request for `methods` at `shape`: `reps` more timed steps of each. */
export function torchStepRequest(
  methods: string[],
  shape: StepShape,
  reps: number,
  warmup: number,
  model: StepModel = "embedded",
) {
  const m = parseLlamaConfig(STEP_MODELS[model]);
  return {
    steps: {
      model: { ...STEP_MODELS[model], ropeTheta: m.ropeTheta, rmsNormEps: m.rmsNormEps },
      batch: shape.batch,
      seqLen: shape.seqLen,
      methods: methods.map(torchStepMethod),
      plan: { warmup, reps },
    },
  };
}

/**
 * Useful FLOPs of one training step on `tokens` tokens of sequences of `seqLen`: the forward matmuls F (every
 * projection with its adapters and routers at their dense cost, q·kᵀ and attention·v over the full S×S as both
 * implementations compute them, the LM head), the backward's activation gradients (F again) and the weight
 * gradients of the trainable adapters and routers only (the base is frozen). Elementwise work is not counted.
 */
export function stepFlops(model: LlamaModel, tokens: number, seqLen: number): number {
  const { cfg } = model;
  let base = 0;
  for (const b of model.blocks) for (const p of Object.values(b.proj)) base += 2 * p.dIn * p.dOut;
  const attention = cfg.nLayers * 2 * 2 * seqLen * cfg.nHeads * cfg.headDim;
  const head = 2 * cfg.dModel * cfg.vocabSize;
  const adapters = adapterFlops(model, undefined).dense;
  const forward = base + attention + head + adapters;
  return tokens * (2 * forward + adapters);
}

/**
 * Per-step timings of each method: `warmup` untimed steps each, then `rounds` rounds in which every method
 * runs `perRound` steps in turn.
 */
export async function benchSteps(
  methods: string[],
  shape: StepShape,
  opts: { warmup: number; rounds: number; perRound: number },
  /** Called after each round (the PyTorch reference times its steps there, under the same load). */
  afterRound?: (round: number) => Promise<void>,
  model: StepModel = "embedded",
): Promise<StepResult[]> {
  const base = embeddedBase(3, model);
  const batches = randomBatches(shape, 4, STEP_MODELS[model].vocabSize);
  const data: TrainData = { epoch: () => batches };
  const models = methods.map((m) => new LlamaModel(base, STEP_METHODS[stepMethodBase(m)](), new Rng(11)));
  const samples = methods.map(() => [] as number[]);
  const timed = async (i: number, steps: number, seed: number) => {
    const variant = stepMethodParts(methods[i])[1];
    const restore = variant ? STEP_VARIANTS[variant].off() : () => {};
    try {
      return await stepTimes(models[i], data, steps, seed);
    } finally {
      restore();
    }
  };
  try {
    for (const i of models.keys()) if (opts.warmup > 0) await timed(i, opts.warmup, i);
    for (let r = 0; r < opts.rounds; r++) {
      for (const i of models.keys()) samples[i].push(...await timed(i, opts.perRound, r));
      await afterRound?.(r);
    }
    const tokens = shape.batch * shape.seqLen;
    return methods.map((method, i) => ({
      method,
      timing: summarize(samples[i]),
      tokensPerStep: tokens,
      trainable: models[i].numTrainable(),
      flops: stepFlops(models[i], tokens, shape.seqLen),
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
