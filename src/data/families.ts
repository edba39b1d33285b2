/**
 * The eight embedded task families, one per commonsense benchmark, each needing a different skill over the
 * same world and vocabulary:
 *
 * | task          | shaped like   | skill                                                            |
 * | ------------- | ------------- | ---------------------------------------------------------------- |
 * | boolq         | BoolQ         | verify a stated attribute of an entity → true/false              |
 * | piqa          | PIQA          | goal + object → does the object's material make the action work  |
 * | social_i_qa   | SIQA          | social event → the person's feeling, motive or next want         |
 * | hellaswag     | HellaSwag     | activity script → the step that comes next                       |
 * | winogrande    | WinoGrande    | twin sentence → which of two entities the blank refers to        |
 * | ARC-Easy      | ARC-e         | one-hop lookup: entity → attribute                               |
 * | ARC-Challenge | ARC-c         | two-hop lookup: person → pet → attribute, predator → prey → …    |
 * | openbookqa    | OBQA          | apply the world's rules: which label describes an animal         |
 *
 * A family lists its fact keys (what a question is about; questions on one key never cross splits) and makes
 * one question for a key with the correct choice at a given position. Two option modes:
 *
 * `canonical` (default): every question type shows a fixed group of options in a fixed order (`canonical.ts`),
 * so the correct label is a function of the answer's content; a key's answer has one possible position (except
 * BoolQ and WinoGrande, whose labels come from the wording). The tiny base learns the content in pretraining
 * (the corpus and the answered-in-words questions state it); fine-tuning teaches the label format.
 * - ARC-e (4): attribute of an animal (colour, size, habitat, diet) or thing (colour, size, material, owner).
 *   Groups of 4 in lexicon order ("+" marks a filler, never that group's answer): colours [red blue green yellow]
 *   [black white brown grey]; sizes [tiny small medium big] [+tiny +small +medium huge]; habitats [forest river
 *   cave desert] [barn sea jungle field]; diets [meat grass fish seeds] [+meat fruit insects +grass]; materials
 *   [wood metal glass paper] [+wood cloth stone plastic]; owners: the world's people in world order.
 * - ARC-c (5): the same attributes two hops away: the pet of a person (colour, size, habitat, diet), the prey of
 *   a hunter (colour, size, habitat), the pet of a thing's owner. Groups of 5: sizes [tiny small medium big huge];
 *   colours [red blue green yellow black] [+red +blue white brown grey]; habitats [forest river cave desert barn]
 *   [sea jungle field +forest +river]; diets [meat grass fish seeds fruit] [+meat +grass +fish insects +seeds];
 *   pets: the people's pets in world order, the second group's own pets at positions 3–5.
 * - OBQA (4): "which word describes the fox?" over the labels of the world's diet rules, or of its habitat rules
 *   (groups of 4 in the lexicon order of the premises; diet labels' second group [+meat fruit insects +grass]).
 *   An animal has one diet and one habitat, so exactly one shown label applies; the rules and the facts are in
 *   the corpus, the question states neither (stating the rule would give the answer away).
 * - SIQA (3): the world's events' distinct reactions of each kind, lexicon order, groups of 3: feelings
 *   [happy sad scared] [angry tired proud]; next wants [say thanks, tell a friend, go to bed] [eat a snack, shout,
 *   run away]. Each reaction belongs to several events (`lexicon.ts`).
 * - HellaSwag (4): the options are steps 2–5 of the activity's script in order, the context is step i, the
 *   answer the step after it (ending i).
 * - PIQA (2): Solution1 uses the object ("burn the box"), Solution2 is the fixed alternative ("burn something
 *   else"): solution1 when the object's material works for the goal, solution2 when it fails.
 * - WinoGrande (2): Option1/Option2 are the two entities in order of mention; the trigger word decides.
 * - BoolQ: true/false, the same in both modes.
 *
 * Several wordings per question type (`ATTRIBUTE_WORDINGS` …) and people's names give each key a few distinct
 * questions. Balance: a canonical key's position is fixed, so `tasks.ts` draws each record from the keys at the
 * position it needs; `world.ts` deals attribute values evenly and the partial groups' values sit where the
 * full groups' values are rarest, so every position has keys.
 *
 * `shuffled`: random distractors in random order, the real benchmarks' shape. Answering needs binding an option's
 * content to its label, which the tiny from-scratch base does not learn (measured: chance after fine-tuning).
 */
