import { initBackend } from "../backend/backend.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import { assertAlmostEquals, assertEquals } from "../testing/asserts.ts";
import { stubModel as stubModelOf, stubRecord, stubTokenizer } from "../testing/eval_stubs.ts";
import { type EvalOptions, evaluate } from "./evaluate.ts";

await initBackend("cpu");

const tok = stubTokenizer();
const id = (w: string) => tok.encode(w)[0];

const stubModel = (next: (last: number) => number, vocab = tok.vocabSize) => stubModelOf(next, vocab);
const record = stubRecord;

const OPTS: EvalOptions = { protocol: "score", template: "compact", maxLen: 64, batchSize: 2, maxNewTokens: 8 };

Deno.test("score protocol: the candidate with the highest next-token log-prob after the prefix wins", async () => {
  const model = stubModel(() => id("answer2"));
  const records = [record("answer2"), record("answer1"), record("answer2"), record("answer3"), record("true", "boolq")];
  records[4].instruction = "is it ? answer format : true/false";
  const r = await evaluate(model, tok, records, OPTS);
  assertEquals(r.protocol, "score");
  assertEquals(r.perTask.social_i_qa, { n: 4, correct: 2, accuracy: 0.5, unanswered: 0 });
  // boolq candidates are true/false; answer2 is not one, so both score equally and the first (true) wins
  assertEquals(r.perTask.boolq, { n: 1, correct: 1, accuracy: 1, unanswered: 0 });
  assertAlmostEquals(r.average, (0.5 + 1) / 2, 1e-12);
  // per-record correctness in the order of `records`, although each task is evaluated sorted by length
  assertEquals(r.correct, Uint8Array.from([1, 0, 1, 0, 1]));
});

Deno.test("per-record correctness follows the records' order, not the length-sorted evaluation order", async () => {
  const model = stubModel(() => id("answer2"));
  const records = [record("answer2"), record("answer1"), record("answer2")];
  records[0].instruction += " which which which"; // longest: evaluated last within its task
  records[1].instruction += " which";
  const r = await evaluate(model, tok, records, { ...OPTS, batchSize: 1 });
  assertEquals(r.correct, Uint8Array.from([1, 0, 1]));
});

Deno.test("generate protocol: greedy decoding until eos, then the first answer word in the output", async () => {
  // "the correct answer is answer3 </s>" as a chain: each token determines the next
  const chain = new Map([
    [id("response"), id("the")],
    [id(":"), id("the")],
    [id("the"), id("correct")],
    [id("correct"), id("answer")],
    [id("answer"), id("is")],
    [id("is"), id("answer3")],
    [id("answer3"), tok.eosId!],
  ]);
  const model = stubModel((last) => chain.get(last) ?? tok.eosId!);
  const r = await evaluate(model, tok, [record("answer3"), record("answer1")], { ...OPTS, protocol: "generate" });
  assertEquals(r.perTask.social_i_qa, { n: 2, correct: 1, accuracy: 0.5, unanswered: 0 });
  const silent = stubModel(() => tok.eosId!);
  const s = await evaluate(silent, tok, [record("answer1")], { ...OPTS, protocol: "generate" });
  assertEquals(s.perTask.social_i_qa, { n: 1, correct: 0, accuracy: 0, unanswered: 1 });
});

Deno.test("score protocol sums token log-probs for multi-token candidates (real tokenizers)", async () => {
  // a tokenizer that spells " answerK" as two tokens: "answer" + "K"
  const digits = ["1", "2", "3"].map((d) => tok.encode("answer" + d)[0]);
  const split: Tokenizer = {
    ...tok,
    vocabSize: tok.vocabSize,
    padId: tok.padId,
    bosId: tok.bosId,
    eosId: tok.eosId,
    decode: (ids) => tok.decode(ids),
    encode: (text) => {
      const m = /^ answer([123])$/.exec(text);
      return m ? [id("answer"), digits[Number(m[1]) - 1]] : tok.encode(text);
    },
  };
  // after "answer" the model prefers the token for "3"; after anything else, "answer"
  const model = stubModel((last) => (last === id("answer") ? digits[2] : id("answer")));
  const r = await evaluate(model, split, [record("answer3"), record("answer2")], OPTS);
  assertEquals(r.perTask.social_i_qa!.correct, 1);
});
