/**
 * The embedded suite's word-level tokenizer (the tiny model's vocabulary; real checkpoints use their
 * `tokenizer.json`). Text is lowercased and split into words and single punctuation marks, so
 * "Answer1: red" → ["answer1", ":", "red"] and answer words such as `solution2` stay whole. Ids: the four
 * special tokens first (`<pad>` = 0, `<s>`, `</s>`, `<unk>`), then the words sorted, so a vocabulary is a
 * pure function of the word set.
 */
import { DataError } from "../errors.ts";
import type { Tokenizer } from "./tokenizer.ts";

export const PAD = "<pad>";
export const BOS = "<s>";
export const EOS = "</s>";
export const UNK = "<unk>";
/** Special tokens, in id order. */
export const SPECIAL_TOKENS = [PAD, BOS, EOS, UNK] as const;

/** Characters that are always a token of their own. `/` is split too, so "true/false" is three tokens. */
export const PUNCTUATION = ".,?:;!_()#/";
const TOKEN_PATTERN = /[.,?:;!_()#/]|[^\s.,?:;!_()#/]+/g;
/** Tokens written without a space before them when decoding. */
const ATTACH_LEFT = new Set([".", ",", "?", ":", ";", "!", ")", "/"]);
/** Tokens written without a space after them. */
const ATTACH_RIGHT = new Set(["(", "/"]);

/** Lowercase `text` and split it into word and punctuation tokens (whitespace, newlines included, is dropped). */
export function splitWords(text: string): string[] {
  return text.toLowerCase().match(TOKEN_PATTERN) ?? [];
}

/** The cached form: every token in id order. */
export interface WordTokenizerJSON {
  type: "word";
  version: 1;
  vocab: string[];
}

export class WordTokenizer implements Tokenizer {
  readonly padId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  readonly unkId = 3;
  /** id → token (special tokens first, then words sorted). */
  readonly vocab: readonly string[];
  readonly #wordIds: Map<string, number>;

  private constructor(words: readonly string[]) {
    this.vocab = [...SPECIAL_TOKENS, ...words];
    this.#wordIds = new Map(words.map((w, i) => [w, SPECIAL_TOKENS.length + i]));
  }

  /** A tokenizer whose words are every token of `texts` (sorted, deduplicated). */
  static fromTexts(texts: Iterable<string>): WordTokenizer {
    const words = new Set<string>();
    for (const t of texts) for (const w of splitWords(t)) words.add(w);
    return WordTokenizer.fromWords(words);
  }

  /** A tokenizer over exactly these words (lowercased, sorted, deduplicated; special-token spellings dropped). */
  static fromWords(words: Iterable<string>): WordTokenizer {
    const specials = new Set<string>(SPECIAL_TOKENS);
    const set = new Set<string>();
    for (const w of words) {
      const lw = w.toLowerCase();
      if (splitWords(lw).length !== 1 || splitWords(lw)[0] !== lw) {
        throw new DataError(`word tokenizer: "${w}" is not a single token; split it with splitWords first`);
      }
      if (!specials.has(lw)) set.add(lw);
    }
    return new WordTokenizer([...set].sort());
  }

  /** Rebuild from `toJSON()` output; a malformed cache is a DataError naming the fix. */
  static fromJSON(json: unknown): WordTokenizer {
    const bad = (what: string) =>
      new DataError(`word tokenizer JSON: ${what}; delete the cached tokenizer and rebuild the suite`);
    if (typeof json !== "object" || json === null) throw bad("not an object");
    const j = json as Partial<WordTokenizerJSON>;
    if (j.type !== "word" || j.version !== 1) throw bad(`expected type "word", version 1`);
    if (!Array.isArray(j.vocab) || !j.vocab.every((w) => typeof w === "string")) throw bad("vocab is not a string[]");
    if (SPECIAL_TOKENS.some((s, i) => j.vocab![i] !== s)) {
      throw bad(`vocab must start with ${SPECIAL_TOKENS.join(" ")}`);
    }
    const words = j.vocab.slice(SPECIAL_TOKENS.length);
    const sorted = [...new Set(words)].sort();
    if (sorted.length !== words.length || sorted.some((w, i) => w !== words[i])) {
      throw bad("words are not sorted and unique");
    }
    return new WordTokenizer(words);
  }

  toJSON(): WordTokenizerJSON {
    return { type: "word", version: 1, vocab: [...this.vocab] };
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Id of a word (already split and lowercased); `<unk>` when absent. */
  idOf(word: string): number {
    return this.#wordIds.get(word) ?? this.unkId;
  }

  /** True when `word` is in the vocabulary (special tokens are not words). */
  has(word: string): boolean {
    return this.#wordIds.has(word);
  }

  encode(text: string): number[] {
    return splitWords(text).map((w) => this.idOf(w));
  }

  /** Words joined by spaces, punctuation re-attached ("fox ." → "fox."); pad, bos, eos dropped, `<unk>` kept. */
  decode(ids: number[]): string {
    let out = "";
    let prev = "";
    for (const id of ids) {
      if (id === this.padId || id === this.bosId || id === this.eosId) continue;
      const tok = this.vocab[id] ?? UNK;
      const glue = out === "" || ATTACH_LEFT.has(tok) || ATTACH_RIGHT.has(prev) || (prev === "#" && tok === "#");
      out += (glue ? "" : " ") + tok;
      prev = tok;
    }
    return out;
  }
}