import type { Rng } from "../util/rng.ts";
import { canonicalOptions } from "./canonical.ts";
import {
  COLOURS,
  DIETS,
  EVENT_KINDS,
  type EventKind,
  EVENTS,
  FRAMES,
  type GoalSpec,
  HABITATS,
  MATERIALS,
  SIZES,
} from "./lexicon.ts";
import {
  answerInstruction,
  blankInstruction,
  boolqInstruction,
  endingInstruction,
  piqaInstruction,
} from "./formats.ts";
import type { TaskName } from "./types.ts";
import { type Animal, fillFrame, framePairs, indexWorld, type World, type WorldIndex } from "./world.ts";

export const OPTION_MODES = ["canonical", "shuffled"] as const;
export type OptionsMode = typeof OPTION_MODES[number];

export interface FamilyContext {
  world: World;
  index: WorldIndex;
}

/** One generated question. */
export interface Question {
  instruction: string;
  /** The correct choice's text ("forest", "burn the box", an entity name) or "true"/"false" for BoolQ. */
  content: string;
  /**
   * The answer in words where it is not `content`: BoolQ's deciding fact value ("black" for "is the fox
   * dark?"), which its pretraining QA document answers with (never the label true/false).
   */
  words?: string;
}

/** How a family asks questions in one option mode. */
export interface FamilyMode {
  /** Every fact key the task can ask about, in a fixed order (`rng` only for families that subsample). */
  keys(world: World, rng: Rng): string[];
  /** The positions (0-based) the key's correct choice can take; absent = every position. */
  positions?(ctx: FamilyContext, key: string): number[];
  /** One question about `key` whose correct choice is number `answer` (0-based), or null if impossible. */
  make(ctx: FamilyContext, key: string, answer: number, rng: Rng): Question | null;
}

export interface Family {
  task: TaskName;
  /** Choices offered per question (true/false counts as 2). */
  choices: number;
  /**
   * Whether pretraining gets this family's canonical questions answered in words ("… the correct answer is
   * forest"; BoolQ: the deciding fact value). Not WinoGrande: its answer words are the labels themselves.
   */
  qaDocs: boolean;
  modes: Readonly<Record<OptionsMode, FamilyMode>>;
}

/** The positions `key` can take in `mode`. */
export function keyPositions(family: Family, mode: OptionsMode, ctx: FamilyContext, key: string): number[] {
  const m = family.modes[mode];
  return m.positions ? m.positions(ctx, key) : Array.from({ length: family.choices }, (_, i) => i);
}

/** WinoGrande-like keys kept per frame, so every frame is asked about (some frames have hundreds of pairs). */
const KEYS_PER_FRAME = 64;
/** HellaSwag-like distractors drawn from the same script (wrong order), the rest from other scripts. */
const SAME_SCRIPT_DISTRACTORS = 2;

/** `n` distinct items of `pool` not in `exclude`, in random order; null when there are too few. */
export function sampleDistinct<T>(rng: Rng, pool: readonly T[], n: number, exclude: readonly T[] = []): T[] | null {
  const free = [...new Set(pool)].filter((x) => !exclude.includes(x));
  return free.length < n ? null : rng.shuffle(free).slice(0, n);
}

/** The distractors with the correct choice inserted at position `answer`. */
export function place<T>(correct: T, distractors: readonly T[], answer: number): T[] {
  const out = [...distractors];
  out.splice(answer, 0, correct);
  return out;
}

/** Choices made of `correct` at `answer` and `n - 1` distractors: the `must` ones (if usable) then random. */
function choicesFor(rng: Rng, correct: string, pool: readonly string[], n: number, must: string[] = []) {
  const forced = [...new Set(must)].filter((m) => m !== correct).slice(0, n - 1);
  const rest = sampleDistinct(rng, pool, n - 1 - forced.length, [correct, ...forced]);
  return rest ? rng.shuffle([...forced, ...rest]) : null;
}

/** A family whose canonical keys each have one position: the key's own (or none, when it has no group). */
function onePosition(position: (ctx: FamilyContext, key: string) => number | null) {
  return (ctx: FamilyContext, key: string) => {
    const p = position(ctx, key);
    return p === null ? [] : [p];
  };
}

// --- shared question wording (ARC-e asks it of an entity, ARC-c of a two-hop description) ---------------------

export type Attribute = "colour" | "size" | "habitat" | "diet" | "material" | "owner";

/**
 * The ways each attribute question is worded; the first is the shuffled mode's only one. The others mirror the
 * corpus's paraphrases ("the colour of the fox is red .") and give canonical mode distinct questions per key.
 */
