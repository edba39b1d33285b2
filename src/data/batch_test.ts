import { DataError } from "../errors.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../testing/asserts.ts";
import { Rng } from "../util/rng.ts";
import { collate, encodeExample, encodeExamples, encodePrompt, makeBatches } from "./batch.ts";
import { ANSWER_PREFIX } from "./prompt.ts";
import type { QARecord } from "./types.ts";
import { WordTokenizer } from "./word_tokenizer.ts";

const REC: QARecord = {
  task: "boolq",
  instruction: "is it red?",
  input: "",
  output: "the correct answer is true",
  answer: "true",
};
// compact prompt "### Instruction:\nis it red?\n\n### Response:\n" → # # # instruction : is it red ? # # # response :
const tok = WordTokenizer.fromTexts(["### Instruction: ### Response: is it red? the correct answer is true"]);
const id = (w: string) => tok.idOf(w);
const PROMPT = ["#", "#", "#", "instruction", ":", "is", "it", "red", "?", "#", "#", "#", "response", ":"].map(id);
const RESPONSE = ["the", "correct", "answer", "is", "true"].map(id);

Deno.test("encodeExample: [bos, prompt, response, eos] with loss only on response and eos", () => {
  const e = encodeExample(tok, REC, { template: "compact", maxLen: 64 });
  assertEquals(e.ids, [tok.bosId, ...PROMPT, ...RESPONSE, tok.eosId]);
  assertEquals(e.lossMask, [0, ...PROMPT.map(() => 0), 1, 1, 1, 1, 1, 1]);
  assertEquals([e.promptTokens, e.truncated], [14, 0]);
});

Deno.test("encodeExample: trainOnInputs puts the prompt in the loss too (never the BOS)", () => {
  const e = encodeExample(tok, REC, { template: "compact", maxLen: 64, trainOnInputs: true });
  assertEquals(e.lossMask, [0, ...Array(20).fill(1)]);
});

Deno.test("encodeExample: an over-long prompt loses its start, never the answer", () => {
  const e = encodeExample(tok, REC, { template: "compact", maxLen: 12 });
  assertEquals(e.ids, [tok.bosId, ...PROMPT.slice(-5), ...RESPONSE, tok.eosId]);
  assertEquals(e.ids.length, 12);
  assertEquals([e.promptTokens, e.truncated], [5, 9]);
  assertThrows(
    () => encodeExample(tok, REC, { template: "compact", maxLen: 6 }, "record 3 (boolq)"),
    DataError,
    "record 3 (boolq): the response alone needs 7 tokens, more than maxLen 6",
  );
  const noSpecials = encodeExample(tok, REC, { template: "compact", maxLen: 5, addBos: false, addEos: false });
  assertEquals(noSpecials.ids, RESPONSE);
});

Deno.test("encodePrompt: the evaluation prompt, optionally with the answer prefix, cut from the left", () => {
  assertEquals(encodePrompt(tok, REC, { template: "compact", maxLen: 64 }), {
    ids: [tok.bosId, ...PROMPT],
    truncated: 0,
  });
  const scored = encodePrompt(tok, REC, { template: "compact", maxLen: 64, suffix: ANSWER_PREFIX });
  assertEquals(scored.ids, [tok.bosId, ...PROMPT, ...RESPONSE.slice(0, 4)]);
  assertEquals(encodePrompt(tok, REC, { template: "compact", maxLen: 6 }), {
    ids: [tok.bosId, ...PROMPT.slice(-5)],
    truncated: 9,
  });
});

Deno.test("encodeExamples counts truncations", () => {
  const long = { ...REC, instruction: "is it red? is it red? is it red?" };
  const r = encodeExamples(tok, [REC, long, REC], { template: "compact", maxLen: 22 });
  assertEquals([r.truncatedExamples, r.droppedTokens], [1, 7]);
  assert(r.examples.every((e) => e.ids.length <= 22));
});

Deno.test("collate pads right, shifts targets and masks by hand", () => {
  const a = { ids: [1, 5, 6], lossMask: [0, 0, 1], promptTokens: 1, truncated: 0 };
  const b = { ids: [1, 7, 8, 9, 2], lossMask: [0, 0, 1, 1, 1], promptTokens: 1, truncated: 0 };
  const batch = collate([a, b]);
  assertEquals([batch.batchSize, batch.seqLen], [2, 5]);
  assertEquals([...batch.inputIds], [1, 5, 6, 0, 0, /**/ 1, 7, 8, 9, 2]);
  assertEquals([...batch.targetIds], [5, 6, 0, 0, 0, /**/ 7, 8, 9, 2, 0]);
  assertEquals([...batch.lossMask], [0, 1, 0, 0, 0, /**/ 0, 1, 1, 1, 0]);
  assertEquals([...batch.attnMask], [1, 1, 1, 0, 0, /**/ 1, 1, 1, 1, 1]);
  const padded = collate([a, b], { padToMultipleOf: 8, padId: 3 });
  assertEquals(padded.seqLen, 8);
  assertEquals([...padded.inputIds.subarray(0, 8)], [1, 5, 6, 3, 3, 3, 3, 3]);
  assertEquals([...padded.targetIds.subarray(8, 16)], [7, 8, 9, 2, 3, 3, 3, 3]);
  assertEquals(padded.inputIds.length, 16);
});

Deno.test("makeBatches: every example once, shapes right, fixed by the rng's seed", () => {
  const examples = Array.from({ length: 10 }, (_, i) => ({
    ids: Array.from({ length: 2 + i }, (_, j) => 10 + j),
    lossMask: Array(2 + i).fill(1),
    promptTokens: 0,
    truncated: 0,
  }));
  const batches = makeBatches(examples, 4, new Rng(5));
  assertEquals(batches.map((b) => b.batchSize), [4, 4, 2]);
  for (const b of batches) {
    assertEquals(b.inputIds.length, b.batchSize * b.seqLen);
    assertEquals(b.lossMask.length, b.batchSize * b.seqLen);
  }
  const lengths = batches.flatMap((b) =>
    Array.from(
      { length: b.batchSize },
      (_, r) => b.attnMask.subarray(r * b.seqLen, (r + 1) * b.seqLen).reduce((s, x) => s + x, 0),
    )
  );
  assertEquals(lengths.sort((x, y) => x - y), examples.map((e) => e.ids.length));
  const again = makeBatches(examples, 4, new Rng(5));
  assertEquals(again, batches);
  assertNotEquals(makeBatches(examples, 4, new Rng(6)), batches);
  assertEquals(makeBatches(examples, 4, new Rng(5), { dropLast: true }).length, 2);
  assertEquals(makeBatches(examples, 4, new Rng(5), { padToMultipleOf: 8 }).map((b) => b.seqLen % 8), [0, 0, 0]);
  assertThrows(() => makeBatches(examples, 0, new Rng(5)), DataError, "batchSize must be a positive integer");
});
