/**
 * The tokenizer interface the model, trainer and evaluator use. Two implementations: the embedded
 * suite's word-level tokenizer, and Hugging Face `tokenizer.json` files for real checkpoints.
 */
export interface Tokenizer {
  /** Number of ids (the embedding table's rows). */
  readonly vocabSize: number;
  /** Id used to pad batches (masked out of the loss). */
  readonly padId: number;
  /** Beginning-of-sequence id prepended to every example, or null when the tokenizer has none. */
  readonly bosId: number | null;
  /** End-of-sequence id appended to training targets and ending generation, or null. */
  readonly eosId: number | null;
  /** Text → ids, without special tokens. */
  encode(text: string): number[];
  /** Ids → text; special tokens are dropped. */
  decode(ids: number[]): string;
}
