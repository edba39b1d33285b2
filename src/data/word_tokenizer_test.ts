import { DataError } from "../errors.ts";
import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";
import { SPECIAL_TOKENS, splitWords, WordTokenizer } from "./word_tokenizer.ts";

const INSTRUCTION = "Please choose the correct answer to the question: what colour is the fox?\n\n" +
  "Answer1: red Answer2: blue\n\nAnswer format: answer1/answer2";

Deno.test("splitWords lowercases, splits punctuation and keeps answer words whole", () => {
  assertEquals(
    splitWords(INSTRUCTION).join(" "),
    "please choose the correct answer to the question : what colour is the fox ? answer1 : red answer2 : blue " +
      "answer format : answer1 / answer2",
  );
  assertEquals(
    splitWords("### Response:\n_ (solution1) ending3; option2!").join(" "),
    "# # # response : _ ( solution1 ) ending3 ; option2 !",
  );
  assertEquals(splitWords("  \n "), []);
});

Deno.test("special tokens take ids 0..3 and words follow sorted", () => {
  const tok = WordTokenizer.fromTexts(["the fox is red .", "a bear ?"]);
  assertEquals(tok.vocab, [...SPECIAL_TOKENS, ".", "?", "a", "bear", "fox", "is", "red", "the"]);
  assertEquals([tok.padId, tok.bosId, tok.eosId, tok.unkId], [0, 1, 2, 3]);
  assertEquals(tok.vocabSize, 12);
  assertEquals(tok.encode("The FOX is red."), [11, 8, 9, 10, 4]);
});

Deno.test("the vocabulary does not depend on text order or repetition", () => {
  const a = WordTokenizer.fromTexts(["b a", "c a"]);
  const b = WordTokenizer.fromTexts(["c a a", "a b"]);
  assertEquals(a.toJSON(), b.toJSON());
});

Deno.test("unknown words and special-token spellings in text encode as <unk>", () => {
  const tok = WordTokenizer.fromTexts(["the fox"]);
  assertEquals(tok.encode("the wolf <s> <pad>"), [tok.idOf("the"), 3, 3, 3]);
  assertEquals(splitWords("</s>"), ["<", "/", "s>"]);
  assert(!tok.has("<s>"));
});

Deno.test("decode re-attaches punctuation and drops pad, bos and eos", () => {
  const tok = WordTokenizer.fromTexts([INSTRUCTION, "### Response:\nthe correct answer is answer2", "( _ )"]);
  const ids = [tok.bosId, ...tok.encode(INSTRUCTION), tok.eosId, tok.padId, tok.padId];
  assertEquals(
    tok.decode(ids),
    "please choose the correct answer to the question: what colour is the fox? answer1: red answer2: blue " +
      "answer format: answer1/answer2",
  );
  assertEquals(
    tok.decode(tok.encode("### Response:\nthe correct answer is answer2")),
    "### response: the correct answer is answer2",
  );
  assertEquals(tok.decode(tok.encode("( the _ )")), "(the _)");
  assertEquals(tok.decode([3]), "<unk>");
});

Deno.test("encode ∘ decode is the identity on word ids", () => {
  const texts = [
    INSTRUCTION,
    "the box did not fit in the bag because the _ was too big.",
    "### Instruction:\n(x) y; z!",
  ];
  const tok = WordTokenizer.fromTexts(texts);
  for (const t of texts) {
    const ids = tok.encode(t);
    assertEquals(tok.encode(tok.decode(ids)), ids, t);
  }
});

Deno.test("toJSON / fromJSON round-trips", () => {
  const tok = WordTokenizer.fromTexts([INSTRUCTION]);
  const back = WordTokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
  assertEquals(back.vocab, tok.vocab);
  assertEquals(back.encode(INSTRUCTION), tok.encode(INSTRUCTION));
});

Deno.test("fromJSON rejects a malformed cache with a DataError", () => {
  assertThrows(() => WordTokenizer.fromJSON(null), DataError, "not an object");
  assertThrows(() => WordTokenizer.fromJSON({ type: "bpe", version: 1, vocab: [] }), DataError, 'type "word"');
  assertThrows(
    () => WordTokenizer.fromJSON({ type: "word", version: 1, vocab: ["<s>", "<pad>", "</s>", "<unk>"] }),
    DataError,
    "must start with <pad> <s> </s> <unk>",
  );
  assertThrows(
    () => WordTokenizer.fromJSON({ type: "word", version: 1, vocab: [...SPECIAL_TOKENS, "b", "a"] }),
    DataError,
    "not sorted",
  );
});

Deno.test("fromWords refuses multi-token words", () => {
  assertThrows(() => WordTokenizer.fromWords(["fox."]), DataError, '"fox." is not a single token');
  assertEquals(WordTokenizer.fromWords(["Fox", "fox", "<s>"]).vocab, [...SPECIAL_TOKENS, "fox"]);
});
