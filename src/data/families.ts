/**
 * The eight embedded task families, one per commonsense benchmark, each needing a different skill over the
 * same world and vocabulary:
 *
 * | task          | shaped like   | skill                                                            |
 * | ------------- | ------------- | ---------------------------------------------------------------- |
 * | boolq         | BoolQ         | compare two entities' size classes → true/false                  |
 * | piqa          | PIQA          | goal → the object whose material makes the action work           |
 * | social_i_qa   | SIQA          | social event → the person's feeling, motive or next want         |
 * | hellaswag     | HellaSwag     | activity script → the step that comes next                       |
 * | winogrande    | WinoGrande    | twin sentence → which of two entities the blank refers to        |
 * | ARC-Easy      | ARC-e         | one-hop lookup: entity → attribute                               |
 * | ARC-Challenge | ARC-c         | two-hop lookup: person → pet → attribute, predator → prey → …    |
 * | openbookqa    | OBQA          | apply the rule stated in the question to the animals' facts      |
 *
 * A family lists its fact keys (what a question is about; questions on one key never cross splits) and makes
 * one question for a key with the correct choice at a given position.
 */
import type { Rng } from "../util/rng.ts";
import { COLOURS, DIETS, EVENT_KINDS, type EventKind, FRAMES, HABITATS, MATERIALS, SIZES } from "./lexicon.ts";
import {
  answerInstruction,
  blankInstruction,
  boolqInstruction,
  endingInstruction,
  piqaInstruction,
} from "./formats.ts";
import type { TaskName } from "./types.ts";
import { fillFrame, framePairs, sizeOf, sizeRank, type World, type WorldIndex } from "./world.ts";

export interface FamilyContext {
  world: World;
  index: WorldIndex;
}

export interface Family {
  task: TaskName;
  /** Choices offered per question (true/false counts as 2). */
  choices: number;
  /** Every fact key the task can ask about, in a fixed order (`rng` only for families that subsample). */
  keys(world: World, rng: Rng): string[];
  /** One instruction about `key` whose correct choice is number `answer` (0-based), or null if impossible. */
  make(ctx: FamilyContext, key: string, answer: number, rng: Rng): string | null;
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

// --- shared question wording (ARC-e asks it of an entity, ARC-c of a two-hop description) ---------------------

type Attribute = "colour" | "size" | "habitat" | "diet" | "material" | "owner";

function attributeQuestion(attr: Attribute, subject: string): string {
  switch (attr) {
    case "colour":
      return `what colour is ${subject}?`;
    case "size":
      return `how big is ${subject}?`;
    case "habitat":
      return `where does ${subject} live?`;
    case "diet":
      return `what does ${subject} eat?`;
    case "material":
      return `what is ${subject} made of?`;
    case "owner":
      return `who owns ${subject}?`;
  }
}

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
  return distractors ? answerInstruction(question, place(correct, distractors, answer)) : null;
}

// --- the families ------------------------------------------------------------------------------------------

const boolq: Family = {
  task: "boolq",
  choices: 2,
  keys: (world) => {
    const names = [...world.animals, ...world.things];
    return names.flatMap((a, i) =>
      names.slice(i + 1).filter((b) => b.size !== a.size).map((b) => `${a.name}|${b.name}`)
    );
  },
  make: ({ index }, key, answer, rng) => {
    const [a, b] = key.split("|");
    const [big, small] = sizeRank(sizeOf(index, a)) > sizeRank(sizeOf(index, b)) ? [a, b] : [b, a];
    const relation = rng.pick(["bigger", "smaller"] as const);
    const truth = answer === 0;
    const subject = (relation === "bigger") === truth ? big : small;
    return boolqInstruction(`is the ${subject} ${relation} than the ${subject === big ? small : big}`);
  },
};

const piqa: Family = {
  task: "piqa",
  choices: 2,
  keys: (world) =>
    world.goals.flatMap((g) =>
      world.things.some((t) => g.bad.includes(t.material))
        ? world.things.filter((t) => g.ok.includes(t.material)).map((t) => `${g.id}|${t.name}`)
        : []
    ),
  make: ({ world }, key, answer, rng) => {
    const [goalId, thing] = key.split("|");
    const g = world.goals.find((x) => x.id === goalId)!;
    const bad = world.things.filter((t) => g.bad.includes(t.material)).map((t) => t.name);
    const solve = (x: string) => g.solution.replace("{x}", x);
    const s = place(solve(thing), [solve(rng.pick(bad))], answer);
    return piqaInstruction(`how do you ${g.goal}?`, [s[0], s[1]]);
  },
};

const EVENT_QUESTIONS: Record<EventKind, (p: string) => string> = {
  feel: (p) => `how would ${p} feel?`,
  why: (p) => `why did ${p} do this?`,
  next: (p) => `what will ${p} want to do next?`,
};

const SIQA_CHOICES = 3;

