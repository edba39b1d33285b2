/**
 * The embedded default task: one seeded world → a pretraining set (the facts corpus, the questions answered in
 * words, format documents; `pretraining.ts`), eight fine-tuning tasks shaped like LLM-Adapters' commonsense suite
 * (BoolQ, PIQA, SIQA, HellaSwag, WinoGrande, ARC-e, ARC-c, OBQA), the word-level tokenizer covering all of it, and
 * each task's chance level. `mixTrain` interleaves the tasks' training records as commonsense_170k mixes its
 * eight sources.
 *
 * Default sizes (seed 0, measured with `suiteStats`): every lexicon name in the world (48 animals, 34 things,
 * 24 people; 12 scripts, 36 events, 7 goals), canonical options, 300 / 50 / 250 records per task (test and
 * validation on 40 % and 10 % of each task's fact keys); 503 tokens of vocabulary; pretraining 3,921 documents /
 * 136.6k tokens = facts 1,501 / 14.0k + QA 2,356 / 120.1k (1,178 fact keys × 2) + format 64 / 2.5k; compact
 * training examples 40–64 tokens (alpaca 58–82). `quick`: a 16-animal world, 32 / 8 / 16 records per task.
 */
import { parseConfig, z } from "../config.ts";
import { configHash } from "../util/hash.ts";
import { Rng } from "../util/rng.ts";
import { encodeExample } from "./batch.ts";
import { buildCorpus, CorpusConfigSchema } from "./corpus.ts";
import { ANSWER_WORDS, TEMPLATE_NAMES, type TemplateName, templateTexts } from "./prompt.ts";
import { formatDocuments, QADocsConfigSchema, type QADocument, qaDocuments } from "./pretraining.ts";
import { buildTasks, CHANCE, type SplitName, SPLITS, TasksConfigSchema } from "./tasks.ts";
import { type QARecord, type Splits, type TaskName, TASKS } from "./types.ts";
import { SPECIAL_TOKENS, splitWords, WordTokenizer } from "./word_tokenizer.ts";
import { generateWorld, type World, WorldConfigSchema } from "./world.ts";

/** Bump when generation changes, so cached suites and base models built from them are rebuilt. */
export const SUITE_VERSION = 7;
export const DEFAULT_SUITE_SEED = 0;

export const SuiteConfigSchema = z.strictObject({
  world: WorldConfigSchema.prefault({}),
  corpus: CorpusConfigSchema.prefault({}),
  tasks: TasksConfigSchema.prefault({}),
  /** The questions answered in words added to pretraining (`pretraining.ts`). */
  qaDocs: QADocsConfigSchema.prefault({}),
  /**
   * Format documents added to pretraining: the prompt templates and BoolQ / WinoGrande training instructions
   * without their answers, so every instruction word has a trained embedding while no answer is taught.
   */
  formatDocs: z.number().int().min(0).default(64),
});
export type SuiteConfig = z.output<typeof SuiteConfigSchema>;
export type SuiteConfigInput = z.input<typeof SuiteConfigSchema>;

export function parseSuiteConfig(value: unknown, where = "suite"): SuiteConfig {
  return parseConfig(SuiteConfigSchema, value, where);
}

/**
 * Named starting points. `default` is sized for paired statistics (106 entities, 300 / 50 / 250 records per task);
 * `quick` is a smaller world (32 entities) with a few dozen records per task, for CI and smoke tests.
 */
export const SUITE_PRESETS = {
  default: {},
  quick: {
    world: { animals: 16, objects: 10, people: 6, scripts: 6, events: 8, goals: 5 },
    corpus: { storiesPerEvent: 2, runsPerScript: 2 },
    tasks: { train: 32, validation: 8, test: 16, heldOutKeys: { validation: 0.1, test: 0.25 } },
    qaDocs: { repeat: 1 },
    formatDocs: 24,
  },
} as const satisfies Record<string, SuiteConfigInput>;
export type SuitePreset = keyof typeof SUITE_PRESETS;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function mergeDeep(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeDeep(base[k], v);
  return out;
}

/** A preset with `overrides` merged in (nested objects merge key by key), validated. */
export function suiteConfig(preset: SuitePreset = "default", overrides: SuiteConfigInput = {}): SuiteConfig {
  return parseSuiteConfig(mergeDeep(SUITE_PRESETS[preset], overrides), `suite (${preset})`);
}

export interface EmbeddedSuite {
  config: SuiteConfig;
  seed: number;
  world: World;
  /** The facts corpus, one short text each. */
  corpus: string[];
  /** The questions answered in words (their `text` is in `pretraining`). */
  qaDocs: QADocument[];
  /** Format documents (templates, unanswered BoolQ / WinoGrande instructions, missing vocabulary). */
  formatDocs: string[];
  /** What the base model is pretrained on: corpus, QA documents and format documents, shuffled. */
  pretraining: string[];
  tasks: Record<TaskName, Splits>;
  tokenizer: WordTokenizer;
  /** Accuracy of uniform guessing per task. */
  chance: Record<TaskName, number>;
}

/** Every text the tokenizer must cover: corpus, records, template words and answer words. */
function vocabularyTexts(corpus: readonly string[], tasks: Record<TaskName, Splits>): string[] {
  const records = TASKS.flatMap((t) => SPLITS.flatMap((s) => tasks[t][s]));
  return [
    ...corpus,
    ...records.flatMap((r) => [r.instruction, r.input, r.output]),
    ...templateTexts(),
    ...TASKS.flatMap((t) => ANSWER_WORDS[t]),
  ];
}