export const ATTRIBUTE_WORDINGS: Readonly<Record<Attribute, readonly ((subject: string) => string)[]>> = {
  colour: [
    (s) => `what colour is ${s}?`,
    (s) => `what is the colour of ${s}?`,
    (s) => `which colour does ${s} have?`,
    (s) => `which colour is ${s}?`,
  ],
  size: [
    (s) => `how big is ${s}?`,
    (s) => `what is the size of ${s}?`,
    (s) => `which size does ${s} have?`,
    (s) => `which size is ${s}?`,
  ],
  habitat: [
    (s) => `where does ${s} live?`,
    (s) => `what is the home of ${s}?`,
    (s) => `where is the home of ${s}?`,
    (s) => `where is ${s} found?`,
  ],
  diet: [
    (s) => `what does ${s} eat?`,
    (s) => `what is the food of ${s}?`,
    (s) => `which food does ${s} eat?`,
    (s) => `what food does ${s} eat?`,
  ],
  material: [
    (s) => `what is ${s} made of?`,
    (s) => `what is the material of ${s}?`,
    (s) => `which material is ${s} made of?`,
    (s) => `what material is ${s} made of?`,
  ],
  owner: [
    (s) => `who owns ${s}?`,
    (s) => `who is the owner of ${s}?`,
    (s) => `who does ${s} belong to?`,
    (s) => `who is ${s} owned by?`,
  ],
};

/** ARC-c's third hop kind: the pet of a thing's owner. */
export const OWNER_PET_WORDINGS: readonly ((thing: string) => string)[] = [
  (x) => `what is the pet of the owner of the ${x}?`,
  (x) => `what pet does the owner of the ${x} have?`,
  (x) => `which pet does the owner of the ${x} have?`,
  (x) => `which pet belongs to the owner of the ${x}?`,
];

/** OBQA's canonical question, with the animal filled in. */
export const DESCRIBE_WORDINGS: readonly ((animal: string) => string)[] = [
  (a) => `which word describes the ${a}?`,
  (a) => `which word fits the ${a}?`,
  (a) => `how would you describe the ${a}?`,
  (a) => `what word describes the ${a}?`,
  (a) => `which word is right for the ${a}?`,
  (a) => `what kind of animal is the ${a}?`,
  (a) => `which word suits the ${a}?`,
  (a) => `what is the ${a} like?`,
];

/** PIQA's question, with the goal filled in. */
export const GOAL_WORDINGS: readonly ((goal: string) => string)[] = [
  (g) => `how do you ${g}?`,
  (g) => `what is a good way to ${g}?`,
  (g) => `what should you do to ${g}?`,
  (g) => `how can you ${g}?`,
  (g) => `what is the best way to ${g}?`,
  (g) => `what can you do to ${g}?`,
  (g) => `how would you ${g}?`,
  (g) => `what helps you ${g}?`,
];

/**
 * PIQA's fixed second solution, the same for every goal ("find something else"). Its first word is no goal's
 * verb, so the base's first answer word already tells the two solutions apart ("burn …" vs "find …"), as the
 * other families' single answer words do.
 */
export const ALTERNATIVE = "find something else";

/** A goal's solution with object `x` ("burn the box"), or ALTERNATIVE when `x` is null. */
export function solution(goal: Pick<GoalSpec, "solution">, x: string | null): string {
  return x === null ? ALTERNATIVE : goal.solution.replace("{x}", x);
}

/** The values an attribute question offers, in lexicon order (owners: the world's people in world order). */
function attributePool(world: World, attr: Attribute): readonly string[] {
  const pools = { colour: COLOURS, size: SIZES, habitat: HABITATS, diet: DIETS, material: MATERIALS };
  return attr === "owner" ? world.people.map((p) => p.name) : pools[attr];
}

/** An animal's or thing's value of `attr` (null when it has none). */
function valueOf(index: WorldIndex, name: string, attr: Attribute): string | null {
  const e = (index.animal.get(name) ?? index.thing.get(name)) as Record<string, unknown> | undefined;
  const v = e?.[attr];
  return typeof v === "string" ? v : null;
}

function multiChoice(question: string, correct: string, distractors: string[] | null, answer: number) {
  return distractors
    ? { instruction: answerInstruction(question, place(correct, distractors, answer)), content: correct }
    : null;
}

/** A canonical multiple-choice question: `value`'s group of `k` from `inventory`, if `value` sits at `answer`. */
function canonicalChoice(
  question: string,
  inventory: readonly string[],
  k: number,
  value: string,
  answer: number,
  lastAt: number,
) {
  const c = canonicalOptions(inventory, k, value, lastAt);
  if (!c || c.index !== answer) return null;
  return { instruction: answerInstruction(question, c.options), content: value };
}

