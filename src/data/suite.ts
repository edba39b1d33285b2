/**
 * The embedded default task: one seeded world → a pretraining corpus, eight fine-tuning tasks shaped like
 * LLM-Adapters' commonsense suite (BoolQ, PIQA, SIQA, HellaSwag, WinoGrande, ARC-e, ARC-c, OBQA), the word-level
 * tokenizer covering both, and each task's chance level. `mixTrain` interleaves the tasks' training records
 * as commonsense_170k mixes its eight sources.
 */
import { parseConfig, z } from "../config.ts";
import { configHash } from "../util/hash.ts";
import type { Rng } from "../util/rng.ts";
import { encodeExample } from "./batch.ts";
import { buildCorpus, CorpusConfigSchema } from "./corpus.ts";
import { ANSWER_WORDS, TEMPLATE_NAMES, type TemplateName, templateTexts } from "./prompt.ts";
import { buildTasks, CHANCE, type SplitName, SPLITS, TasksConfigSchema } from "./tasks.ts";
import { type QARecord, type Splits, type TaskName, TASKS } from "./types.ts";
import { WordTokenizer } from "./word_tokenizer.ts";
import { generateWorld, type World, WorldConfigSchema } from "./world.ts";

/** Bump when generation changes, so cached suites and base models built from them are rebuilt. */
export const SUITE_VERSION = 1;
export const DEFAULT_SUITE_SEED = 0;

export const SuiteConfigSchema = z.strictObject({
  world: WorldConfigSchema.prefault({}),
  corpus: CorpusConfigSchema.prefault({}),
  tasks: TasksConfigSchema.prefault({}),
});
export type SuiteConfig = z.output<typeof SuiteConfigSchema>;
export type SuiteConfigInput = z.input<typeof SuiteConfigSchema>;

export function parseSuiteConfig(value: unknown, where = "suite"): SuiteConfig {
  return parseConfig(SuiteConfigSchema, value, where);
}

/**
 * Named starting points. `default` is sized for the 2-core budget (70 entities, 200 / 40 / 100 records per task);
 * `quick` is a smaller world with a few dozen records per task, for CI and smoke tests.
 */
export const SUITE_PRESETS = {
  default: {},
  quick: {
    world: { animals: 16, objects: 16, people: 8, scripts: 6, events: 8, goals: 5 },
    corpus: { storiesPerEvent: 2, runsPerScript: 2 },
    tasks: { train: 32, validation: 8, test: 16 },
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
  /** Pretraining documents, one short text each. */
  corpus: string[];
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
  const tokenizer = WordTokenizer.fromTexts(vocabularyTexts(corpus, tasks));
  return { config: cfg, seed, world, corpus, tasks, tokenizer, chance: { ...CHANCE } };
}

/** Cache key of the suite a (config, seed) builds: 16 hex chars, stable under key order. */
export function suiteHash(config: SuiteConfigInput, seed: number): Promise<string> {
  return configHash({ kind: "embedded-suite", version: SUITE_VERSION, config: parseSuiteConfig(config), seed });
}

/** Hash of a built suite's content (corpus, records, vocabulary): changes whenever any generated text does. */
export function suiteContentHash(suite: EmbeddedSuite): Promise<string> {
  return configHash({ corpus: suite.corpus, tasks: suite.tasks, vocab: suite.tokenizer.vocab });
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

export interface SuiteStats {
  vocabSize: number;
  corpus: { documents: number; tokens: number };
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
  return {
    vocabSize: tok.vocabSize,
    corpus: { documents: suite.corpus.length, tokens: suite.corpus.reduce((s, d) => s + tok.encode(d).length, 0) },
    records,
    exampleTokens,
  };
}
