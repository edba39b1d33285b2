import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import type { QARecord } from "../data/types.ts";
import { WordTokenizer } from "../data/word_tokenizer.ts";
import { BaseWeights } from "../model/base.ts";
import { parseLlamaConfig } from "../model/config.ts";
import { LlamaModel } from "../model/llama.ts";
import { methodConfig } from "../routers/registry.ts";
import { assert, assertAlmostEquals, assertEquals } from "../testing/asserts.ts";
import { Rng } from "../testing/tensors.ts";
import { curvePoint } from "./curve.ts";
import { evaluate } from "./evaluate.ts";

await initBackend("cpu");

const TEXTS = [
  "please choose the correct answer to the question : which ? answer1 : x answer2 : y answer3 : z",
  "answer format : answer1 / answer2 / answer3 true false the correct answer is ### instruction response is it",
];
const tok = WordTokenizer.fromTexts(TEXTS);
const id = (w: string) => tok.encode(w)[0];

/** A stand-in model whose next-token logits are 10 at `next(last input token)` and 0 elsewhere. */
function stubModel(next: (last: number) => number, vocab = tok.vocabSize): LlamaModel {
  return {
    cfg: { vocabSize: vocab },
    method: null,
    logits: (ids: tf.Tensor2D) =>
      tf.tidy(() => {
        const rows = Array.from(ids.dataSync()).map((last) => {
          const row = new Array(vocab).fill(0);
          row[next(last)] = 10;
          return row;
        });
        return tf.tensor2d(rows, [rows.length, vocab]);
      }),
  } as unknown as LlamaModel;
}

function record(answer: string, task: QARecord["task"] = "social_i_qa"): QARecord {
  return {
    task,
    instruction: "please choose the correct answer to the question : which ? answer1 : x answer2 : y answer3 : z\n\n" +
      "answer format : answer1/answer2/answer3",
    input: "",
    output: `the correct answer is ${answer}`,
    answer,
  };
}

const RECORDS = [record("answer2"), record("answer1"), record("answer2"), record("answer3"), {
  ...record("true", "boolq"),
  instruction: "is it ? answer format : true/false",
}];
const OPTS = { template: "compact", maxLen: 64, batchSize: 2 } as const;

Deno.test("curvePoint: score-protocol accuracy and mean answer cross-entropy, macro-averaged over tasks", async () => {
  const p = await curvePoint(stubModel(() => id("answer2")), tok, RECORDS, OPTS);
  // log-softmax of a row with one 10 and V − 1 zeros: the 10 scores 10 − L, every other token −L
  const L = Math.log(Math.exp(10) + tok.vocabSize - 1);
  // social_i_qa: answer2 right twice (loss L − 10), wrong twice (loss L); boolq: true/false tie at −L, the
  // first (true) wins, so right with loss L
  assertAlmostEquals(p.accuracy, (2 / 4 + 1) / 2, 1e-12);
  assertAlmostEquals(p.loss, ((2 * (L - 10) + 2 * L) / 4 + L) / 2, 1e-4);
});

Deno.test("curvePoint: accuracy is the score protocol's average; batching across tasks changes nothing", async () => {
  const model = stubModel((last) => (last === id("is") ? id("answer3") : id("false")));
  const ev = await evaluate(model, tok, RECORDS, { ...OPTS, protocol: "score", maxNewTokens: 4 });
  for (const batchSize of [1, 2, 5]) {
    const p = await curvePoint(model, tok, RECORDS, { ...OPTS, batchSize });
    assertAlmostEquals(p.accuracy, ev.average, 1e-12);
  }
  const none = await curvePoint(model, tok, [], OPTS);
  assert(Number.isNaN(none.accuracy) && Number.isNaN(none.loss), "no records: NaN, not 0");
});

Deno.test("curvePoint on a real tiny routed model: matches evaluate, finite loss, no tensor left behind", async () => {
  const cfg = parseLlamaConfig({
    vocabSize: tok.vocabSize,
    dModel: 16,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 4,
    dFF: 24,
    maxSeqLen: 96,
  });
  const base = BaseWeights.random(cfg, new Rng(1), 0.3);
  const model = new LlamaModel(base, methodConfig("dynmole", {}), new Rng(2));
  await curvePoint(model, tok, RECORDS, OPTS); // the first forward caches causal masks and RoPE tables
  const before = tf.memory().numTensors;
  const p = await curvePoint(model, tok, RECORDS, OPTS);
  assertEquals(tf.memory().numTensors, before);
  const ev = await evaluate(model, tok, RECORDS, { ...OPTS, protocol: "score", maxNewTokens: 4 });
  assertAlmostEquals(p.accuracy, ev.average, 1e-12);
  assert(Number.isFinite(p.loss) && p.loss > 0, `loss ${p.loss}`);
  model.dispose();
  base.dispose();
});
