/**
 * The embedded suite's eight tasks as train / validation / test splits of LLM-Adapters-style records
 * ("the correct answer is answer2"), shaped like BoolQ, PIQA, SIQA, HellaSwag, WinoGrande, ARC-e, ARC-c and OBQA
 * (see `families.ts` for the skill each needs).
 *
 * Splits are disjoint by construction. With `holdout: "facts"` (default) each task's fact keys (the pair
 * compared, the entity and attribute asked, the rule and animal, the script step …) are partitioned first, so a
 * test question asks about a key no training question of that task asks about: the model has to bring the fact
 * from pretraining (the corpus states it) and apply the skill fine-tuning taught. `holdout: "questions"` shares
 * the keys and only keeps identical questions out of two splits (an easier, memorisation-friendly control).
 * Correct positions are balanced per split (uniform over the choices, ±1).
 */
import { ConfigError } from "../errors.ts";
import { parseConfig, z } from "../config.ts";
import { Rng } from "../util/rng.ts";
import { FAMILIES, type Family, type FamilyContext } from "./families.ts";
import { ANSWER_WORDS, answerOutput } from "./prompt.ts";
import { type QARecord, type Splits, type TaskName, TASKS } from "./types.ts";
import { indexWorld, type World } from "./world.ts";

export const SPLITS = ["train", "validation", "test"] as const;
export type SplitName = typeof SPLITS[number];

const fraction = (d: number) => z.number().min(0).max(1).default(d);

export const TasksConfigSchema = z.strictObject({
  /** Records per task in each split. */
  train: z.number().int().min(0).default(200),
  validation: z.number().int().min(0).default(40),
  test: z.number().int().min(0).default(100),
  holdout: z.enum(["facts", "questions"]).default("facts"),
  /** With holdout "facts": the share of each task's fact keys reserved for validation and for test. */
  heldOutKeys: z.strictObject({ validation: fraction(0.1), test: fraction(0.25) })
    .refine((f) => f.validation + f.test < 1, { message: "validation + test must leave keys for train" })
    .prefault({}),
});
export type TasksConfig = z.output<typeof TasksConfigSchema>;
export type TasksConfigInput = z.input<typeof TasksConfigSchema>;

export function parseTasksConfig(value: unknown, where = "tasks"): TasksConfig {
  return parseConfig(TasksConfigSchema, value, where);
}

/** Choices per question of each task. */
export const CHOICES: Readonly<Record<TaskName, number>> = Object.fromEntries(
  TASKS.map((t) => [t, FAMILIES[t].choices]),
) as Record<TaskName, number>;

/** Accuracy of guessing uniformly: 1 / choices (answers are balanced, so also of always answering the same). */
export const CHANCE: Readonly<Record<TaskName, number>> = Object.fromEntries(
  TASKS.map((t) => [t, 1 / CHOICES[t]]),
) as Record<TaskName, number>;

/** Correct positions for `n` questions with `k` choices: each position ⌊n/k⌋ or ⌈n/k⌉ times, shuffled. */
export function balancedAnswers(n: number, k: number, rng: Rng): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i % k));
}

/** Fewest fact keys a used validation or test split gets, so a small world still yields varied questions. */
const MIN_HELD_OUT_KEYS = 3;

/** Split shuffled fact keys: shares of `fractions` to validation and test (at least MIN_HELD_OUT_KEYS each). */
export function partitionKeys(
  keys: readonly string[],
  fractions: { validation: number; test: number },
  counts: Record<SplitName, number>,
  where: string,
): Record<SplitName, string[]> {
  const share = (s: "validation" | "test") => counts[s] === 0 ? 0 : Math.max(1, Math.round(keys.length * fractions[s]));
  const nTest = share("test");
  const nVal = share("validation");
  if (counts.train > 0 && keys.length - nTest - nVal < 1) {
    throw new ConfigError(
      `${where}: only ${keys.length} fact keys, too few to hold some out; enlarge the world or use holdout "questions"`,
    );
  }
  return {
    test: keys.slice(0, nTest),
    validation: keys.slice(nTest, nTest + nVal),
    train: keys.slice(nTest + nVal),
  };
}

