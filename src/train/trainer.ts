/**
 * The training loop, top to bottom (nanoGPT-style, one update per iteration):
 *
 *   for each update: lr ← schedule(step)
 *     for each of gradAccum micro-batches: loss = (CE(next token) + Σ coef·aux) / gradAccum;  g += ∇loss
 *     g ← clip(g, maxGradNorm);  stop if the loss is NaN/Inf (before touching the weights)
 *     AdamW(g, lr);  log / eval / checkpoint hooks
 *
 * Only `model.trainableParams()` are updated (the adapters; the base while it is pretrained). Everything is
 * fixed by the seed: batch order per epoch (the data provider's), dropout masks per (step, micro-batch).
 * With a checkpoint directory the run resumes from its newest checkpoint and continues bit for bit (the
 * partial checkpoint a killed run was writing is cleared first). MOLE_FAULT=nan:train-loss@<n> makes the n-th
 * update's loss NaN, to test the divergence path (src/util/fault.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { FUSED, hasFusedKernels } from "../backend/fused_kernels.ts";
import type { Batch } from "../data/batch.ts";
import { NonFiniteLossError } from "../errors.ts";
import { gatherRows, type LlamaModel, lmLoss } from "../model/llama.ts";
import { forwardContext } from "../moe/moe_linear.ts";
import { faultValue } from "../util/fault.ts";
import { hash32 } from "../util/rng.ts";
import {
  latestCheckpoint,
  loadCheckpoint,
  removePartialCheckpoints,
  saveCheckpoint,
  type TrainerState,
} from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import { AdamW } from "./optim.ts";
import { learningRate } from "./schedule.ts";

/** Where batches come from: epoch `e`'s batches, deterministic in (seed, e). */
export interface TrainData {
  epoch(e: number): Batch[];
}

export interface StepInfo {
  step: number;
  total: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  elapsedMs: number;
}

export interface TrainHooks {
  /** Every `logEvery` updates and after the last. */
  onLog?(info: StepInfo): void | Promise<void>;
  /** Every `evalEvery` updates. */
  onEval?(step: number): void | Promise<void>;
  /** After every update (progress bars). */
  onStep?(step: number, total: number, loss: number): void | Promise<void>;
}

export interface TrainRun {
  config: TrainConfig;
  seed: number;
  /** Identifies the run's inputs; a checkpoint of another run is never resumed. */
  runHash: string;
  checkpointDir?: string | null;
  hooks?: TrainHooks;
}

export interface TrainResult {
  steps: number;
  losses: number[];
  finalLoss: number;
  /** Training wall time, including time before a resume. */
  elapsedMs: number;
  tokens: number;
  tokensPerSec: number;
  /** The update a resumed run started from (null: from scratch). */
  resumedFrom: number | null;
}

/**
 * The global gradient norm ‖g‖ and torch's clip_grad_norm_ factor min(1, maxNorm / (‖g‖ + 1e-6)), in float32
 * as the tensor ops computed it (1 when maxNorm is 0: clipping off). The optimiser applies the factor.
 */
export async function gradientNorm(grads: Map<string, tf.Tensor>, maxNorm: number): Promise<GradNorm> {
  const gs = [...grads.values()];
  const sq = hasFusedKernels()
    ? tf.engine().runKernel(FUSED.sumSquares, Object.fromEntries(gs.map((g, i) => [`g${i}`, g]))) as tf.Scalar
    : tf.tidy(() => tf.addN(gs.map((g) => g.square().sum())));
  const norm = Math.fround(Math.sqrt((await sq.data())[0]));
  sq.dispose();
  const f = Math.fround;
  const scale = maxNorm > 0 ? Math.min(1, f(f(maxNorm) / f(norm + f(1e-6)))) : 1;
  return { norm, scale };
}

export interface GradNorm {
  norm: number;
  /** Multiply every gradient by this before the update. */
  scale: number;
}

/** Tensors of one batch: ids [B, S], targets, loss and padding masks [B·S]. */
function batchTensors(b: Batch) {
  return {
    ids: tf.tensor2d(b.inputIds, [b.batchSize, b.seqLen], "int32"),
    targets: tf.tensor1d(b.targetIds, "int32"),
    lossMask: tf.tensor1d(b.lossMask),
    attnMask: tf.tensor1d(b.attnMask),
  };
}

/** Positions of `b` that carry loss, or null when every position does (then the head runs on all of them). */
export function lossPositions(b: Batch): Int32Array | null {
  let n = 0;
  for (const m of b.lossMask) if (m !== 0) n++;
  if (n === b.lossMask.length || n === 0) return null;
  const at = new Int32Array(n);
  for (let i = 0, k = 0; i < b.lossMask.length; i++) if (b.lossMask[i] !== 0) at[k++] = i;
  return at;
}

/**
 * Loss of one micro-batch: next-token cross-entropy plus the method's weighted aux losses. The LM head and the
 * cross-entropy run only on the positions that carry loss (the answer tokens of a prompt/answer record): the
 * same sum over the same positions, without V-wide logits for the prompt.
 */
export function batchLoss(model: LlamaModel, b: Batch, dropoutSeed: number | null, training: boolean): tf.Scalar {
  return tf.tidy(() => {
    const t = batchTensors(b);
    const ctx = forwardContext({ training, seed: dropoutSeed, mask: t.attnMask });
    const h = model.hidden(t.ids, ctx); // [T, d]
    const at = lossPositions(b);
    const ce = at
      ? lmLoss(model.head(gatherRows(h, tf.tensor1d(at, "int32"))), tf.gather(t.targets, at), tf.gather(t.lossMask, at))
      : lmLoss(model.head(h), t.targets, t.lossMask);
    const aux = model.auxLoss(ctx);
    return (aux ? ce.add(aux.total) : ce) as tf.Scalar;
  });
}