// --- the families ------------------------------------------------------------------------------------------

/**
 * BoolQ's yes/no properties of an attribute's value: the values for which the answer is true, and the ways the
 * question is asked of an entity ("is the fox dark?"). Each splits its attribute's values roughly in half.
 */
export const BOOLQ_PROPERTIES: Readonly<
  Partial<Record<Attribute, { holds: readonly string[]; wordings: readonly ((x: string) => string)[] }>>
> = {
  colour: {
    holds: ["black", "brown", "grey", "blue"],
    wordings: [(x) => `is the ${x} dark`, (x) => `is the ${x} a dark colour`, (x) => `does the ${x} look dark`],
  },
  size: {
    holds: ["big", "huge"],
    wordings: [(x) => `is the ${x} large`, (x) => `is the ${x} a large one`, (x) => `would you call the ${x} large`],
  },
  habitat: {
    holds: ["river", "sea", "jungle"],
    wordings: [
      (x) => `does the ${x} live in a wet place`,
      (x) => `is the home of the ${x} wet`,
      (x) => `does the ${x} have a wet home`,
    ],
  },
  diet: {
    holds: ["meat", "fish", "insects"],
    wordings: [
      (x) => `does the ${x} eat animals`,
      (x) => `does the ${x} feed on animals`,
      (x) => `is the food of the ${x} an animal`,
    ],
  },
  material: {
    holds: ["wood", "metal", "glass", "stone"],
    wordings: [
      (x) => `is the ${x} hard`,
      (x) => `is the ${x} made of something hard`,
      (x) => `does the ${x} feel hard`,
    ],
  },
};

/** Whether a key's property holds (the key's one position: true = 0, false = 1); null without a value. */
function boolqTruth({ index }: FamilyContext, key: string): boolean | null {
  const [name, attr] = key.split("|") as [string, Attribute];
  const value = valueOf(index, name, attr);
  const property = BOOLQ_PROPERTIES[attr];
  return value === null || !property ? null : property.holds.includes(value);
}

/**
 * A yes/no property of one fact: "is the fox dark?" needs the fox's colour (one-hop knowledge) and whether that
 * colour is dark (a fixed value → true/false table fine-tuning teaches; every value is the answer of training
 * keys too). Keys are ARC-e's (entity, attribute) for the attributes with a property. Like the other families,
 * pretraining answers each question in words — with the deciding value ("… the correct answer is black"),
 * never true/false — so the base retrieves the fact for this question form and fine-tuning teaches the table.
 * Measured on the 2-layer base without those documents: LoRA stayed at 50.0 % (one constant answer) on this
 * task, on a claim to verify ("is the fox red?", also with a two-sentence passage) and on the earlier size
 * comparison ("is the fox bigger than the mouse?"), and could not even fit BoolQ's own training records (59 %
 * after 150 updates on BoolQ alone): no circuit of the base brought the entity's fact to the answer position.
 */
const boolqMode: FamilyMode = {
  keys: (world) => arcEasyKeys(world).filter((k) => BOOLQ_PROPERTIES[k.split("|")[1] as Attribute] !== undefined),
  positions: onePosition((ctx, key) => {
    const t = boolqTruth(ctx, key);
    return t === null ? null : t ? 0 : 1;
  }),
  make: (ctx, key, answer, rng) => {
    const truth = boolqTruth(ctx, key);
    if (truth === null || (answer === 0) !== truth) return null;
    const [name, attr] = key.split("|") as [string, Attribute];
    const question = rng.pick(BOOLQ_PROPERTIES[attr]!.wordings)(name);
    const words = valueOf(ctx.index, name, attr)!;
    return { instruction: boolqInstruction(question), content: truth ? "true" : "false", words };
  },
};

const boolq: Family = {
  task: "boolq",
  choices: 2,
  qaDocs: true,
  modes: { canonical: boolqMode, shuffled: boolqMode },
};

const goalOf = (world: World, id: string) => world.goals.find((g) => g.id === id)!;

