/** Stand-ins the evaluation tests share: a tiny word tokenizer, a model whose logits follow the last token, records. */
import * as tf from "@tensorflow/tfjs";
import type { QARecord } from "../data/types.ts";
import { WordTokenizer } from "../data/word_tokenizer.ts";
import type { LlamaModel } from "../model/llama.ts";

/** The instruction every stub record asks (SIQA's three-choice layout). */
export const STUB_INSTRUCTION =
  "please choose the correct answer to the question : which ? answer1 : x answer2 : y answer3 : z\n\n" +
  "answer format : answer1/answer2/answer3";

/** A word tokenizer over the stub records' words plus `extra` texts. */
export function stubTokenizer(extra: string[] = []): WordTokenizer {
  return WordTokenizer.fromTexts([
    "please choose the correct answer to the question : which ? answer1 : x answer2 : y answer3 : z",
    "answer format : answer1 / answer2 / answer3 true false the correct answer is ### instruction response",
    ...extra,
  ]);
}

/**
 * A stand-in model whose next-token logits are 10 at `next(last input token)` and 0 elsewhere: its "hidden
 * state" of a position is that position's token id, and its head maps an id to the logits row.
 */
export function stubModel(next: (last: number) => number, vocab: number): LlamaModel {
  const hidden = (ids: tf.Tensor2D) => ids.reshape([-1, 1]).cast("float32") as tf.Tensor2D;
  const head = (h: tf.Tensor2D) =>
    tf.tidy(() => {
      const rows = Array.from(h.dataSync()).map((last) => {
        const row = new Array(vocab).fill(0);
        row[next(last)] = 10;
        return row;
      });
      return tf.tensor2d(rows, [rows.length, vocab]);
    });
  return {
    cfg: { vocabSize: vocab },
    method: null,
    hidden,
    head,
    logits: (ids: tf.Tensor2D) => tf.tidy(() => head(hidden(ids))),
  } as unknown as LlamaModel;
}

/** A stub record of `task` whose correct answer word is `answer`. */
export function stubRecord(answer: string, task: QARecord["task"] = "social_i_qa"): QARecord {
  return { task, instruction: STUB_INSTRUCTION, input: "", output: `the correct answer is ${answer}`, answer };
}
