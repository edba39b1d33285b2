import { join } from "node:path";
import { DataError } from "../errors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../testing/asserts.ts";
import { hfTokenizerFromJson, loadHfTokenizer } from "./hf_tokenizer.ts";

type Json = Record<string, unknown>;

/** GPT-2's byte → printable-character table; a byte's id in GPT-2 / Llama 3 vocabularies is its index here. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (const [lo, hi] of [[33, 126], [161, 172], [174, 255]]) for (let b = lo; b <= hi; b++) bs.push(b);
  const cs = [...bs];
  for (let b = 0, n = 0; b < 256; b++) {
    if (!bs.includes(b)) bs.push(b), cs.push(256 + n++);
  }
  return bs.map((_, i) => String.fromCodePoint(cs[i])); // id i ↦ its character
}

function added(id: number, content: string): Json {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** A Llama 3-style byte-level BPE: 256 byte tokens, 9 merges ("hello", "Ġworld"), 3 special tokens. */
function llama3StyleJson(): Json {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((c, id) => (vocab[c] = id));
  const merges = "h e|l l|he ll|hell o|Ġ w|o r|Ġw or|l d|Ġwor ld".split("|").map((m) => m.split(" "));
  merges.forEach(([a, b], i) => (vocab[a + b] = 256 + i)); // hello = 259, Ġworld = 264
  const bos = "<|begin_of_text|>";
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [added(265, bos), added(266, "<|end_of_text|>"), added(267, "<|eot_id|>")],
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        {
          type: "Split",
          pattern: {
            Regex:
              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
          },
          behavior: "Isolated",
          invert: false,
        },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: "Sequence",
      processors: [
        { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: "TemplateProcessing",
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
          pair: [],
          special_tokens: { [bos]: { id: bos, ids: [265], tokens: [bos] } },
        },
      ],
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab,
      merges,
    },
  };
}

/** A Llama 2-style SentencePiece BPE: <unk> <s> </s>, 256 <0xNN> byte-fallback tokens, "▁hello", "▁world". */
function llama2StyleJson(): Json {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 3 + b;
  for (const piece of ["▁", "h", "e", "l", "o", "w", "r", "d"]) vocab[piece] = Object.keys(vocab).length;
  const merges = ["▁ h", "e l", "▁h el", "l o", "▁hel lo", "▁ w", "o r", "▁w or", "l d", "▁wor ld"];
  for (const m of merges) vocab[m.replace(" ", "")] = Object.keys(vocab).length; // ▁hello = 271, ▁world = 276
  const special = (id: number, content: string) => ({ ...added(id, content), normalized: false });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
    normalizer: {
      type: "Sequence",
      normalizers: [{ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }],
    },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges,
    },
  };
}

/** Llama 2's tokenizer_config.json: special tokens as serialized AddedToken objects. */
const LLAMA2_CONFIG = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: { __type: "AddedToken", content: "<s>", lstrip: false, normalized: false, rstrip: false },
  clean_up_tokenization_spaces: false,
  eos_token: { __type: "AddedToken", content: "</s>", lstrip: false, normalized: false, rstrip: false },
  legacy: true,
  model_max_length: 1000000000000000,
  pad_token: null,
  tokenizer_class: "LlamaTokenizer",
  unk_token: { __type: "AddedToken", content: "<unk>", lstrip: false, normalized: false, rstrip: false },
};

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