const piqa: Family = {
  task: "piqa",
  choices: 2,
  qaDocs: true,
  modes: {
    shuffled: {
      keys: (world) =>
        world.goals.flatMap((g) =>
          world.things.some((t) => g.bad.includes(t.material))
            ? world.things.filter((t) => g.ok.includes(t.material)).map((t) => `${g.id}|${t.name}`)
            : []
        ),
      make: ({ world }, key, answer, rng) => {
        const [goalId, thing] = key.split("|");
        const g = goalOf(world, goalId);
        const bad = world.things.filter((t) => g.bad.includes(t.material)).map((t) => t.name);
        const s = place(solution(g, thing), [solution(g, rng.pick(bad))], answer);
        return { instruction: piqaInstruction(rng.pick(GOAL_WORDINGS)(g.goal), [s[0], s[1]]), content: s[answer] };
      },
    },
    // Every object whose material works (solution1) or fails (solution2) for the goal.
    canonical: {
      keys: (world) =>
        world.goals.flatMap((g) =>
          world.things.filter((t) => g.ok.includes(t.material) || g.bad.includes(t.material))
            .map((t) => `${g.id}|${t.name}`)
        ),
      positions: onePosition(({ world, index }, key) => {
        const [goalId, thing] = key.split("|");
        return goalOf(world, goalId).ok.includes(index.thing.get(thing)!.material) ? 0 : 1;
      }),
      make: ({ world, index }, key, answer, rng) => {
        const [goalId, thing] = key.split("|");
        const g = goalOf(world, goalId);
        const works = g.ok.includes(index.thing.get(thing)!.material);
        if (answer !== (works ? 0 : 1)) return null;
        const s: [string, string] = [solution(g, thing), solution(g, null)];
        return { instruction: piqaInstruction(rng.pick(GOAL_WORDINGS)(g.goal), s), content: s[answer] };
      },
    },
  },
};

const EVENT_QUESTIONS: Record<EventKind, (p: string) => string> = {
  feel: (p) => `how would ${p} feel?`,
  why: (p) => `why did ${p} do this?`,
  next: (p) => `what will ${p} do next?`,
};

const SIQA_CHOICES = 3;
const SIQA_LAST_AT: Readonly<Record<EventKind, number>> = { feel: 1, why: 0, next: 0 };

/** The world's distinct reactions of one kind (unfilled templates), in lexicon order: SIQA's canonical inventory. */
function reactions(world: World, kind: EventKind): string[] {
  const ids = new Set(world.events.map((e) => e.id));
  return [...new Set(EVENTS.filter((e) => ids.has(e.id) && e[kind]).map((e) => e[kind]!))];
}

/** Kinds enough events have for a full choice set. */
function siqaKeys(world: World): string[] {
  const kinds = EVENT_KINDS.filter((k) => reactions(world, k).length >= SIQA_CHOICES);
  return world.events.flatMap((e) => kinds.filter((k) => e[k]).map((k) => `${e.id}|${k}`));
}

function siqaParts(world: World, key: string, rng: Rng) {
  const [id, kind] = key.split("|") as [string, EventKind];
  const [p, q] = sampleDistinct(rng, world.people.map((x) => x.name), 2)!;
  const fill = (s: string) => s.replaceAll("{p}", p).replaceAll("{q}", q);
  const e = world.events.find((x) => x.id === id)!;
  return { kind, e, fill, question: `${fill(e.text)}. ${EVENT_QUESTIONS[kind](p)}` };
}

const socialIqa: Family = {
  task: "social_i_qa",
  choices: SIQA_CHOICES,
  qaDocs: true,
  modes: {
    shuffled: {
      keys: siqaKeys,
      make: ({ world }, key, answer, rng) => {
        const { kind, e, fill, question } = siqaParts(world, key, rng);
        const pool = world.events.flatMap((x) => (x[kind] ? [fill(x[kind]!)] : []));
        return multiChoice(question, fill(e[kind]!), choicesFor(rng, fill(e[kind]!), pool, SIQA_CHOICES), answer);
      },
    },
    canonical: {
      keys: siqaKeys,
      positions: onePosition(({ world }, key) => {
        const [id, kind] = key.split("|") as [string, EventKind];
        const e = world.events.find((x) => x.id === id)!;
        return canonicalOptions(reactions(world, kind), SIQA_CHOICES, e[kind]!, SIQA_LAST_AT[kind])?.index ?? null;
      }),
      make: ({ world }, key, answer, rng) => {
        const { kind, e, fill, question } = siqaParts(world, key, rng);
        const c = canonicalOptions(reactions(world, kind), SIQA_CHOICES, e[kind]!, SIQA_LAST_AT[kind]);
        if (!c || c.index !== answer) return null;
        return { instruction: answerInstruction(question, c.options.map(fill)), content: fill(e[kind]!) };
      },
    },
  },
};

const HELLASWAG_ENDINGS = 4;

const scriptKeys = (world: World) => world.scripts.flatMap((s) => s.steps.slice(1).map((_, i) => `${s.activity}|${i}`));

