/**
 * The pretraining corpus for the tiny base model: the world's facts stated in a handful of sentence templates
 * ("the fox is red .", "the fox lives in the forest .", "the fox is bigger than the mouse ."), rules, goals,
 * short social stories and activity scripts. It teaches facts, never the QA format: no instruction, answer
 * word or choice list appears (the suite adds the questions answered in words separately, `pretraining.ts`). Each fact can be stated in several phrasings (`paraphrases`) plus one sentence
 * per entity listing all its attributes (`bios`): restating knowledge in varied forms is what lets a model
 * retrieve it later for questions it was never fine-tuned on. One line = one short document; shuffled by seed.
 */
import { parseConfig, z } from "../config.ts";
import { Rng } from "../util/rng.ts";
import { FRAMES, SIZES } from "./lexicon.ts";
import { type Animal, fillFrame, framePairs, type Person, sizeRank, type Thing, type World } from "./world.ts";

/** Phrasings available for each fact kind (the first is the plainest). */
const MAX_PARAPHRASES = 2;

export const CorpusConfigSchema = z.strictObject({
  /** Phrasings of each attribute fact: 1 or 2. */
  paraphrases: z.number().int().min(1).max(MAX_PARAPHRASES).default(2),
  /** One sentence per animal and thing stating all its attributes. */
  bios: z.boolean().default(true),
  /** "x is bigger than y" sentences per animal or thing (pairs from different size classes). */
  comparisonsPerEntity: z.number().int().min(0).default(2),
  /** People each social event is told about. */
  storiesPerEvent: z.number().int().min(1).default(3),
  /** People each activity script is told about (the whole script, plus each step transition). */
  runsPerScript: z.number().int().min(1).default(3),
  /** Resolved WinoGrande-like sentences per frame (blank filled in), for the frames' wording. */
  examplesPerFrame: z.number().int().min(0).default(4),
});
export type CorpusConfig = z.output<typeof CorpusConfigSchema>;
export type CorpusConfigInput = z.input<typeof CorpusConfigSchema>;

export function parseCorpusConfig(value: unknown, where = "corpus"): CorpusConfig {
  return parseConfig(CorpusConfigSchema, value, where);
}

const take = (k: number, ...phrasings: string[]) => phrasings.slice(0, k);

export function animalFacts(a: Animal, k: number): string[] {
  return [
    ...take(k, `the ${a.name} is ${a.colour} .`, `the colour of the ${a.name} is ${a.colour} .`),
    ...take(k, `the ${a.name} is ${a.size} .`, `the size of the ${a.name} is ${a.size} .`),
    ...take(k, `the ${a.name} lives in the ${a.habitat} .`, `the home of the ${a.name} is the ${a.habitat} .`),
    ...take(k, `the ${a.name} eats ${a.diet} .`, `the food of the ${a.name} is ${a.diet} .`),
    ...(a.prey ? take(k, `the ${a.name} hunts the ${a.prey} .`, `the prey of the ${a.name} is the ${a.prey} .`) : []),
  ];
}

export function animalBio(a: Animal): string {
  return `the ${a.name} is a ${a.size} ${a.colour} animal that lives in the ${a.habitat} and eats ${a.diet} .`;
}

export function thingFacts(t: Thing, k: number): string[] {
  return [
    ...take(k, `the ${t.name} is ${t.colour} .`, `the colour of the ${t.name} is ${t.colour} .`),
    ...take(k, `the ${t.name} is ${t.size} .`, `the size of the ${t.name} is ${t.size} .`),
    ...take(k, `the ${t.name} is made of ${t.material} .`, `the material of the ${t.name} is ${t.material} .`),
    ...take(k, `the ${t.name} belongs to ${t.owner} .`, `${t.owner} owns the ${t.name} .`),
  ];
}

export function thingBio(t: Thing): string {
  return `the ${t.name} is a ${t.size} ${t.colour} thing made of ${t.material} that belongs to ${t.owner} .`;
}

export function personFacts(p: Person, k: number): string[] {
  return take(k, `the ${p.pet} is the pet of ${p.name} .`, `${p.name} has a pet ${p.pet} .`);
}

/** "the x is bigger than the y ." and its mirror, for `perEntity` random partners of each entity. */
export function comparisonSentences(world: World, rng: Rng, perEntity: number): string[] {
  const entities = [...world.animals, ...world.things];
  const out: string[] = [];
  for (const e of entities) {
    const partners = rng.shuffle(entities.filter((o) => o.size !== e.size)).slice(0, perEntity);
    for (const o of partners) {
      const [big, small] = sizeRank(e.size) > sizeRank(o.size) ? [e, o] : [o, e];
      out.push(
        `the ${big.name} is bigger than the ${small.name} .`,
        `the ${small.name} is smaller than the ${big.name} .`,
      );
    }
  }
  return out;
}

