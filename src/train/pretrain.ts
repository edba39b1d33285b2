/**
 * Pretraining batches: documents tokenized as [bos, …, eos], in a seeded order that changes each epoch, packed
 * whole into fixed-length windows (a document never straddles two windows, so a question keeps its answer;
 * the rest of a window is padding, masked out of the loss). Every next token inside a document counts.
 */
import type { Batch } from "../data/batch.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import { Rng } from "../util/rng.ts";
import type { TrainData } from "./trainer.ts";

/** Token ids of each document, with bos/eos where the tokenizer has them. */
export function tokenizeDocs(tok: Tokenizer, docs: readonly string[]): number[][] {
  const bos = tok.bosId === null ? [] : [tok.bosId];
  const eos = tok.eosId === null ? [] : [tok.eosId];
  return docs.map((d) => [...bos, ...tok.encode(d), ...eos]);
}

/**
 * Pack documents (shuffled by `rng`) whole into windows of `seqLen` tokens (longer ones are cut at `seqLen`),
 * first-fit in order, then into batches of `batchSize` windows (a last partial batch is dropped).
 */
export function packBatches(docs: readonly number[][], seqLen: number, batchSize: number, rng: Rng): Batch[] {
  const windows: number[][] = [];
  let current: number[] = [];
  for (const i of rng.shuffle(docs.map((_, i) => i))) {
    const doc = docs[i].slice(0, seqLen);
    if (current.length + doc.length > seqLen) {
      windows.push(current);
      current = [];
    }
    current.push(...doc);
  }
  if (current.length > 0) windows.push(current);
  const batches: Batch[] = [];
  for (let w0 = 0; w0 + batchSize <= windows.length; w0 += batchSize) {
    const n = batchSize * seqLen;
    const inputIds = new Int32Array(n);
    const targetIds = new Int32Array(n);
    const lossMask = new Float32Array(n);
    const attnMask = new Float32Array(n);
    for (let b = 0; b < batchSize; b++) {
      const w = windows[w0 + b];
      for (let t = 0; t < w.length; t++) {
        inputIds[b * seqLen + t] = w[t];
        attnMask[b * seqLen + t] = 1;
        if (t + 1 < w.length) {
          targetIds[b * seqLen + t] = w[t + 1];
          lossMask[b * seqLen + t] = 1;
        }
      }
    }
    batches.push({ inputIds, targetIds, lossMask, attnMask, batchSize, seqLen });
  }
  return batches;
}

/** TrainData over packed documents: a fresh document order per epoch, fixed by `seed`. */
export function packedData(docs: readonly number[][], seqLen: number, batchSize: number, seed: number): TrainData {
  return { epoch: (e) => packBatches(docs, seqLen, batchSize, new Rng(seed).fork(`pretrain-epoch${e}`)) };
}