const hellaswag: Family = {
  task: "hellaswag",
  choices: HELLASWAG_ENDINGS,
  qaDocs: true,
  modes: {
    shuffled: {
      keys: scriptKeys,
      make: ({ world }, key, answer, rng) => {
        const [activity, at] = key.split("|");
        const i = Number(at);
        const s = world.scripts.find((x) => x.activity === activity)!;
        const p = rng.pick(world.people).name;
        const correct = s.steps[i + 1];
        const same = sampleDistinct(rng, s.steps, SAME_SCRIPT_DISTRACTORS, [correct])!;
        const otherSteps = world.scripts.filter((x) => x !== s).flatMap((x) => x.steps);
        const other = sampleDistinct(rng, otherSteps, HELLASWAG_ENDINGS - 1 - same.length, [correct, ...same]);
        if (!other) return null;
        const endings = place(correct, rng.shuffle([...same, ...other]), answer);
        return { instruction: endingInstruction(activity, `${p} ${s.steps[i]}. then ${p}`, endings), content: correct };
      },
    },
    // Scripts of exactly ENDINGS + 1 steps: the endings are steps 2..5 in order; context step i → ending i.
    canonical: {
      keys: (world) => scriptKeys(world).filter((k) => canonicalScript(world, k) !== null),
      positions: onePosition(({ world }, key) =>
        canonicalScript(world, key) === null ? null : Number(key.split("|")[1])
      ),
      make: ({ world }, key, answer, rng) => {
        const s = canonicalScript(world, key);
        const i = Number(key.split("|")[1]);
        if (!s || answer !== i) return null;
        const p = rng.pick(world.people).name;
        const endings = s.steps.slice(1);
        return {
          instruction: endingInstruction(s.activity, `${p} ${s.steps[i]}. then ${p}`, endings),
          content: endings[i],
        };
      },
    },
  },
};

function canonicalScript(world: World, key: string) {
  const s = world.scripts.find((x) => x.activity === key.split("|")[0]);
  return s && s.steps.length === HELLASWAG_ENDINGS + 1 ? s : null;
}

/** Frames whose two roles can swap (either animal can fail to catch the other), keyed by the unordered pair. */
const SYMMETRIC_FRAMES = new Set(["catch", "thank"]);

function winograndeKeys(world: World, rng: Rng): string[] {
  return FRAMES.flatMap((f) => {
    const fills = framePairs(world, f).filter((x) => !SYMMETRIC_FRAMES.has(f.id) || x.a < x.b);
    return rng.shuffle(fills.map((x) => `${f.id}|${x.a}|${x.b}|${x.c ?? ""}`)).slice(0, KEYS_PER_FRAME);
  });
}

/** The frame sentence for `key` under trigger `t`, with the two candidates in order of mention. */
function winograndeParts(key: string, t: 0 | 1, rng: Rng) {
  const [id, a0, b0, c] = key.split("|");
  const frame = FRAMES.find((f) => f.id === id)!;
  const swap = SYMMETRIC_FRAMES.has(id) && rng.next() < 0.5;
  const [a, b] = swap ? [b0, a0] : [a0, b0];
  return { sentence: fillFrame(frame, { a, b, c: c || undefined }, t), a, b, referent: t === 0 ? a : b };
}

const winogrande: Family = {
  task: "winogrande",
  choices: 2,
  qaDocs: false,
  modes: {
    shuffled: {
      keys: winograndeKeys,
      make: (_ctx, key, answer, rng) => {
        const t = rng.int(2) as 0 | 1;
        const { sentence, a, b, referent } = winograndeParts(key, t, rng);
        const options = place(referent, [referent === a ? b : a], answer);
        return { instruction: blankInstruction(sentence, [options[0], options[1]]), content: referent };
      },
    },
    // Options in order of mention: the first trigger means the first-mentioned entity (option1).
    canonical: {
      keys: winograndeKeys,
      make: (_ctx, key, answer, rng) => {
        const { sentence, a, b, referent } = winograndeParts(key, answer as 0 | 1, rng);
        return { instruction: blankInstruction(sentence, [a, b]), content: referent };
      },
    },
  },
};

const ANIMAL_ATTRS: Attribute[] = ["colour", "size", "habitat", "diet"];
const THING_ATTRS: Attribute[] = ["colour", "size", "material", "owner"];

const ARC_E_CHOICES = 4;
/** Where the last, partial group's values go (see `canonical.ts`), chosen to even out the positions. */
const ARC_E_LAST_AT: Readonly<Partial<Record<Attribute, number>>> = { size: 3, diet: 1, material: 1 };

