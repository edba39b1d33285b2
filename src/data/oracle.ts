/**
 * An oracle for the embedded suite: reads a record's instruction back (LLM-Adapters' layout for BoolQ … OBQA),
 * answers it from the world's facts alone, and names the corpus evidence a model needs for it. Tests use it to
 * check every generated label and that pretraining states what each test question asks; it is also the 100%
 * upper bound when sanity-checking an evaluation loop.
 */
import { goalFailSentence, goalSentence } from "./corpus.ts";
import {
  ALTERNATIVE,
  ATTRIBUTE_WORDINGS,
  BOOLQ_PROPERTIES,
  DESCRIBE_WORDINGS,
  GOAL_WORDINGS,
  OWNER_PET_WORDINGS,
} from "./families.ts";
import { FRAMES } from "./lexicon.ts";
import { ANSWER_WORDS } from "./prompt.ts";
import type { QARecord, TaskName } from "./types.ts";
import { indexWorld, type World, type WorldIndex } from "./world.ts";

export interface ParsedQuestion {
  /** The question or sentence, without the lead-in and the choices. */
  stem: string;
  /** The offered choices in order (empty for true/false). */
  choices: string[];
}

const after = (s: string, marker: string) => s.slice(s.indexOf(marker) + marker.length);

/** Split an instruction into stem and choices; throws on text that is not in the task's layout. */
export function parseInstruction(task: TaskName, instruction: string): ParsedQuestion {
  const [head, body = ""] = instruction.split("\n\n");
  const fail = () => new Error(`parseInstruction(${task}): unexpected layout: ${JSON.stringify(instruction)}`);
  switch (task) {
    case "boolq":
      return { stem: after(head, "question: ").replace(/\?$/, ""), choices: [] };
    case "piqa": {
      const m = /question: (.*)\n\nSolution1: (.*)\n\nSolution2: (.*)\n\nAnswer format/.exec(instruction);
      if (!m) throw fail();
      return { stem: m[1], choices: [m[2], m[3]] };
    }
    case "hellaswag":
      return { stem: after(head, "sentence: "), choices: body.split(/ ?Ending\d: /).slice(1) };
    case "winogrande": {
      const m = /^Option1: (.*) Option2: (.*) Answer format/.exec(body);
      if (!m) throw fail();
      return { stem: after(head, "sentence: "), choices: [m[1], m[2]] };
    }
    default:
      return { stem: after(head, "question: "), choices: body.split(/ ?Answer\d: /).slice(1) };
  }
}

/** The oracle's answer word and the corpus patterns (one corpus line must match each) stating what it used. */
export interface OracleAnswer {
  answer: string;
  /** The correct choice's text ("forest", "burn the box"), "true" or "false" for BoolQ. */
  content: string;
  evidence: RegExp[];
}

interface Ctx {
  world: World;
  ix: WorldIndex;
}
/** Index of the correct choice (true = 0, false = 1 for BoolQ) and the evidence. */
type Solver = (ctx: Ctx, q: ParsedQuestion) => { correct: number; evidence: RegExp[] };

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** A corpus sentence, matched at a word boundary. */
const sentence = (s: string) => new RegExp(`(^| )${esc(s)}`);
/** A template's text with its `{p}`-style slots matching any word. */
const anyFill = (template: string) => esc(template).replace(/\\\{\w\\\}/g, "\\w+");

function must<T>(x: T | undefined | null, what: string): T {
  if (x === undefined || x === null) throw new Error(`oracle: ${what}`);
  return x;
}

function fact(ix: WorldIndex, name: string, attr: string): { value: string; evidence: RegExp } {
  const e = must(ix.animal.get(name) ?? ix.thing.get(name), `no entity ${name}`) as unknown as Record<string, string>;
  const v = e[attr];
  const texts: Record<string, string> = {
    colour: `the ${name} is ${v} .`,
    size: `the ${name} is ${v} .`,
    habitat: `the ${name} lives in the ${v} .`,
    diet: `the ${name} eats ${v} .`,
    material: `the ${name} is made of ${v} .`,
    owner: `the ${name} belongs to ${v} .`,
  };
  return { value: v, evidence: sentence(must(texts[attr], `no attribute ${attr}`)) };
}

/** A wording function as a regex whose one group captures what was filled in. */
const wordingPattern = (w: (x: string) => string, group = "(.+)") =>
  new RegExp(`^${esc(w("\u0000")).replace("\u0000", group)}$`);