const socialIqa: Family = {
  task: "social_i_qa",
  choices: SIQA_CHOICES,
  // Only kinds enough events have for a full set of same-kind distractors.
  keys: (world) => {
    const kinds = EVENT_KINDS.filter((k) => world.events.filter((e) => e[k]).length >= SIQA_CHOICES);
    return world.events.flatMap((e) => kinds.filter((k) => e[k]).map((k) => `${e.id}|${k}`));
  },
  make: ({ world }, key, answer, rng) => {
    const [id, kind] = key.split("|") as [string, EventKind];
    const [p, q] = sampleDistinct(rng, world.people.map((x) => x.name), 2)!;
    const fill = (s: string) => s.replaceAll("{p}", p).replaceAll("{q}", q);
    const e = world.events.find((x) => x.id === id)!;
    const pool = world.events.flatMap((x) => (x[kind] ? [fill(x[kind]!)] : []));
    const question = `${fill(e.text)}. ${EVENT_QUESTIONS[kind](p)}`;
    return multiChoice(question, fill(e[kind]!), choicesFor(rng, fill(e[kind]!), pool, SIQA_CHOICES), answer);
  },
};

const HELLASWAG_ENDINGS = 4;

const hellaswag: Family = {
  task: "hellaswag",
  choices: HELLASWAG_ENDINGS,
  keys: (world) => world.scripts.flatMap((s) => s.steps.slice(1).map((_, i) => `${s.activity}|${i}`)),
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
    return endingInstruction(activity, `${p} ${s.steps[i]}. then ${p}`, endings);
  },
};

/** Frames whose two roles can swap (either animal can fail to catch the other), keyed by the unordered pair. */
const SYMMETRIC_FRAMES = new Set(["catch", "thank"]);

const winogrande: Family = {
  task: "winogrande",
  choices: 2,
  keys: (world, rng) =>
    FRAMES.flatMap((f) => {
      const fills = framePairs(world, f).filter((x) => !SYMMETRIC_FRAMES.has(f.id) || x.a < x.b);
      return rng.shuffle(fills.map((x) => `${f.id}|${x.a}|${x.b}|${x.c ?? ""}`)).slice(0, KEYS_PER_FRAME);
    }),
  make: (_ctx, key, answer, rng) => {
    const [id, a0, b0, c] = key.split("|");
    const frame = FRAMES.find((f) => f.id === id)!;
    const swap = SYMMETRIC_FRAMES.has(id) && rng.next() < 0.5;
    const [a, b] = swap ? [b0, a0] : [a0, b0];
    const t = rng.int(2) as 0 | 1;
    const [referent, other] = t === 0 ? [a, b] : [b, a];
    const options = place(referent, [other], answer);
    return blankInstruction(fillFrame(frame, { a, b, c: c || undefined }, t), [options[0], options[1]]);
  },
};

const ANIMAL_ATTRS: Attribute[] = ["colour", "size", "habitat", "diet"];
const THING_ATTRS: Attribute[] = ["colour", "size", "material", "owner"];

const ARC_E_CHOICES = 4;

const arcEasy: Family = {
  task: "ARC-Easy",
  choices: ARC_E_CHOICES,
  keys: (world) => [
    ...world.animals.flatMap((a) => ANIMAL_ATTRS.map((attr) => `${a.name}|${attr}`)),
    ...world.things.flatMap((t) => THING_ATTRS.map((attr) => `${t.name}|${attr}`)),
  ],
  make: ({ world, index }, key, answer, rng) => {
    const [name, attr] = key.split("|") as [string, Attribute];
    const value = valueOf(index, name, attr)!;
    const distractors = choicesFor(rng, value, attributePool(world, attr), ARC_E_CHOICES);
    return multiChoice(attributeQuestion(attr, `the ${name}`), value, distractors, answer);
  },
};

const PREY_ATTRS: Attribute[] = ["colour", "size", "habitat"];

const ARC_C_CHOICES = 5;

const arcChallenge: Family = {
  task: "ARC-Challenge",
  choices: ARC_C_CHOICES,
  keys: (world) => [
    ...world.people.flatMap((p) => ANIMAL_ATTRS.map((attr) => `pet|${p.name}|${attr}`)),
    ...world.animals.filter((a) => a.prey).flatMap((a) => PREY_ATTRS.map((attr) => `prey|${a.name}|${attr}`)),
    ...world.things.map((t) => `ownerpet|${t.name}|`),
  ],
  make: ({ world, index }, key, answer, rng) => {
    const [hop, from, attr] = key.split("|") as ["pet" | "prey" | "ownerpet", string, Attribute];
    if (hop === "ownerpet") {
      const pet = index.person.get(index.thing.get(from)!.owner)!.pet;
      const d = choicesFor(rng, pet, world.animals.map((a) => a.name), ARC_C_CHOICES);
      return multiChoice(`which animal is the pet of the owner of the ${from}?`, pet, d, answer);
    }
    // The one-hop value (the predator's own colour, …) is a distractor whenever it differs from the answer.
    const [target, subject, oneHop] = hop === "pet"
      ? [index.person.get(from)!.pet, `the pet of ${from}`, [] as string[]]
      : [index.animal.get(from)!.prey!, `the animal that the ${from} hunts`, [valueOf(index, from, attr)!]];
    const value = valueOf(index, target, attr)!;
    const d = choicesFor(rng, value, attributePool(world, attr), ARC_C_CHOICES, oneHop);
    return multiChoice(attributeQuestion(attr, subject), value, d, answer);
  },
};

const OBQA_CHOICES = 4;

const openbookqa: Family = {
  task: "openbookqa",
  choices: OBQA_CHOICES,
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
