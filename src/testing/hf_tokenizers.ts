/** Tokenizer fixtures in the Hugging Face format (tokenizer.json / tokenizer_config.json) that tests write to disk. */
export type Json = Record<string, unknown>;

/** GPT-2's byte → printable-character table; a byte's id in GPT-2 / Llama 3 vocabularies is its index here. */
export function bytesToUnicode(): string[] {
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
export function llama3StyleJson(): Json {
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
export function llama2StyleJson(): Json {
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
export const LLAMA2_CONFIG = {
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
