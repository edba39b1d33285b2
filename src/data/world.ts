/**
 * A seeded, small "commonsense" world: animals, things and people with attributes (colour, size class,
 * habitat, diet, material, owner, pet, prey), the rules, goals, social events and activity scripts the eight
 * task families ask about. Config + seed → world, deterministic; plain JSON, so it can be hashed and shown.
 * Colours, sizes, habitats and (non-meat) diets are dealt evenly rather than drawn independently, so every value
 * occurs and the canonical option positions (`canonical.ts`) all have keys. The default world uses every
 * name in the lexicon (48 animals, 34 things, 24 people = 106 entities; 12 scripts, 36 events, 7 goals): enough
 * fact keys for 250 fact-disjoint test questions per task, while the answered-in-words pretraining documents
 * (one set per fact key) stay within the pretraining budget.
 */
import { parseConfig, z } from "../config.ts";
import { Rng } from "../util/rng.ts";
import {
  ANIMALS,
  COLOURS,
  DIETS,
  EVENTS,
  type EventSpec,
  type FrameSpec,
  GOALS,
  type GoalSpec,
  HABITATS,
  type Material,
  PEOPLE,
  RULE_LABELS,
  SCRIPTS,
  type ScriptSpec,
  type Size,
  SIZES,
  THINGS,
} from "./lexicon.ts";

/** Fewest entities of each kind the task families can still draw distractors from. */
const MIN_ANIMALS = 8;
const MIN_THINGS = 8;
const MIN_PEOPLE = 4;
const MIN_SCRIPTS = 4;
const MIN_EVENTS = 6;
const MIN_GOALS = 3;
/** Share of animals that eat meat (each hunts one other animal), so predator–prey questions have material. */
const MEAT_EATER_SHARE = 0.25;

export const WorldConfigSchema = z.strictObject({
  animals: z.number().int().min(MIN_ANIMALS).max(ANIMALS.length).default(ANIMALS.length),
  /** Objects ("things"; `Object` is taken). */
  objects: z.number().int().min(MIN_THINGS).max(Object.keys(THINGS).length).default(Object.keys(THINGS).length),
  people: z.number().int().min(MIN_PEOPLE).max(PEOPLE.length).default(PEOPLE.length),
  scripts: z.number().int().min(MIN_SCRIPTS).max(SCRIPTS.length).default(SCRIPTS.length),
  events: z.number().int().min(MIN_EVENTS).max(EVENTS.length).default(EVENTS.length),
  goals: z.number().int().min(MIN_GOALS).max(GOALS.length).default(GOALS.length),
}).refine((c) => c.people <= c.animals, {
  message: "must be at most world.animals (every person has a different pet)",
  path: ["people"],
});
export type WorldConfig = z.output<typeof WorldConfigSchema>;
export type WorldConfigInput = z.input<typeof WorldConfigSchema>;

export function parseWorldConfig(value: unknown, where = "world"): WorldConfig {
  return parseConfig(WorldConfigSchema, value, where);
}

export interface Animal {
  name: string;
  colour: string;
  size: Size;
  habitat: string;
  diet: string;
  /** The animal it hunts (meat eaters only), else null. */
  prey: string | null;
}

export interface Thing {
  name: string;
  colour: string;
  size: Size;
  material: Material;
  /** The person it belongs to. */
  owner: string;
}

export interface Person {
  name: string;
  /** The animal that is this person's pet (one each, all different). */
  pet: string;
}

/** "animals that eat meat are brave": a premise on one attribute and the label it implies. */
export interface Rule {
  attribute: "diet" | "habitat";
  value: string;
  label: string;
}

export interface World {
  seed: number;
  config: WorldConfig;
  animals: Animal[];
  things: Thing[];
  people: Person[];
  rules: Rule[];
  goals: GoalSpec[];
  events: EventSpec[];
  scripts: ScriptSpec[];
}

/** Position of a size class (tiny = 0 … huge = 4). */
export function sizeRank(size: Size): number {
  return SIZES.indexOf(size);
}

/** The first `n` of a seeded shuffle of `pool`. */
function choose<T>(rng: Rng, pool: readonly T[], n: number): T[] {
  return rng.shuffle([...pool]).slice(0, n);
}

/**
 * `n` values dealt evenly from `pool` (each ⌊n/m⌋ or ⌈n/m⌉ times, which ones get the extra at random), in random
 * order: every value is used, so canonical option groups find keys at every position.
 */
export function deal<T>(rng: Rng, pool: readonly T[], n: number): T[] {
  const order = rng.shuffle([...pool]);
  return rng.shuffle(Array.from({ length: n }, (_, i) => order[i % order.length]));
}

function makeAnimals(rng: Rng, n: number): Animal[] {
  const meatEaters = Math.max(1, Math.round(n * MEAT_EATER_SHARE));
  const otherDiets = DIETS.filter((d) => d !== "meat");
  const names = choose(rng, ANIMALS, n);
  const colours = deal(rng, COLOURS, n);
  const sizes = deal(rng, SIZES, n);
  const habitats = deal(rng, HABITATS, n);
  const diets = deal(rng, otherDiets, n - meatEaters);
  const animals: Animal[] = names.map((name, i) => ({
    name,
    colour: colours[i],
    size: sizes[i],
    habitat: habitats[i],
    diet: i < meatEaters ? "meat" : diets[i - meatEaters],
    prey: null,
  }));
  // Meat eaters hunt one animal smaller than themselves (any other animal when none is smaller).
  for (const a of animals) {
    if (a.diet !== "meat") continue;
    const others = animals.filter((b) => b !== a);
    const smaller = others.filter((b) => sizeRank(b.size) < sizeRank(a.size));
    a.prey = rng.pick(smaller.length > 0 ? smaller : others).name;
  }
  return animals;
}