const realTokens = (b: Batch) => b.attnMask.reduce((s, v) => s + v, 0);

export function totalSteps(cfg: TrainConfig, batchesPerEpoch: number): number {
  return cfg.maxSteps ?? Math.max(1, Math.ceil((cfg.epochs * batchesPerEpoch) / cfg.gradAccum));
}

export async function train(model: LlamaModel, data: TrainData, run: TrainRun): Promise<TrainResult> {
  const cfg = run.config;
  const params = model.trainableParams();
  const nameOf = new Map([...params].map(([name, v]) => [v.name, name]));
  const vars = [...params.values()];
  const opt = new AdamW(params, { beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay });
  let cache = { e: -1, batches: [] as Batch[] };
  const epochBatches = (e: number) => {
    if (cache.e !== e) cache = { e, batches: data.epoch(e) };
    return cache.batches;
  };
  const perEpoch = epochBatches(0).length;
  const total = totalSteps(cfg, perEpoch);
  // Epochs may differ in length (whole-document packing depends on the order): the i-th micro-batch is found
  // by walking the epochs' actual lengths, which depend only on the seed, so a resumed run finds the same one.
  const starts = [0];
  const batchAt = (i: number) => {
    let e = 0;
    for (;;) {
      if (starts[e + 1] === undefined) starts[e + 1] = starts[e] + Math.max(1, epochBatches(e).length);
      if (i < starts[e + 1]) return epochBatches(e)[i - starts[e]];
      e++;
    }
  };

  let state: TrainerState = { step: 0, runHash: run.runHash, losses: [], elapsedMs: 0, tokens: 0 };
  let resumedFrom: number | null = null;
  const ckptDir = run.checkpointDir ?? null;
  if (ckptDir) await removePartialCheckpoints(ckptDir);
  const ckpt = ckptDir ? await latestCheckpoint(ckptDir) : null;
  if (ckpt) {
    state = await loadCheckpoint(ckpt, params, opt, run.runHash);
    resumedFrom = state.step;
  }
  const checkpoint = () => saveCheckpoint(ckptDir!, params, opt, state, cfg.keepCheckpoints);

  try {
    let windowStart = performance.now();
    let windowTokens = 0;
    for (let step = state.step; step < total; step++) {
      const t0 = performance.now();
      const lr = learningRate(cfg.schedule, cfg.lr, step, total, cfg.warmupSteps);
      const acc = new Map<string, tf.Tensor>();
      let lossSum = tf.scalar(0);
      let stepTokens = 0;
      for (let micro = 0; micro < cfg.gradAccum; micro++) {
        const b = batchAt(step * cfg.gradAccum + micro);
        stepTokens += realTokens(b);
        const seed = hash32(`${run.seed}:dropout:${step}:${micro}`);
        const { value, grads } = tf.variableGrads(() => batchLoss(model, b, seed, true).div(cfg.gradAccum), vars);
        for (const [tfName, g] of Object.entries(grads)) {
          const name = nameOf.get(tfName)!;
          const prev = acc.get(name);
          acc.set(name, prev ? tf.tidy(() => prev.add(g)) : g);
          if (prev) {
            prev.dispose();
            g.dispose();
          }
        }
        const next = lossSum.add(value);
        tf.dispose([lossSum, value]);
        lossSum = next as tf.Scalar;
      }
      const { norm: gradNorm, scale } = await gradientNorm(acc, cfg.maxGradNorm);
      const loss = faultValue("train-loss", (await lossSum.data())[0]);
      lossSum.dispose();
      if (!Number.isFinite(loss)) {
        tf.dispose([...acc.values()]);
        const last = ckptDir ? await latestCheckpoint(ckptDir) : null;
        throw new NonFiniteLossError(
          `step ${step + 1}: the loss is ${loss}; lower the learning rate (lr ${cfg.lr}) or keep gradient clipping on` +
            (last ? `; the last good checkpoint is ${last}` : ""),
        );
      }
      opt.update(acc, lr, scale);
      tf.dispose([...acc.values()]);

      state.step = step + 1;
      state.losses.push(loss);
      state.tokens += stepTokens;
      state.elapsedMs += performance.now() - t0;
      windowTokens += stepTokens;
      await run.hooks?.onStep?.(state.step, total, loss);
      if (state.step % cfg.logEvery === 0 || state.step === total) {
        const now = performance.now();
        await run.hooks?.onLog?.({
          step: state.step,
          total,
          loss,
          lr,
          gradNorm,
          tokensPerSec: windowTokens / Math.max(1e-9, (now - windowStart) / 1000),
          elapsedMs: state.elapsedMs,
        });
        windowStart = now;
        windowTokens = 0;
      }
      if (cfg.evalEvery > 0 && state.step % cfg.evalEvery === 0) await run.hooks?.onEval?.(state.step);
      if (ckptDir && cfg.checkpointEvery > 0 && state.step % cfg.checkpointEvery === 0 && state.step < total) {
        await checkpoint();
      }
    }
    if (ckptDir && state.step > (resumedFrom ?? -1)) await checkpoint();
  } finally {
    opt.dispose();
  }
  return {
    steps: state.step,
    losses: state.losses,
    finalLoss: state.losses.at(-1) ?? NaN,
    elapsedMs: state.elapsedMs,
    tokens: state.tokens,
    tokensPerSec: state.tokens / Math.max(1e-9, state.elapsedMs / 1000),
    resumedFrom,
  };
}
