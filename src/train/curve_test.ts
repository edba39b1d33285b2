import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { BaseWeights } from "../model/base.ts";
import { LlamaModel } from "../model/llama.ts";
import { methodConfig } from "../routers/registry.ts";
import { assert, assertAlmostEquals, assertEquals } from "../testing/asserts.ts";
import { stubModel as stubModelOf, stubRecord, stubTokenizer } from "../testing/eval_stubs.ts";
import { tinyConfig } from "../testing/toy.ts";
import { Rng } from "../testing/tensors.ts";
import { curvePoint } from "./curve.ts";
import { evaluate } from "./evaluate.ts";

await initBackend("cpu");

const tok = stubTokenizer(["is it"]);
const id = (w: string) => tok.encode(w)[0];

const stubModel = (next: (last: number) => number, vocab = tok.vocabSize) => stubModelOf(next, vocab);
const record = stubRecord;

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
  const cfg = tinyConfig(tok.vocabSize, 96);
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