const arcEasyKeys = (world: World) => [
  ...world.animals.flatMap((a) => ANIMAL_ATTRS.map((attr) => `${a.name}|${attr}`)),
  ...world.things.flatMap((t) => THING_ATTRS.map((attr) => `${t.name}|${attr}`)),
];

function arcEasyValue({ world, index }: FamilyContext, key: string) {
  const [name, attr] = key.split("|") as [string, Attribute];
  const lastAt = ARC_E_LAST_AT[attr] ?? 0;
  return { name, attr, value: valueOf(index, name, attr)!, pool: attributePool(world, attr), lastAt };
}

const arcEasy: Family = {
  task: "ARC-Easy",
  choices: ARC_E_CHOICES,
  qaDocs: true,
  modes: {
    shuffled: {
      keys: arcEasyKeys,
      make: (ctx, key, answer, rng) => {
        const { name, attr, value, pool } = arcEasyValue(ctx, key);
        const distractors = choicesFor(rng, value, pool, ARC_E_CHOICES);
        return multiChoice(ATTRIBUTE_WORDINGS[attr][0](`the ${name}`), value, distractors, answer);
      },
    },
    canonical: {
      keys: (world) => {
        const ctx = { world, index: indexWorld(world) };
        return arcEasyKeys(world).filter((k) => arcEasy.modes.canonical.positions!(ctx, k).length > 0);
      },
      positions: onePosition((ctx, key) => {
        const { value, pool, lastAt } = arcEasyValue(ctx, key);
        return canonicalOptions(pool, ARC_E_CHOICES, value, lastAt)?.index ?? null;
      }),
      make: (ctx, key, answer, rng) => {
        const { name, attr, value, pool, lastAt } = arcEasyValue(ctx, key);
        const question = rng.pick(ATTRIBUTE_WORDINGS[attr])(`the ${name}`);
        return canonicalChoice(question, pool, ARC_E_CHOICES, value, answer, lastAt);
      },
    },
  },
};

const PREY_ATTRS: Attribute[] = ["colour", "size", "habitat"];

const ARC_C_CHOICES = 5;
const ARC_C_LAST_AT: Readonly<Partial<Record<Attribute | "pet", number>>> = { colour: 2, diet: 3, pet: 2 };

const arcChallengeKeys = (world: World) => [
  ...world.people.flatMap((p) => ANIMAL_ATTRS.map((attr) => `pet|${p.name}|${attr}`)),
  ...world.animals.filter((a) => a.prey).flatMap((a) => PREY_ATTRS.map((attr) => `prey|${a.name}|${attr}`)),
  ...world.things.map((t) => `ownerpet|${t.name}|`),
];

type Hop = "pet" | "prey" | "ownerpet";

/** What an ARC-c key asks: the subject phrase, the answer and the pool it is offered from. */
function arcChallengeParts({ world, index }: FamilyContext, key: string) {
  const [hop, from, attr] = key.split("|") as [Hop, string, Attribute];
  if (hop === "ownerpet") {
    const pet = index.person.get(index.thing.get(from)!.owner)!.pet;
    const pool = world.people.map((p) => p.pet);
    return { hop, from, attr, value: pet, pool, lastAt: ARC_C_LAST_AT.pet!, subject: "", oneHop: [] as string[] };
  }
  const [target, subject, oneHop] = hop === "pet"
    ? [index.person.get(from)!.pet, `the pet of ${from}`, [] as string[]]
    : [index.animal.get(from)!.prey!, `the prey of the ${from}`, [valueOf(index, from, attr)!]];
  const value = valueOf(index, target, attr)!;
  return {
    hop,
    from,
    attr,
    value,
    pool: attributePool(world, attr),
    lastAt: ARC_C_LAST_AT[attr] ?? 0,
    subject,
    oneHop,
  };
}

