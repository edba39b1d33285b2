import { join } from "node:path";
import { DataError } from "../errors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../testing/asserts.ts";
import { type Json, LLAMA2_CONFIG, llama2StyleJson, llama3StyleJson } from "../testing/hf_tokenizers.ts";
import { hfTokenizerFromJson, loadHfTokenizer } from "./hf_tokenizer.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hf_tokenizer_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeTokenizerDir(dir: string, json: unknown, config?: unknown): Promise<void> {
  await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(json));
  if (config !== undefined) await Deno.writeTextFile(join(dir, "tokenizer_config.json"), JSON.stringify(config));
}

Deno.test("byte-level BPE (Llama 3 style): merges, bytes, special tokens and ids", async () => {
  await withTempDir(async (dir) => {
    const config = { bos_token: "<|begin_of_text|>", eos_token: "<|end_of_text|>", model_max_length: 131072 };
    await writeTokenizerDir(dir, llama3StyleJson(), config);
    const tok = await loadHfTokenizer(dir);
    assertEquals([tok.vocabSize, tok.bosId, tok.eosId, tok.padId], [268, 265, 266, 266]);
    assertEquals(tok.encode("hello world"), [259, 264]); // no <|begin_of_text|>: encode adds no specials
    assertEquals(tok.encode("hello, world!"), [259, 11, 264, 0]); // "," and "!" are GPT-2 ids 11 and 0
    assertEquals(tok.encode(" é"), [220, 127, 102]); // Ġ, then é's UTF-8 bytes C3 A9
    assertEquals(tok.encode("hello<|eot_id|>"), [259, 267]); // special-token text maps to its id
    assertEquals(tok.decode([265, 259, 264, 266]), "hello world"); // specials dropped
    for (const text of ["hello, world!", "  spaces\tand\nnewlines ", "naïve café 日本 🙂", "a , b . c"]) {
      assertEquals(tok.decode(tok.encode(text)), text);
    }
  });
});

Deno.test("byte-level BPE without tokenizer_config.json: bos from the post-processor, eos by well-known name", () => {
  const tok = hfTokenizerFromJson(llama3StyleJson(), null, "t.json");
  assertEquals([tok.bosId, tok.eosId, tok.padId], [265, 266, 266]);
  // minimal files: no added_tokens and no pipeline keys
  const { model } = llama3StyleJson();
  const bare = hfTokenizerFromJson({ model, added_tokens: null }, null, "t.json");
  assertEquals([bare.vocabSize, bare.bosId, bare.eosId, bare.padId], [265, null, null, 0]);
  // no ByteLevel pre-tokenizer: " " is not mapped to "Ġ", has no token and is dropped; w = 86, or = 261, ld = 263
  assertEquals(bare.encode("hello world"), [259, 86, 261, 263]);
});

Deno.test("tokenizer_config.json's eos/pad (AddedToken objects) and add_bos_token: false are honoured", () => {
  const config = {
    add_bos_token: false,
    eos_token: "<|eot_id|>",
    pad_token: { __type: "AddedToken", content: "<|end_of_text|>", special: true },
  };
  const tok = hfTokenizerFromJson(llama3StyleJson(), config, "t.json");
  assertEquals([tok.bosId, tok.eosId, tok.padId], [null, 267, 266]);
  assertEquals(hfTokenizerFromJson(llama3StyleJson(), { eos_token: null }, "t.json").eosId, null);
});

Deno.test("SentencePiece BPE with byte fallback (Llama 2 style): ids, fallback bytes and decoding", async () => {
  await withTempDir(async (dir) => {
    await writeTokenizerDir(dir, llama2StyleJson(), LLAMA2_CONFIG);
    const tok = await loadHfTokenizer(join(dir, "tokenizer.json"));
    assertEquals([tok.vocabSize, tok.bosId, tok.eosId, tok.padId], [277, 1, 2, 2]);
    assertEquals(tok.encode("hello world"), [271, 276]);
    assertEquals(tok.encode("hello é"), [271, 259, 3 + 0xc3, 3 + 0xa9]); // "▁", <0xC3>, <0xA9>
    assertEquals(tok.tokenToId("▁world"), 276);
    assertEquals(tok.idToToken(198), "<0xC3>");
    assertEquals(tok.decode([1, 271, 276, 2]), "hello world");
    for (const text of ["hello world", "héllo wörld", "worldhello", "x"]) {
      assertEquals(tok.decode(tok.encode(text)), text);
    }
  });
});

Deno.test("decode drops ids the vocabulary lacks, returns '' for nothing, and rejects non-integers", () => {
  const tok = hfTokenizerFromJson(llama3StyleJson(), null, "t.json");
  assertEquals(tok.decode([]), "");
  assertEquals(tok.decode([265, 266]), "");
  assertEquals(tok.decode([259, 5000, 264]), "hello world");
  assertThrows(() => tok.decode([1.5]), DataError, "t.json: decode got a non-integer id 1.5");
});

Deno.test("a character outside the vocabulary is dropped without unk_token (as in tokenizers), else an error", () => {
  const json = llama3StyleJson();
  const model = json.model as Json;
  delete (model.vocab as Record<string, number>)["Ã"]; // byte 0xC3, the lead byte of é
  assertEquals(hfTokenizerFromJson(json, null, "t.json").encode("hello é"), [259, 220, 102]);
  model.unk_token = "<unk>"; // named, but not in the vocabulary
  assertThrows(
    () => hfTokenizerFromJson(json, null, "t.json").encode("é"),
    DataError,
    `t.json: token "<unk>" has no id`,
  );
});

Deno.test("loadHfTokenizer names a missing, malformed or unusable tokenizer.json", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "tokenizer.json");
    await assertRejects(() => loadHfTokenizer(dir), DataError, `${path}: not found; a Hugging Face tokenizer`);
    await Deno.writeTextFile(join(dir, "tokenizer.model"), "");
    await assertRejects(() => loadHfTokenizer(dir), DataError, "a SentencePiece model, is there: convert it");
    await Deno.writeTextFile(path, "{ broken");
    await assertRejects(() => loadHfTokenizer(dir), DataError, `${path}: not valid JSON`);
    await Deno.writeTextFile(path, JSON.stringify({ version: "1.0" }));
    await assertRejects(() => loadHfTokenizer(dir), DataError, `${path}: not a tokenizer.json`);
    await Deno.writeTextFile(path, JSON.stringify({ model: { type: "Mystery" } }));
    await assertRejects(() => loadHfTokenizer(dir), DataError, `${path}: cannot build the tokenizer`);
    await writeTokenizerDir(dir, llama3StyleJson(), { bos_token: "<bos>" });
    const e = await assertRejects(() => loadHfTokenizer(dir), DataError, `names bos_token "<bos>", which is no token`);
    assert(!e.message.includes("\n"));
    await Deno.writeTextFile(join(dir, "tokenizer_config.json"), "[");
    await assertRejects(() => loadHfTokenizer(dir), DataError, "tokenizer_config.json: not valid JSON");
  });
});