const ATTRIBUTE_QUESTIONS: [RegExp, string][] = Object.entries(ATTRIBUTE_WORDINGS).flatMap(([attr, ws]) =>
  ws.map((w) => [wordingPattern(w), attr] as [RegExp, string])
);
const OWNER_PET_QUESTIONS = OWNER_PET_WORDINGS.map((w) => wordingPattern(w, "(\\w+)"));
const DESCRIBE_QUESTIONS = DESCRIBE_WORDINGS.map((w) => wordingPattern(w, "(\\w+)"));

/** "the fox" / "the pet of anna" / "the prey of the fox" → entity, with the hop's evidence. */
function resolve(ix: WorldIndex, subject: string): { name: string; evidence: RegExp[] } {
  let m = /^the pet of (\w+)$/.exec(subject);
  if (m) {
    const pet = must(ix.person.get(m[1]), `no person ${m[1]}`).pet;
    return { name: pet, evidence: [sentence(`the ${pet} is the pet of ${m[1]} .`)] };
  }
  m = /^the prey of the (\w+)$/.exec(subject);
  if (m) {
    const prey = must(ix.animal.get(m[1])?.prey, `${m[1]} hunts nothing`);
    return { name: prey, evidence: [sentence(`the ${m[1]} hunts the ${prey} .`)] };
  }
  return { name: subject.replace(/^the /, ""), evidence: [] };
}

const attributeLookup: Solver = ({ ix }, q) => {
  const owner = OWNER_PET_QUESTIONS.map((re) => re.exec(q.stem)).find((m) => m !== null);
  if (owner) {
    const person = must(ix.thing.get(owner[1]), `no thing ${owner[1]}`).owner;
    const pet = ix.person.get(person)!.pet;
    return {
      correct: q.choices.indexOf(pet),
      evidence: [sentence(`the ${owner[1]} belongs to ${person} .`), sentence(`the ${pet} is the pet of ${person} .`)],
    };
  }
  const [re, attr] = must(ATTRIBUTE_QUESTIONS.find(([r]) => r.test(q.stem)), `not a lookup: ${q.stem}`);
  const hop = resolve(ix, re.exec(q.stem)![1]);
  const f = fact(ix, hop.name, attr);
  return { correct: q.choices.indexOf(f.value), evidence: [...hop.evidence, f.evidence] };
};

const BOOLQ_QUESTIONS: [RegExp, string][] = Object.entries(BOOLQ_PROPERTIES).flatMap(([attr, p]) =>
  p!.wordings.map((w) => [wordingPattern(w, "(\\w+)"), attr] as [RegExp, string])
);