const arcChallenge: Family = {
  task: "ARC-Challenge",
  choices: ARC_C_CHOICES,
  qaDocs: true,
  modes: {
    shuffled: {
      keys: arcChallengeKeys,
      make: (ctx, key, answer, rng) => {
        const { hop, from, attr, value, subject, oneHop } = arcChallengeParts(ctx, key);
        if (hop === "ownerpet") {
          const d = choicesFor(rng, value, ctx.world.animals.map((a) => a.name), ARC_C_CHOICES);
          return multiChoice(OWNER_PET_WORDINGS[0](from), value, d, answer);
        }
        // The one-hop value (the predator's own colour, …) is a distractor whenever it differs from the answer.
        const d = choicesFor(rng, value, attributePool(ctx.world, attr), ARC_C_CHOICES, oneHop);
        return multiChoice(ATTRIBUTE_WORDINGS[attr][0](subject), value, d, answer);
      },
    },
    canonical: {
      keys: (world) => {
        const ctx = { world, index: indexWorld(world) };
        return arcChallengeKeys(world).filter((k) => arcChallenge.modes.canonical.positions!(ctx, k).length > 0);
      },
      positions: onePosition((ctx, key) => {
        const { value, pool, lastAt } = arcChallengeParts(ctx, key);
        return canonicalOptions(pool, ARC_C_CHOICES, value, lastAt)?.index ?? null;
      }),
      make: (ctx, key, answer, rng) => {
        const { hop, from, attr, value, pool, lastAt, subject } = arcChallengeParts(ctx, key);
        const question = hop === "ownerpet"
          ? rng.pick(OWNER_PET_WORDINGS)(from)
          : rng.pick(ATTRIBUTE_WORDINGS[attr])(subject);
        return canonicalChoice(question, pool, ARC_C_CHOICES, value, answer, lastAt);
      },
    },
  },
};

const OBQA_CHOICES = 4;
const RULE_ATTRIBUTES = ["diet", "habitat"] as const;
const OBQA_LAST_AT = { diet: 1, habitat: 0 } as const;

/** The labels of the world's rules on `attribute`, in the lexicon order of their premises. */
function ruleLabels(world: World, attribute: "diet" | "habitat"): string[] {
  return world.rules.filter((r) => r.attribute === attribute).map((r) => r.label);
}

/** The label the world's rules give `animal` through `attribute`, or null when no rule covers it. */
function labelOf(world: World, animal: Animal, attribute: "diet" | "habitat"): string | null {
  return world.rules.find((r) => r.attribute === attribute && r.value === animal[attribute])?.label ?? null;
}

function obqaCanonical({ world, index }: FamilyContext, key: string) {
  const [attribute, name] = key.split("|") as ["diet" | "habitat", string];
  const label = labelOf(world, index.animal.get(name)!, attribute);
  const c = label === null
    ? null
    : canonicalOptions(ruleLabels(world, attribute), OBQA_CHOICES, label, OBQA_LAST_AT[attribute]);
  return c && label !== null ? { name, label, ...c } : null;
}

const openbookqa: Family = {
  task: "openbookqa",
  choices: OBQA_CHOICES,
  qaDocs: true,
  modes: {
    shuffled: {
      keys: (world) =>
        world.rules.flatMap((r) => {
          const holds = world.animals.filter((a) => a[r.attribute] === r.value);
          const enoughOthers = world.animals.length - holds.length >= OBQA_CHOICES - 1;
          return enoughOthers ? holds.map((a) => `${r.attribute}|${r.value}|${a.name}`) : [];
        }),
      make: ({ world }, key, answer, rng) => {
        const [attribute, value, animal] = key.split("|");
        const rule = world.rules.find((r) => r.attribute === attribute && r.value === value)!;
        const others = world.animals.filter((a) => a[rule.attribute] !== value).map((a) => a.name);
        const premise = attribute === "diet" ? `eat ${value}` : `live in the ${value}`;
        const question = `animals that ${premise} are ${rule.label}. which animal is ${rule.label}?`;
        return multiChoice(question, animal, sampleDistinct(rng, others, OBQA_CHOICES - 1), answer);
      },
    },
    // An animal and one of its two rule-bearing attributes: which of that attribute's labels describes it.
    canonical: {
      keys: (world) => {
        const ctx = { world, index: indexWorld(world) };
        return world.animals.flatMap((a) => RULE_ATTRIBUTES.map((attr) => `${attr}|${a.name}`))
          .filter((k) => obqaCanonical(ctx, k) !== null);
      },
      positions: onePosition((ctx, key) => obqaCanonical(ctx, key)?.index ?? null),
      make: (ctx, key, answer, rng) => {
        const c = obqaCanonical(ctx, key);
        if (!c || c.index !== answer) return null;
        return { instruction: answerInstruction(rng.pick(DESCRIBE_WORDINGS)(c.name), c.options), content: c.label };
      },
    },
  },
};

/** The families in TASKS order. */
export const FAMILIES: Readonly<Record<TaskName, Family>> = {
  boolq,
  piqa,
  social_i_qa: socialIqa,
  hellaswag,
  winogrande,
  "ARC-Easy": arcEasy,
  "ARC-Challenge": arcChallenge,
  openbookqa,
};
