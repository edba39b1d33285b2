/**
 * Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) as the harness's `Tokenizer`, through the pure-TS
 * `@huggingface/tokenizers` (BPE incl. byte-level and SentencePiece-style byte fallback, WordPiece, Unigram).
 *
 * Special tokens, as transformers resolves them: bos/eos/pad from tokenizer_config.json (a string or an
 * AddedToken object; an explicit null means "none"), else well-known names (`<s>`, `</s>`, Llama 3's
 * `<|begin_of_text|>`, `<|end_of_text|>`, `<|eot_id|>`); `add_bos_token: false` means no bos; pad falls back
 * to eos, then 0. `encode` adds no special tokens (special-token text in the input still maps to its id, as
 * in transformers; a character a non-byte-level vocabulary lacks is dropped when there is no unk_token, as in
 * `tokenizers`); `decode` drops special tokens and ids the vocabulary lacks.
 */
import { Tokenizer as HfTokenizerImpl } from "@huggingface/tokenizers";
import { dirname, join } from "node:path";
import type { Tokenizer } from "../data/tokenizer.ts";
import { DataError } from "../errors.ts";

type Json = Record<string, unknown>;

const WELL_KNOWN_BOS = ["<s>", "<|begin_of_text|>"];
const WELL_KNOWN_EOS = ["</s>", "<|end_of_text|>", "<|eot_id|>"];
/** Keys `@huggingface/tokenizers` insists on (tokenizer.json files written by `tokenizers` have them all). */
const PIPELINE_KEYS = ["normalizer", "pre_tokenizer", "post_processor", "decoder"];

/** A Hugging Face tokenizer behind the harness's `Tokenizer` interface. */
export class HfTokenizer implements Tokenizer {
  constructor(
    private readonly impl: HfTokenizerImpl,
    readonly vocabSize: number,
    readonly bosId: number | null,
    readonly eosId: number | null,
    readonly padId: number,
    /** The tokenizer.json this came from, for messages. */
    readonly source: string,
  ) {}

  encode(text: string): number[] {
    const { ids, tokens } = this.impl.encode(text, { add_special_tokens: false });
    const missing = ids.findIndex((id) => id === undefined);
    if (missing >= 0) {
      throw new DataError(
        `${this.source}: token ${
          JSON.stringify(tokens[missing])
        } has no id in the vocabulary; the file is inconsistent`,
      );
    }
    return ids;
  }

  decode(ids: number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id)) throw new DataError(`${this.source}: decode got a non-integer id ${id}`);
    }
    const known = ids.filter((id) => this.idToToken(id) !== undefined);
    return known.length === 0 ? "" : this.impl.decode(known, { skip_special_tokens: true });
  }

  /** The id of a token string (added tokens included), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.impl.token_to_id(token);
  }

  /** The token string of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.impl.id_to_token(id);
  }
}

/**
 * Load `tokenizer.json` from a directory (or the file's path), with `tokenizer_config.json` beside it when
 * present. Missing or malformed files are one-line DataErrors naming the file.
 */
export async function loadHfTokenizer(dirOrFile: string): Promise<HfTokenizer> {
  const isDir = await Deno.stat(dirOrFile).then((s) => s.isDirectory, () => false);
  const path = isDir ? join(dirOrFile, "tokenizer.json") : dirOrFile;
  const json = await readJson(path);
  if (json === null) {
    const sp = join(dirname(path), "tokenizer.model");
    const hint = await Deno.stat(sp).then(() => ` (only ${sp}, a SentencePiece model, is there: convert it)`, () => "");
    throw new DataError(`${path}: not found${hint}; a Hugging Face tokenizer directory needs tokenizer.json`);
  }
  const config = await readJson(join(dirname(path), "tokenizer_config.json"));
  return hfTokenizerFromJson(json, config, path);
}

/** Build from parsed `tokenizer.json` and `tokenizer_config.json` (null when absent); `source` names the file. */
export function hfTokenizerFromJson(tokenizerJson: unknown, tokenizerConfig: unknown, source: string): HfTokenizer {
  const fail = (what: string): never => {
    throw new DataError(`${source}: ${what}`);
  };
  if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) {
    return fail(`not a tokenizer.json: expected an object with a "model" object`);
  }
  if (tokenizerJson.added_tokens != null && !Array.isArray(tokenizerJson.added_tokens)) {
    fail(`"added_tokens" must be a list`);
  }
  if (tokenizerConfig !== null && !isObject(tokenizerConfig)) fail("tokenizer_config.json is not a JSON object");
  const config: Json = { ...(tokenizerConfig ?? {}) };
  // transformers' default from v4.45 on; the library's own default (true) makes decode(encode(x)) lossy.
  config.clean_up_tokenization_spaces ??= false;
  const full: Json = { ...tokenizerJson };
  full.added_tokens ??= [];
  for (const key of PIPELINE_KEYS) full[key] ??= null;
  let impl: HfTokenizerImpl;
  try {
    impl = new HfTokenizerImpl(full, config);
  } catch (e) {
    return fail(`cannot build the tokenizer (${(e as Error).message}); is it a tokenizer.json from tokenizers?`);
  }
  const vocabSize = impl.model?.vocab.length ?? 0;
  if (vocabSize === 0) fail("the vocabulary is empty");
  const id = (token: string, field: string) => {
    const found = impl.token_to_id(token);
    if (found === undefined) fail(`tokenizer_config.json names ${field} ${JSON.stringify(token)}, which is no token`);
    return found!;
  };
  const pick = (field: string, wellKnown: string[]): number | null => {
    const named = tokenContent(config[field]);
    if (named !== undefined) return named === null ? null : id(named, field);
    for (const token of wellKnown) {
      const found = impl.token_to_id(token);
      if (found !== undefined) return found;
    }
    return null;
  };
  const bosId = config.add_bos_token === false ? null : pick("bos_token", bosCandidates(tokenizerJson));
  const eosId = pick("eos_token", WELL_KNOWN_EOS);
  const padId = pick("pad_token", []) ?? eosId ?? 0;
  return new HfTokenizer(impl, vocabSize, bosId, eosId, padId, source);
}

/** The special token a TemplateProcessing post-processor puts first (transformers' bos), then well-known names. */
function bosCandidates(tokenizerJson: Json): string[] {
  const post = tokenizerJson.post_processor as Json | null;
  const processors = post?.type === "Sequence" ? (post.processors as Json[]) : post ? [post] : [];
  const template = processors.find((p) => p?.type === "TemplateProcessing");
  const first = (template?.single as Json[] | undefined)?.[0]?.SpecialToken as Json | undefined;
  return typeof first?.id === "string" ? [first.id, ...WELL_KNOWN_BOS] : WELL_KNOWN_BOS;
}

/** A special-token field: a string, an AddedToken object `{content}`, null (none) or undefined (unset). */
function tokenContent(v: unknown): string | null | undefined {
  if (v === null || typeof v === "string") return v;
  if (isObject(v) && typeof v.content === "string") return v.content;
  return undefined;
}

/** Parsed JSON of `path`, or null when it does not exist; DataError naming the file when malformed. */
async function readJson(path: string): Promise<unknown | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new DataError(`${path}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(`${path}: not valid JSON (${(e as Error).message}); re-download it`);
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
