import { ConfigError } from "../errors.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../testing/asserts.ts";
import { buildCorpus } from "./corpus.ts";
import { generateWorld, sizeRank } from "./world.ts";

const world = generateWorld({}, 0);
const corpus = buildCorpus(world, {}, 0);
const lines = new Set(corpus);

Deno.test("the corpus states every attribute of every entity in plain sentences", () => {
  for (const a of world.animals) {
    for (
      const s of [
        `the ${a.name} is ${a.colour} .`,
        `the ${a.name} is ${a.size} .`,
        `the ${a.name} lives in the ${a.habitat} .`,
        `the ${a.name} eats ${a.diet} .`,
        `the colour of the ${a.name} is ${a.colour} .`,
      ]
    ) assert(lines.has(s), s);
    if (a.prey) assert(lines.has(`the ${a.name} hunts the ${a.prey} .`), a.name);
  }
  for (const t of world.things) {
    for (const s of [`the ${t.name} is made of ${t.material} .`, `the ${t.name} belongs to ${t.owner} .`]) {
      assert(lines.has(s), s);
    }
  }
  for (const p of world.people) assert(lines.has(`the ${p.pet} is the pet of ${p.name} .`), p.name);
  assert(lines.has("to start a fire , burn something made of paper ."));
  assert(lines.has("to carry water , fill something made of glass with water ."));
  assert(lines.has("to start a fire , do not burn something made of stone ."));
  assert(lines.has("to look outside , do not look through something made of wood ."));
  for (const a of world.animals.filter((x) => x.prey)) {
    assert(lines.has(`the prey of the ${a.name} is the ${a.prey} .`), a.name);
  }
  for (const r of world.rules) {
    const premise = r.attribute === "diet" ? `eat ${r.value}` : `live in the ${r.value}`;
    assert(lines.has(`animals that ${premise} are ${r.label} .`), r.label);
  }
});

Deno.test("size comparisons in the corpus agree with the size classes", () => {
  const size = new Map([...world.animals, ...world.things].map((e) => [e.name, sizeRank(e.size)]));
  const comparisons = corpus.filter((l) => / is (bigger|smaller) than /.test(l));
  assertEquals(comparisons.length, (world.animals.length + world.things.length) * 2 * 2);
  for (const l of comparisons) {
    const [, a, rel, b] = /^the (\w+) is (bigger|smaller) than the (\w+) \.$/.exec(l)!;
    assert(rel === "bigger" ? size.get(a)! > size.get(b)! : size.get(a)! < size.get(b)!, l);
  }
});

Deno.test("scripts are told whole and step by step", () => {
  const s = world.scripts[0];
  const whole = corpus.filter((l) => l.startsWith(`${s.activity} : first `));
  assertEquals(whole.length, 3);
  for (let i = 0; i + 1 < s.steps.length; i++) {
    const re = new RegExp(`^after (\\w+) ${s.steps[i]} , \\1 ${s.steps[i + 1]} \\.$`);
    assertEquals(corpus.filter((l) => re.test(l)).length, 3, s.steps[i]);
  }
});

Deno.test("the corpus teaches facts, not the QA format", () => {
  const text = corpus.join("\n");
  for (const w of ["answer1", "option1", "solution1", "ending1", "Answer format", "please", "true", "false", "_"]) {
    assert(!text.includes(w), w);
  }
  assert(corpus.every((l) => l === l.toLowerCase() && l.endsWith(".")));
});

Deno.test("the corpus is fixed by seed and shuffled", () => {
  assertEquals(buildCorpus(world, {}, 0), corpus);
  const other = buildCorpus(world, {}, 1);
  assertNotEquals(other, corpus);
  // Facts are the same; the seed picks comparison partners, story people and the order.
  const facts = corpus.filter((l) => /^the \w+ (lives in the|eats|is made of|belongs to) \w+ \.$/.test(l));
  assertEquals(facts.length, (world.animals.length + world.things.length) * 2);
  assert(facts.every((l) => other.includes(l)));
  assert(corpus.slice(0, 20).some((l) => !l.startsWith(`the ${world.animals[0].name} `)));
});

Deno.test("config knobs change what is stated", () => {
  const plain = buildCorpus(world, { paraphrases: 1, bios: false, comparisonsPerEntity: 0 }, 0);
  assert(!plain.some((l) => l.startsWith("the colour of")));
  assert(!plain.some((l) => l.includes(" animal that lives in ")));
  assert(!plain.some((l) => l.includes(" bigger than ")));
  assert(plain.length < corpus.length);
  assertThrows(() => buildCorpus(world, { paraphrases: 3 }, 0), ConfigError, "corpus.paraphrases");
});
