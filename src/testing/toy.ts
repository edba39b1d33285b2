/** The tiny model and toy task the trainer, checkpoint and fault tests share. */
import type { EncodedExample } from "../data/batch.ts";
import { makeBatches } from "../data/batch.ts";
import { type LlamaConfig, parseLlamaConfig } from "../model/config.ts";
import type { TrainData } from "../train/trainer.ts";
import { Rng } from "../util/rng.ts";

/** 2 layers, d 16, 4 heads over 2 KV heads: big enough to exercise GQA, small enough for milliseconds. */
export function tinyConfig(vocabSize = 16, maxSeqLen = 32): LlamaConfig {
  return parseLlamaConfig({
    vocabSize,
    dModel: 16,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 4,
    dFF: 24,
    maxSeqLen,
  });
}

/** A learnable toy task: after a prompt "1 a b", answer "b a" (reverse two symbols), then eos (2). */
export function toyExamples(n: number, seed: number): EncodedExample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const a = 3 + rng.int(13);
    const b = 3 + rng.int(13);
    return { ids: [1, a, b, b, a, 2], lossMask: [0, 0, 0, 1, 1, 1], promptTokens: 3, truncated: 0 } as EncodedExample;
  });
}

/** Toy batches, reshuffled each epoch by `seed`. */
export function toyData(seed: number, n = 32, batch = 8): TrainData {
  const examples = toyExamples(n, seed);
  return { epoch: (e) => makeBatches(examples, batch, new Rng(seed).fork(`epoch${e}`)) };
}