/** Build the whole suite; the same (config, seed) always gives the same suite. */
export function buildEmbeddedSuite(config: SuiteConfigInput = {}, seed = DEFAULT_SUITE_SEED): EmbeddedSuite {
  const cfg = parseSuiteConfig(config);
  const world = generateWorld(cfg.world, seed);
  const corpus = buildCorpus(world, cfg.corpus, seed);
  const tasks = buildTasks(world, cfg.tasks, seed);
  const qaDocs = qaDocuments(world, cfg.qaDocs, seed);
  const tokenizer = WordTokenizer.fromTexts([...vocabularyTexts(corpus, tasks), ...qaDocs.map((d) => d.text)]);
  const rng = new Rng(seed).fork("format-docs");
  const formatDocs = formatDocuments(tasks, cfg.formatDocs, rng);
  const seen = new Set([...corpus, ...qaDocs.map((d) => d.text), ...formatDocs].flatMap(splitWords));
  const missing = tokenizer.vocab.slice(SPECIAL_TOKENS.length).filter((w) => !seen.has(w));
  if (missing.length > 0) formatDocs.push(missing.join(" "));
  const pretraining = rng.fork("shuffle").shuffle([...corpus, ...qaDocs.map((d) => d.text), ...formatDocs]);
  return {
    config: cfg,
    seed,
    world,
    corpus,
    qaDocs,
    formatDocs,
    pretraining,
    tasks,
    tokenizer,
    chance: { ...CHANCE },
  };
}

export { formatDocuments };

/** Cache key of the suite a (config, seed) builds: 16 hex chars, stable under key order. */
export function suiteHash(config: SuiteConfigInput, seed: number): Promise<string> {
  return configHash({ kind: "embedded-suite", version: SUITE_VERSION, config: parseSuiteConfig(config), seed });
}

/** Hash of a built suite's content (corpus, records, vocabulary): changes whenever any generated text does. */
export function suiteContentHash(suite: EmbeddedSuite): Promise<string> {
  return configHash({ pretraining: suite.pretraining, tasks: suite.tasks, vocab: suite.tokenizer.vocab });
}

/** All tasks' training records in one list, shuffled by `rng` (tasks given in `tasks` only). */
export function mixTrain(tasks: Partial<Record<TaskName, Splits>>, rng: Rng): QARecord[] {
  return rng.shuffle(TASKS.flatMap((t) => tasks[t]?.train ?? []));
}

export interface LengthStats {
  min: number;
  mean: number;
  max: number;
}

function lengthStats(xs: readonly number[]): LengthStats {
  if (xs.length === 0) return { min: 0, mean: 0, max: 0 };
  return { min: Math.min(...xs), mean: xs.reduce((a, b) => a + b, 0) / xs.length, max: Math.max(...xs) };
}

/** Documents and their tokens (words and punctuation, without bos / eos). */
export interface DocStats {
  documents: number;
  tokens: number;
}

export interface SuiteStats {
  vocabSize: number;
  /** The facts corpus (= pretraining.facts). */
  corpus: DocStats;
  /** Pretraining by part, and in all. */
  pretraining: { facts: DocStats; qa: DocStats; format: DocStats; total: DocStats };
  /** Fact keys with QA documents, per task. */
  qaKeys: Partial<Record<TaskName, number>>;
  records: Record<TaskName, Record<SplitName, number>>;
  /** Tokens per training example (bos + prompt + output + eos), per template and task, all splits together. */
  exampleTokens: Record<TemplateName, Record<TaskName | "all", LengthStats>>;
}

/** Sizes worth reporting: vocabulary, corpus, records per split, example lengths per template and task. */
export function suiteStats(suite: EmbeddedSuite): SuiteStats {
  const tok = suite.tokenizer;
  const records = Object.fromEntries(
    TASKS.map((t) => [t, Object.fromEntries(SPLITS.map((s) => [s, suite.tasks[t][s].length]))]),
  ) as Record<TaskName, Record<SplitName, number>>;
  const lengthsOf = (template: TemplateName, rs: readonly QARecord[]) =>
    rs.map((r) => encodeExample(tok, r, { template, maxLen: Number.MAX_SAFE_INTEGER }).ids.length);
  const exampleTokens = Object.fromEntries(TEMPLATE_NAMES.map((template) => {
    const perTask = TASKS.map((t) => [t, lengthsOf(template, SPLITS.flatMap((s) => suite.tasks[t][s]))] as const);
    const stats = Object.fromEntries(perTask.map(([t, xs]) => [t, lengthStats(xs)]));
    return [template, { ...stats, all: lengthStats(perTask.flatMap(([, xs]) => xs)) }];
  })) as SuiteStats["exampleTokens"];
  const docStats = (docs: readonly string[]) => ({
    documents: docs.length,
    tokens: docs.reduce((s, d) => s + tok.encode(d).length, 0),
  });
  const facts = docStats(suite.corpus);
  const qaKeys: Partial<Record<TaskName, number>> = {};
  for (const t of TASKS) {
    const keys = new Set(suite.qaDocs.filter((d) => d.task === t).map((d) => d.key));
    if (keys.size > 0) qaKeys[t] = keys.size;
  }
  return {
    vocabSize: tok.vocabSize,
    corpus: facts,
    pretraining: {
      facts,
      qa: docStats(suite.qaDocs.map((d) => d.text)),
      format: docStats(suite.formatDocs),
      total: docStats(suite.pretraining),
    },
    qaKeys,
    records,
    exampleTokens,
  };
}
