/**
 * Training examples as token ids with a loss mask, and padded batches of them — LLM-Adapters' `tokenize` /
 * `generate_and_tokenize_prompt` plus `DataCollatorForSeq2Seq(pad_to_multiple_of=8)`, with two deliberate
 * differences: an over-long example loses the start of its PROMPT (LLM-Adapters cuts the end at `cutoff_len`,
 * which can cut the answer), and padding is on the right with next-token targets laid out explicitly.
 */
import { DataError } from "../errors.ts";
import type { Rng } from "../util/rng.ts";
import { buildPrompt, type TemplateName, trainingParts } from "./prompt.ts";
import type { Tokenizer } from "./tokenizer.ts";
import type { QARecord } from "./types.ts";

export interface EncodeOptions {
  template: TemplateName;
  /** Longest sequence, special tokens included. */
  maxLen: number;
  /** Also train on the prompt tokens (LLM-Adapters' `train_on_inputs`, True there by default). */
  trainOnInputs?: boolean;
  /** Prepend the tokenizer's BOS (default: when it has one). */
  addBos?: boolean;
  /** Append the tokenizer's EOS (default: when it has one). */
  addEos?: boolean;
}

export interface EncodedExample {
  /** [bos?, prompt…, response…, eos?] */
  ids: number[];
  /** Per token: 1 when the loss predicts this token (response and eos; prompt too with trainOnInputs). */
  lossMask: number[];
  /** Prompt tokens kept (after truncation), BOS excluded. */
  promptTokens: number;
  /** Prompt tokens dropped from the left to fit maxLen. */
  truncated: number;
}

/** Encode one record for training; `where` names it in errors. */
export function encodeExample(
  tokenizer: Tokenizer,
  record: Pick<QARecord, "instruction" | "input" | "output" | "task">,
  opts: EncodeOptions,
  where = `record (${record.task})`,
): EncodedExample {
  const { prompt, response } = trainingParts(record, opts.template);
  const bos = (opts.addBos ?? true) && tokenizer.bosId !== null ? [tokenizer.bosId] : [];
  const eos = (opts.addEos ?? true) && tokenizer.eosId !== null ? [tokenizer.eosId] : [];
  const promptIds = tokenizer.encode(prompt);
  const responseIds = tokenizer.encode(response);
  const budget = opts.maxLen - bos.length - responseIds.length - eos.length;
  if (budget < 0) {
    throw new DataError(
      `${where}: the response alone needs ${
        opts.maxLen - budget
      } tokens, more than maxLen ${opts.maxLen}; raise maxLen`,
    );
  }
  const truncated = Math.max(0, promptIds.length - budget);
  const kept = promptIds.slice(truncated);
  const promptMask = opts.trainOnInputs ? 1 : 0;
  return {
    ids: [...bos, ...kept, ...responseIds, ...eos],
    lossMask: [...bos.map(() => 0), ...kept.map(() => promptMask), ...responseIds.map(() => 1), ...eos.map(() => 1)],
    promptTokens: kept.length,
    truncated,
  };
}

/**
 * The evaluation prompt as ids, [bos?, prompt…], its start dropped to fit `maxLen` (leave room for what the
 * model will generate or be scored on). `suffix` (e.g. ANSWER_PREFIX) is appended after the template's prompt.
 */
export function encodePrompt(
  tokenizer: Tokenizer,
  record: Pick<QARecord, "instruction" | "input">,
  opts: { template: TemplateName; maxLen: number; addBos?: boolean; suffix?: string },
): { ids: number[]; truncated: number } {
  const bos = (opts.addBos ?? true) && tokenizer.bosId !== null ? [tokenizer.bosId] : [];
  const ids = tokenizer.encode(buildPrompt(record, opts.template) + (opts.suffix ?? ""));
  const truncated = Math.max(0, ids.length - (opts.maxLen - bos.length));
  return { ids: [...bos, ...ids.slice(truncated)], truncated };
}

/** Encode many records; reports how many were truncated and how many prompt tokens that dropped. */
export function encodeExamples(
  tokenizer: Tokenizer,
  records: readonly QARecord[],
  opts: EncodeOptions,
): { examples: EncodedExample[]; truncatedExamples: number; droppedTokens: number } {
  const examples = records.map((r, i) => encodeExample(tokenizer, r, opts, `record ${i} (${r.task})`));
  return {
    examples,
    truncatedExamples: examples.filter((e) => e.truncated > 0).length,
    droppedTokens: examples.reduce((s, e) => s + e.truncated, 0),
  };
}

/** One batch, row-major [B, S]; position t predicts `targetIds[t]` from tokens 0..t. */
export interface Batch {
  /** [B*S] token ids, right-padded with padId. */
  inputIds: Int32Array;
  /** [B*S] next-token targets: ids[t + 1], padId where there is none. */
  targetIds: Int32Array;
  /** [B*S] 1 where the target at t counts in the loss. */
  lossMask: Float32Array;
  /** [B*S] 1 on real (non-pad) input tokens. */
  attnMask: Float32Array;
  batchSize: number;
  seqLen: number;
}

export interface BatchOptions {
  /** Pad id (default 0, the word tokenizer's and LLM-Adapters' pad). */
  padId?: number;
  /** Round the padded length up to a multiple of this (8 as in LLM-Adapters' collator; 1 = none). */
  padToMultipleOf?: number;
  /** Drop a last batch smaller than batchSize. */
  dropLast?: boolean;
}

/** Pad `examples` into one batch, in the order given. */
export function collate(examples: readonly EncodedExample[], opts: BatchOptions = {}): Batch {
  const pad = opts.padId ?? 0;
  const multiple = opts.padToMultipleOf ?? 1;
  const longest = Math.max(1, ...examples.map((e) => e.ids.length));
  const S = Math.ceil(longest / multiple) * multiple;
  const B = examples.length;
  const inputIds = new Int32Array(B * S).fill(pad); // [B, S]
  const targetIds = new Int32Array(B * S).fill(pad); // [B, S]
  const lossMask = new Float32Array(B * S); // [B, S]
  const attnMask = new Float32Array(B * S); // [B, S]
  examples.forEach((e, b) => {
    const row = b * S;
    for (let t = 0; t < e.ids.length; t++) {
      inputIds[row + t] = e.ids[t];
      attnMask[row + t] = 1;
      if (t + 1 < e.ids.length) {
        targetIds[row + t] = e.ids[t + 1];
        lossMask[row + t] = e.lossMask[t + 1];
      }
    }
  });
  return { inputIds, targetIds, lossMask, attnMask, batchSize: B, seqLen: S };
}

/** Shuffle `examples` with `rng` and cut them into padded batches of `batchSize` (the last may be smaller). */
export function makeBatches(
  examples: readonly EncodedExample[],
  batchSize: number,
  rng: Rng,
  opts: BatchOptions = {},
): Batch[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DataError(`makeBatches: batchSize must be a positive integer, got ${batchSize}`);
  }
  const order = rng.shuffle(examples.map((_, i) => i));
  const batches: Batch[] = [];
  for (let i = 0; i < order.length; i += batchSize) {
    const chunk = order.slice(i, i + batchSize);
    if (opts.dropLast && chunk.length < batchSize) break;
    batches.push(collate(chunk.map((j) => examples[j]), opts));
  }
  return batches;
}