export function ruleSentences(world: World): string[] {
  return world.rules.map((r) =>
    r.attribute === "diet"
      ? `animals that eat ${r.value} are ${r.label} .`
      : `animals that live in the ${r.value} are ${r.label} .`
  );
}

/** "to start a fire , burn something made of paper ." for each material that makes the goal work. */
export function goalSentence(goal: { goal: string; solution: string }, material: string): string {
  return `to ${goal.goal} , ${goal.solution.replace("the {x}", `something made of ${material}`)} .`;
}

/** "to start a fire , do not burn something made of stone ." for each material that makes the goal fail. */
export function goalFailSentence(goal: { goal: string; solution: string }, material: string): string {
  return `to ${goal.goal} , do not ${goal.solution.replace("the {x}", `something made of ${material}`)} .`;
}

export function goalSentences(world: World): string[] {
  return world.goals.flatMap((g) => [
    ...g.ok.map((m) => goalSentence(g, m)),
    ...g.bad.map((m) => goalFailSentence(g, m)),
  ]);
}

/** Size classes in order, so the comparison words have an anchor. */
export function sizeScaleSentence(): string {
  return `from small to big : ${SIZES.join(" , ")} .`;
}

function fill(text: string, p: string, q: string): string {
  return text.replaceAll("{p}", p).replaceAll("{q}", q);
}

/** "anna lost the key . anna felt sad . then anna wanted to look for the key ." for a few people per event. */
export function eventStories(world: World, rng: Rng, perEvent: number): string[] {
  const names = world.people.map((p) => p.name);
  const out: string[] = [];
  for (const e of world.events) {
    for (const p of rng.shuffle([...names]).slice(0, perEvent)) {
      const q = rng.pick(names.filter((n) => n !== p));
      const parts = [`${fill(e.text, p, q)}${e.why ? ` ${fill(e.why, p, q)}` : ""} .`];
      if (e.feel) parts.push(`${p} felt ${e.feel} .`);
      if (e.next) parts.push(`then ${p} wanted to ${fill(e.next, p, q)} .`);
      out.push(parts.join(" "));
    }
  }
  return out;
}

/** A whole script per person ("cooking : first anna gets the pan . then anna …") and each step transition. */
export function scriptRuns(world: World, rng: Rng, runs: number): string[] {
  const names = world.people.map((p) => p.name);
  const out: string[] = [];
  for (const s of world.scripts) {
    for (const p of rng.shuffle([...names]).slice(0, runs)) {
      const steps = s.steps.map((step, i) => `${i === 0 ? "first" : "then"} ${p} ${step} .`);
      out.push(`${s.activity} : ${steps.join(" ")}`);
      for (let i = 0; i + 1 < s.steps.length; i++) {
        out.push(`after ${p} ${s.steps[i]} , ${p} ${s.steps[i + 1]} .`);
      }
    }
  }
  return out;
}

/** Resolved frame sentences: "the box did not fit in the bag because the box was too big ." */
export function frameExamples(world: World, rng: Rng, perFrame: number): string[] {
  const out: string[] = [];
  for (const frame of FRAMES) {
    const fills = rng.shuffle(framePairs(world, frame)).slice(0, perFrame);
    fills.forEach((f, i) => {
      const t = (i % 2) as 0 | 1;
      out.push(fillFrame(frame, f, t, t === 0 ? f.a : f.b).replace(/\.$/, " ."));
    });
  }
  return out;
}

/** The whole corpus for `world`, one short document per line, shuffled by `seed`. */
export function buildCorpus(world: World, config: CorpusConfigInput, seed: number): string[] {
  const cfg = parseCorpusConfig(config);
  const rng = new Rng(seed).fork("corpus");
  const k = cfg.paraphrases;
  const lines = [
    sizeScaleSentence(),
    ...world.animals.flatMap((a) => [...animalFacts(a, k), ...(cfg.bios ? [animalBio(a)] : [])]),
    ...world.things.flatMap((t) => [...thingFacts(t, k), ...(cfg.bios ? [thingBio(t)] : [])]),
    ...world.people.flatMap((p) => personFacts(p, k)),
    ...comparisonSentences(world, rng.fork("comparisons"), cfg.comparisonsPerEntity),
    ...ruleSentences(world),
    ...goalSentences(world),
    ...eventStories(world, rng.fork("events"), cfg.storiesPerEvent),
    ...scriptRuns(world, rng.fork("scripts"), cfg.runsPerScript),
    ...frameExamples(world, rng.fork("frames"), cfg.examplesPerFrame),
  ];
  return rng.fork("shuffle").shuffle(lines);
}