function makeThings(rng: Rng, n: number, people: readonly string[]): Thing[] {
  const colours = deal(rng, COLOURS, n);
  const sizes = deal(rng, SIZES, n);
  return choose(rng, Object.keys(THINGS), n).map((name, i) => ({
    name,
    colour: colours[i],
    size: sizes[i],
    material: rng.pick(THINGS[name]),
    owner: rng.pick(people),
  }));
}

/** One rule per diet and per habitat, each with its own label, kept only if it splits the animals. */
function makeRules(rng: Rng, animals: readonly Animal[]): Rule[] {
  const labels = rng.shuffle([...RULE_LABELS]);
  const premises = [
    ...DIETS.map((value) => ({ attribute: "diet" as const, value })),
    ...HABITATS.map((value) => ({ attribute: "habitat" as const, value })),
  ];
  return premises
    .map((p, i) => ({ ...p, label: labels[i] }))
    .filter((r) => {
      const n = animals.filter((a) => a[r.attribute] === r.value).length;
      return n > 0 && n < animals.length;
    });
}

/** Generate the world for `config` and `seed`; the same pair always gives the same world. */
export function generateWorld(config: WorldConfigInput, seed: number): World {
  const cfg = parseWorldConfig(config);
  const rng = new Rng(seed).fork("world");
  const people = choose(rng.fork("people"), PEOPLE, cfg.people);
  const animals = makeAnimals(rng.fork("animals"), cfg.animals);
  const things = makeThings(rng.fork("things"), cfg.objects, people);
  const pets = choose(rng.fork("pets"), animals.map((a) => a.name), people.length);
  return {
    seed,
    config: cfg,
    animals,
    things,
    people: people.map((name, i) => ({ name, pet: pets[i] })),
    rules: makeRules(rng.fork("rules"), animals),
    goals: choose(rng.fork("goals"), GOALS, cfg.goals),
    events: choose(rng.fork("events"), EVENTS, cfg.events),
    scripts: choose(rng.fork("scripts"), SCRIPTS, cfg.scripts),
  };
}

/** Name → record lookups for one world. */
export interface WorldIndex {
  animal: Map<string, Animal>;
  thing: Map<string, Thing>;
  person: Map<string, Person>;
}

export function indexWorld(world: World): WorldIndex {
  return {
    animal: new Map(world.animals.map((a) => [a.name, a])),
    thing: new Map(world.things.map((t) => [t.name, t])),
    person: new Map(world.people.map((p) => [p.name, p])),
  };
}

/** Size class of an animal or thing by name. */
export function sizeOf(index: WorldIndex, name: string): Size {
  const e = index.animal.get(name) ?? index.thing.get(name);
  if (!e) throw new Error(`sizeOf: no animal or thing named "${name}"`);
  return e.size;
}

/** The entities filling one WinoGrande-like frame: `a` and `b` (the two candidates) and an optional object `c`. */
export interface FrameFill {
  a: string;
  b: string;
  c?: string;
}

/** Every filling of `frame` that is consistent with the world (e.g. only a bigger thing fails to fit). */
export function framePairs(world: World, frame: FrameSpec): FrameFill[] {
  const bigger = (x: { size: Size }, y: { size: Size }) => sizeRank(x.size) > sizeRank(y.size);
  const pairs = <A, B>(xs: readonly A[], ys: readonly B[], ok: (x: A, y: B) => boolean) =>
    xs.flatMap((x) => ys.filter((y) => (x as unknown) !== y && ok(x, y)).map((y) => [x, y] as const));
  switch (frame.pairs) {
    case "fit":
      return pairs(world.things, world.things, bigger).map(([a, b]) => ({ a: a.name, b: b.name }));
    case "lift":
      return pairs(world.animals, world.things, (a, t) => bigger(t, a)).map(([a, b]) => ({ a: a.name, b: b.name }));
    case "flee":
      return world.animals.filter((p) => p.prey !== null).map((p) => ({ a: p.prey!, b: p.name }));
    case "catch":
      return pairs(world.animals, world.animals, () => true).map(([a, b]) => ({ a: a.name, b: b.name }));
    case "give":
      return world.things.flatMap((t) =>
        world.people.filter((p) => p.name !== t.owner).map((p) => ({ a: t.owner, b: p.name, c: t.name }))
      );
    case "thank":
      return pairs(world.people, world.people, () => true).map(([a, b]) => ({ a: a.name, b: b.name }));
  }
}

/** The frame's sentence under trigger `t` (0 → the blank means `a`, 1 → `b`); `blank` replaces `_` if given. */
export function fillFrame(frame: FrameSpec, fill: FrameFill, t: 0 | 1, blank?: string): string {
  return frame.text
    .replace("{a}", fill.a)
    .replace("{b}", fill.b)
    .replace("{c}", fill.c ?? "")
    .replace("{t}", frame.triggers[t])
    .replace("_", blank ?? "_");
}