const SOLVERS: Record<TaskName, Solver> = {
  boolq: ({ ix }, q) => {
    const [re, attr] = must(BOOLQ_QUESTIONS.find(([re]) => re.test(q.stem)), `not a BoolQ question: ${q.stem}`);
    const f = fact(ix, re.exec(q.stem)![1], attr);
    const holds = BOOLQ_PROPERTIES[attr as keyof typeof BOOLQ_PROPERTIES]!.holds.includes(f.value);
    return { correct: holds ? 0 : 1, evidence: [f.evidence] };
  },
  piqa: ({ world, ix }, q) => {
    const g = must(world.goals.find((x) => GOAL_WORDINGS.some((w) => q.stem === w(x.goal))), q.stem);
    const re = new RegExp(`^${esc(g.solution).replace("\\{x\\}", "(\\w+)")}$`);
    const alternative = ALTERNATIVE;
    // Each choice uses an object, or (canonical mode) the fixed alternative.
    const things = q.choices.map((c) => c === alternative ? null : must(re.exec(c), c)[1]);
    const mentioned = must(things.find((t) => t !== null), `no object in ${q.choices}`);
    const f = fact(ix, mentioned, "material");
    if (things.includes(null)) {
      const works = g.ok.includes(f.value as never);
      const evidence = [f.evidence, sentence(works ? goalSentence(g, f.value) : goalFailSentence(g, f.value))];
      return { correct: works ? things.indexOf(mentioned) : things.indexOf(null), evidence };
    }
    const correct = things.findIndex((t) => g.ok.includes(must(ix.thing.get(t!), t!).material));
    const used = fact(ix, things[correct]!, "material");
    return { correct, evidence: [used.evidence, sentence(goalSentence(g, used.value))] };
  },
  social_i_qa: ({ world }, q) => {
    const [context, question] = q.stem.split(". ");
    for (const e of world.events) {
      const pattern = esc(e.text).replace("\\{p\\}", "(?<p>\\w+)").replace("\\{q\\}", "(?<q>\\w+)");
      const m = new RegExp(`^${pattern}$`).exec(context);
      if (!m) continue;
      const kind = question.startsWith("how would") ? "feel" : question.startsWith("why") ? "why" : "next";
      const fill = (s: string) => s.replaceAll("{p}", m.groups!.p).replaceAll("{q}", m.groups!.q ?? "");
      const told = {
        feel: ` .* felt ${e.feel} \\.`,
        why: ` ${anyFill(e.why ?? "")} \\.`,
        next: `.* wanted to ${anyFill(e.next ?? "")} \\.`,
      };
      return { correct: q.choices.indexOf(fill(e[kind]!)), evidence: [new RegExp(`${anyFill(e.text)}${told[kind]}`)] };
    }
    throw new Error(`oracle: no event matches "${context}"`);
  },
  hellaswag: ({ world }, q) => {
    const [, activity, , step] = must(/^(.+): (\w+) (.+)\. then \2$/.exec(q.stem), q.stem);
    const s = must(world.scripts.find((x) => x.activity === activity), activity);
    const next = s.steps[s.steps.indexOf(step) + 1];
    return { correct: q.choices.indexOf(next), evidence: [new RegExp(`after (\\w+) ${step} , \\1 ${next} \\.`)] };
  },
  winogrande: (_ctx, q) => {
    for (const f of FRAMES) {
      const pattern = esc(f.text).replace("\\{a\\}", "(?<a>\\w+)").replace("\\{b\\}", "(?<b>\\w+)")
        .replace("\\{c\\}", "\\w+").replace("\\{t\\}", "(?<t>.+)");
      const m = new RegExp(`^${pattern}$`).exec(q.stem);
      if (!m) continue;
      const t = f.triggers.indexOf(m.groups!.t);
      const referent = t === 0 ? m.groups!.a : m.groups!.b;
      const wording = anyFill(f.text.replace("{t}", m.groups!.t).replace(/\.$/, " .")).replace("_", "\\w+");
      return { correct: q.choices.indexOf(referent), evidence: [new RegExp(wording)] };
    }
    throw new Error(`oracle: no frame matches "${q.stem}"`);
  },
  "ARC-Easy": attributeLookup,
  "ARC-Challenge": attributeLookup,
  openbookqa: ({ world, ix }, q) => {
    const described = DESCRIBE_QUESTIONS.map((re) => re.exec(q.stem)).find((m) => m !== null);
    if (described) {
      // Canonical: which shown rule label the animal's diet or habitat earns.
      const a = must(ix.animal.get(described[1]), `no animal ${described[1]}`);
      const applies = (label: string) => world.rules.find((r) => r.label === label && a[r.attribute] === r.value);
      const correct = q.choices.findIndex((c) => applies(c));
      const rule = must(applies(q.choices[correct] ?? ""), `no label of ${q.choices} describes the ${a.name}`);
      const premise = rule.attribute === "diet" ? `eat ${rule.value}` : `live in the ${rule.value}`;
      return {
        correct,
        evidence: [sentence(`animals that ${premise} are ${rule.label} .`), fact(ix, a.name, rule.attribute).evidence],
      };
    }
    const m = must(/^animals that (eat|live in the) (\w+) are (\w+)\. which animal is \3\?$/.exec(q.stem), q.stem);
    const attribute = m[1] === "eat" ? "diet" : "habitat";
    const correct = q.choices.findIndex((c) => ix.animal.get(c)?.[attribute] === m[2]);
    return {
      correct,
      evidence: [
        sentence(`animals that ${m[1]} ${m[2]} are ${m[3]} .`),
        fact(ix, q.choices[correct] ?? must(null, `no ${attribute} ${m[2]} among ${q.choices}`), attribute).evidence,
      ],
    };
  },
};

/** Answer `record` from `world` alone; throws when the question does not parse or has no correct choice. */
export function solveRecord(world: World, record: Pick<QARecord, "task" | "instruction">): OracleAnswer {
  const q = parseInstruction(record.task, record.instruction);
  const { correct, evidence } = SOLVERS[record.task]({ world, ix: indexWorld(world) }, q);
  if (correct < 0) throw new Error(`oracle: no correct choice in ${JSON.stringify(record.instruction)}`);
  const content = record.task === "boolq" ? (correct === 0 ? "true" : "false") : q.choices[correct];
  return { answer: ANSWER_WORDS[record.task][correct], content, evidence };
}