/** Tries per record before giving up (every key is tried several times). */
const ATTEMPTS_PER_KEY = 4;
const MIN_ATTEMPTS = 64;

function record(task: TaskName, instruction: string, answer: number): QARecord {
  const word = ANSWER_WORDS[task][answer];
  return { task, instruction, input: "", output: answerOutput(word), answer: word };
}

/** `n` distinct records over `keys`, cycling through them; `seen` holds instructions used anywhere so far. */
function fillSplit(
  family: Family,
  ctx: FamilyContext,
  keys: readonly string[],
  n: number,
  seen: Set<string>,
  rng: Rng,
  where: string,
): { records: QARecord[]; keysUsed: string[] } {
  if (n > 0 && keys.length === 0) throw new ConfigError(`${where}: no fact keys to ask about; enlarge the world`);
  const order = rng.fork("order").shuffle([...keys]);
  const answers = balancedAnswers(n, family.choices, rng.fork("answers"));
  const make = rng.fork("make");
  const records: QARecord[] = [];
  const used = new Set<string>();
  const attempts = Math.max(MIN_ATTEMPTS, ATTEMPTS_PER_KEY * order.length);
  let cursor = 0;
  for (const answer of answers) {
    let made: string | null = null;
    for (let a = 0; a < attempts && made === null; a++) {
      const key = order[cursor++ % order.length];
      const ins = family.make(ctx, key, answer, make);
      if (ins !== null && !seen.has(ins)) {
        made = ins;
        used.add(key);
      }
    }
    if (made === null) {
      throw new ConfigError(
        `${where}: ran out of distinct questions after ${records.length} of ${n}; lower it or enlarge the world`,
      );
    }
    seen.add(made);
    records.push(record(family.task, made, answer));
  }
  return { records, keysUsed: [...used].sort() };
}

/** One task's splits, and the fact keys each split's questions are about. */
export interface TaskBuild {
  splits: Splits;
  keys: Record<SplitName, string[]>;
}

/** Build one task's splits from `world`; deterministic in (world, config, seed). */
export function buildTask(world: World, task: TaskName, config: TasksConfigInput, seed: number): TaskBuild {
  const cfg = parseTasksConfig(config);
  const family = FAMILIES[task];
  const rng = new Rng(seed).fork(`task/${task}`);
  const keys = rng.fork("keys").shuffle(family.keys(world, rng.fork("family-keys")));
  const counts = { train: cfg.train, validation: cfg.validation, test: cfg.test };
  const pools: Record<SplitName, readonly string[]> = cfg.holdout === "facts"
    ? partitionKeys(keys, cfg.heldOutKeys, counts, `tasks (${task})`)
    : { train: keys, validation: keys, test: keys };
  const ctx = { world, index: indexWorld(world) };
  const seen = new Set<string>();
  const splits: Splits = { train: [], validation: [], test: [] };
  const used: Record<SplitName, string[]> = { train: [], validation: [], test: [] };
  // Test first, so its questions do not depend on how many training questions were asked for.
  for (const split of ["test", "validation", "train"] as const) {
    const r = fillSplit(family, ctx, pools[split], counts[split], seen, rng.fork(split), `tasks.${split} (${task})`);
    splits[split] = r.records;
    used[split] = r.keysUsed;
  }
  return { splits, keys: used };
}

/** All eight tasks' splits. */
export function buildTasks(world: World, config: TasksConfigInput, seed: number): Record<TaskName, Splits> {
  return Object.fromEntries(TASKS.map((t) => [t, buildTask(world, t, config, seed).splits])) as Record<
    TaskName,
    Splits
  >;
}
