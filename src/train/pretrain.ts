/**
 * Pretraining batches: documents tokenized as [bos, …, eos], concatenated in a seeded order that changes each
 * epoch, and cut into fixed-length sequences (GPT-style packing); every next token counts in the loss.
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

/** Pack documents (shuffled by `rng`) into `seqLen + 1`-token windows → batches of next-token targets. */
export function packBatches(docs: readonly number[][], seqLen: number, batchSize: number, rng: Rng): Batch[] {
  const stream = rng.shuffle(docs.map((_, i) => i)).flatMap((i) => docs[i]);
  const windows = Math.floor((stream.length - 1) / seqLen);
  const batches: Batch[] = [];
  for (let w0 = 0; w0 + batchSize <= windows; w0 += batchSize) {
    const n = batchSize * seqLen;
    const inputIds = new Int32Array(n);
    const targetIds = new Int32Array(n);
    for (let b = 0; b < batchSize; b++) {
      const start = (w0 + b) * seqLen;
      for (let t = 0; t < seqLen; t++) {
        inputIds[b * seqLen + t] = stream[start + t];
        targetIds[b * seqLen + t] = stream[start + t + 1];
      }
    }
    const ones = new Float32Array(n).fill(1);
    batches.push({ inputIds, targetIds, lossMask: ones, attnMask: ones, batchSize, seqLen });
  }
  return batches;
}

/** TrainData over packed documents: a fresh document order per epoch, fixed by `seed`. */
export function packedData(docs: readonly number[][], seqLen: number, batchSize: number, seed: number): TrainData {
  return { epoch: (e) => packBatches(docs, seqLen, batchSize, new Rng(seed).fork(`pretrain-epoch${e}`)) };
}
