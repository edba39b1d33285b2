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
 *
 * `options` picks the option layout (`families.ts`): "canonical" (default) shows fixed option groups in a fixed
 * order, so a key's answer has one position; its keys are partitioned per position (`partitionByPosition`) and
 * each record is drawn from the keys answering at the position it needs. "shuffled" places random distractors
 * around the answer at any position (the real benchmarks' shape; the tiny base cannot learn it).
 *
 * Correct positions are balanced per split (uniform over the choices, ±1). The one exception, reported in
 * `TaskBuild.positions`: in canonical mode a position whose keys have run out of distinct questions hands its
 * remaining records to the least-used other positions (a ConfigError only when no position has any left). The
 * default and quick presets are balanced for seeds 0–7 (tested for seed 0).
 */
import { ConfigError } from "../errors.ts";
import { parseConfig, z } from "../config.ts";
import { Rng } from "../util/rng.ts";
import { FAMILIES, type Family, type FamilyContext, keyPositions, OPTION_MODES, type OptionsMode } from "./families.ts";
import { ANSWER_WORDS, answerOutput } from "./prompt.ts";
import { type QARecord, type Splits, type TaskName, TASKS } from "./types.ts";
import { indexWorld, type World } from "./world.ts";

export const SPLITS = ["train", "validation", "test"] as const;
export type SplitName = typeof SPLITS[number];

const fraction = (d: number) => z.number().min(0).max(1).default(d);

export const TasksConfigSchema = z.strictObject({
  /** Records per task in each split. */
  train: z.number().int().min(0).default(300),
  validation: z.number().int().min(0).default(50),
  test: z.number().int().min(0).default(250),
  /**
   * "canonical": fixed option groups in a fixed order, the label a function of the answer's content (learnable
   * by the tiny base); "shuffled": random distractors in random order, the real benchmarks' shape (not learnable
   * by the tiny base: it needs symbol binding). See `families.ts`.
   */
  options: z.enum(OPTION_MODES).default("canonical"),
  holdout: z.enum(["facts", "questions"]).default("facts"),
  /** With holdout "facts": the share of each task's fact keys reserved for validation and for test. */
  heldOutKeys: z.strictObject({ validation: fraction(0.1), test: fraction(0.4) })
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

/** Tries per record and position before giving up on it (every key is tried several times). */
const ATTEMPTS_PER_KEY = 8;
const MIN_ATTEMPTS = 64;

function record(task: TaskName, instruction: string, answer: number): QARecord {
  const word = ANSWER_WORDS[task][answer];
  return { task, instruction, input: "", output: answerOutput(word), answer: word };
}

/** One split's records, the fact keys they ask about and how many records have their answer at each position. */
interface FilledSplit {
  records: QARecord[];
  keysUsed: string[];
  positions: number[];
}

/**
 * `n` distinct records over `keys` (`seen` holds instructions used anywhere so far). Positions follow a balanced
 * shuffled sequence; for each, the keys that can answer there are cycled. When a position has run out of distinct
 * questions (canonical mode: few keys at that position), its remaining records go to the least-used positions
 * that still have some — the only way a split ends up unbalanced; `positions` reports the counts.
 */
function fillSplit(
  family: Family,
  mode: OptionsMode,
  ctx: FamilyContext,
  keys: readonly string[],
  n: number,
  seen: Set<string>,
  rng: Rng,
  where: string,
): FilledSplit {
  if (n > 0 && keys.length === 0) throw new ConfigError(`${where}: no fact keys to ask about; enlarge the world`);
  const order = rng.fork("order").shuffle([...keys]);
  const byPosition = Array.from(
    { length: family.choices },
    (_, p) => order.filter((k) => keyPositions(family, mode, ctx, k).includes(p)),
  );
  const cursor = byPosition.map(() => 0);
  const exhausted = new Set<number>();
  const make = rng.fork("make");
  const records: QARecord[] = [];
  const counts = byPosition.map(() => 0);
  const used = new Set<string>();
  const attempt = (p: number): string | null => {
    const pool = byPosition[p];
    const attempts = pool.length === 0 ? 0 : Math.max(MIN_ATTEMPTS, ATTEMPTS_PER_KEY * pool.length);
    for (let a = 0; a < attempts; a++) {
      const key = pool[cursor[p]++ % pool.length];
      const q = family.modes[mode].make(ctx, key, p, make);
      if (q !== null && !seen.has(q.instruction)) {
        used.add(key);
        return q.instruction;
      }
    }
    exhausted.add(p);
    return null;
  };
  for (const want of balancedAnswers(n, family.choices, rng.fork("answers"))) {
    let made: string | null = null;
    let answer = want;
    if (!exhausted.has(want)) made = attempt(want);
    while (made === null && exhausted.size < family.choices) {
      answer = counts.map((c, p) => [c, p]).filter(([, p]) => !exhausted.has(p)).sort((x, y) => x[0] - y[0])[0][1];
      made = attempt(answer);
    }
    if (made === null) {
      throw new ConfigError(
        `${where}: ran out of distinct questions after ${records.length} of ${n}; lower it or enlarge the world`,
      );
    }
    seen.add(made);
    counts[answer]++;
    records.push(record(family.task, made, answer));
  }
  return { records, keysUsed: [...used].sort(), positions: counts };
}

/**
 * Canonical mode's partition: keys grouped by the positions they can answer at, each group partitioned by the
 * held-out fractions on its own (at least one key to each used held-out split when the group has three or more),
 * so every split gets keys for every position in proportion.
 */
export function partitionByPosition(
  keys: readonly string[],
  positionsOf: (key: string) => readonly number[],
  fractions: { validation: number; test: number },
  counts: Record<SplitName, number>,
  where: string,
): Record<SplitName, string[]> {
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const g = positionsOf(k).join(",");
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  const out: Record<SplitName, string[]> = { train: [], validation: [], test: [] };
  for (const g of [...groups.keys()].sort()) {
    const ks = groups.get(g)!;
    const share = (s: "validation" | "test") =>
      counts[s] === 0 ? 0 : Math.max(ks.length >= MIN_HELD_OUT_KEYS ? 1 : 0, Math.round(ks.length * fractions[s]));
    const nTest = share("test");
    const nVal = Math.min(share("validation"), ks.length - nTest - 1);
    out.test.push(...ks.slice(0, nTest));
    out.validation.push(...ks.slice(nTest, nTest + nVal));
    out.train.push(...ks.slice(nTest + nVal));
  }
  for (const s of SPLITS) {
    if (counts[s] > 0 && out[s].length === 0) {
      throw new ConfigError(
        `${where}: only ${keys.length} fact keys, too few to hold some out; enlarge the world or use holdout "questions"`,
      );
    }
  }
  return out;
}

/** One task's splits, the fact keys each split's questions are about, and records per correct position. */
export interface TaskBuild {
  splits: Splits;
  keys: Record<SplitName, string[]>;
  positions: Record<SplitName, number[]>;
}

/** Build one task's splits from `world`; deterministic in (world, config, seed). */
export function buildTask(world: World, task: TaskName, config: TasksConfigInput, seed: number): TaskBuild {
  const cfg = parseTasksConfig(config);
  const family = FAMILIES[task];
  const mode = cfg.options;
  const rng = new Rng(seed).fork(`task/${task}`);
  const ctx = { world, index: indexWorld(world) };
  const keys = rng.fork("keys").shuffle(family.modes[mode].keys(world, rng.fork("family-keys")));
  const counts = { train: cfg.train, validation: cfg.validation, test: cfg.test };
  const where = `tasks (${task})`;
  const positionsOf = (k: string) => keyPositions(family, mode, ctx, k);
  const pools: Record<SplitName, readonly string[]> = cfg.holdout === "questions"
    ? { train: keys, validation: keys, test: keys }
    : mode === "canonical"
    ? partitionByPosition(keys, positionsOf, cfg.heldOutKeys, counts, where)
    : partitionKeys(keys, cfg.heldOutKeys, counts, where);
  const seen = new Set<string>();
  const splits: Splits = { train: [], validation: [], test: [] };
  const used: Record<SplitName, string[]> = { train: [], validation: [], test: [] };
  const positions: Record<SplitName, number[]> = { train: [], validation: [], test: [] };
  // Test first, so its questions do not depend on how many training questions were asked for.
  for (const split of ["test", "validation", "train"] as const) {
    const at = `tasks.${split} (${task})`;
    const r = fillSplit(family, mode, ctx, pools[split], counts[split], seen, rng.fork(split), at);
    splits[split] = r.records;
    used[split] = r.keysUsed;
    positions[split] = r.positions;
  }
  return { splits, keys: used, positions };
}

/** All eight tasks' splits. */
export function buildTasks(world: World, config: TasksConfigInput, seed: number): Record<TaskName, Splits> {
  return Object.fromEntries(TASKS.map((t) => [t, buildTask(world, t, config, seed).splits])) as Record<
    TaskName,
    Splits
  >;
}
