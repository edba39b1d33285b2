import { assertEquals, assertThrows } from "../testing/asserts.ts";
import { parseInstruction, solveRecord } from "./oracle.ts";
import { ANSWER_WORDS } from "./prompt.ts";
import { canonicalOptions } from "./canonical.ts";
import { answerInstruction } from "./formats.ts";
import { COLOURS } from "./lexicon.ts";
import { buildEmbeddedSuite } from "./suite.ts";
import { SPLITS } from "./tasks.ts";
import { TASKS } from "./types.ts";
import { indexWorld } from "./world.ts";

const suite = buildEmbeddedSuite({}, 0);
const shuffled = buildEmbeddedSuite({ tasks: { options: "shuffled" } }, 0);

Deno.test("parseInstruction reads LLM-Adapters' layouts back", () => {
  assertEquals(
    parseInstruction(
      "winogrande",
      "Please choose the correct answer to fill in the blank to complete the given sentence: the cup did not fit in " +
        "the box because the _ was too big.\n\nOption1: box Option2: cup Answer format: option1/option2",
    ),
    { stem: "the cup did not fit in the box because the _ was too big.", choices: ["box", "cup"] },
  );
  assertEquals(
    parseInstruction(
      "social_i_qa",
      "Please choose the correct answer to the question: ann lost the key. how would ann feel?\n\n" +
        "Answer1: sad Answer2: take a rest Answer3: happy\n\nAnswer format: answer1/answer2/answer3",
    ),
    { stem: "ann lost the key. how would ann feel?", choices: ["sad", "take a rest", "happy"] },
  );
});

Deno.test("the oracle, reading only the world, agrees with every generated label (both option modes)", () => {
  for (const x of [suite, shuffled]) {
    for (const t of TASKS) {
      for (const s of SPLITS) {
        for (const r of x.tasks[t][s]) {
          const o = solveRecord(x.world, r);
          assertEquals(o.answer, r.answer, r.instruction);
          const { choices } = parseInstruction(t, r.instruction);
          assertEquals(
            o.content,
            t === "boolq" ? r.answer : choices[choices.length === 0 ? 0 : ANSWER_WORDS[t].indexOf(r.answer)],
          );
        }
      }
    }
  }
});

Deno.test("the oracle reads canonical questions by hand", () => {
  const fox = suite.world.animals[0];
  const { options, index } = canonicalOptions(COLOURS, 4, fox.colour)!;
  const o = solveRecord(suite.world, {
    task: "ARC-Easy",
    instruction: answerInstruction(`which colour does the ${fox.name} have?`, options),
  });
  assertEquals([o.answer, o.content], [`answer${index + 1}`, fox.colour]);
  const box = suite.world.things.find((t) => t.material === "wood" || t.material === "paper")!;
  const piqa = solveRecord(suite.world, {
    task: "piqa",
    instruction: "Please choose the correct solution to the question: what is a good way to start a fire?\n\n" +
      `Solution1: burn the ${box.name}\n\nSolution2: find something else\n\nAnswer format: solution1/solution2`,
  });
  assertEquals([piqa.answer, piqa.content], ["solution1", `burn the ${box.name}`]);
  const stone = suite.world.things.find((t) => ["stone", "metal", "glass"].includes(t.material))!;
  const fails = solveRecord(suite.world, {
    task: "piqa",
    instruction: "Please choose the correct solution to the question: how can you start a fire?\n\n" +
      `Solution1: burn the ${stone.name}\n\nSolution2: find something else\n\nAnswer format: solution1/solution2`,
  });
  assertEquals([fails.answer, fails.content], ["solution2", "find something else"]);
  assertEquals(
    fails.evidence.map(String)[1],
    String(new RegExp(`(^| )to start a fire , do not burn something made of ${stone.material} \\.`)),
  );
});

Deno.test("shuffled: choices are distinct and exactly one satisfies the rule or goal", () => {
  const ix = indexWorld(shuffled.world);
  for (const x of [suite, shuffled]) {
    for (const t of TASKS.filter((t) => t !== "boolq")) {
      for (const r of SPLITS.flatMap((s) => x.tasks[t][s])) {
        const { choices } = parseInstruction(t, r.instruction);
        assertEquals(new Set(choices).size, choices.length, r.instruction);
      }
    }
  }
  for (const r of shuffled.tasks.openbookqa.test) {
    const { stem, choices } = parseInstruction("openbookqa", r.instruction);
    const [, verb, value] = /^animals that (eat|live in the) (\w+) /.exec(stem)!;
    const attr = verb === "eat" ? "diet" : "habitat";
    assertEquals(choices.filter((c) => ix.animal.get(c)![attr] === value).length, 1, r.instruction);
  }
  for (const r of shuffled.tasks.piqa.test) {
    const { stem, choices } = parseInstruction("piqa", r.instruction);
    const goal = shuffled.world.goals.find((g) => stem.endsWith(` ${g.goal}?`))!;
    const thingOf = (c: string) => ix.thing.get(c.match(/the (\w+)( with water)?$/)![1])!;
    const ok = choices.filter((c) => goal.ok.includes(thingOf(c).material));
    assertEquals(ok.length, 1, r.instruction);
  }
});

Deno.test("the oracle refuses text it cannot read", () => {
  assertThrows(() => solveRecord(suite.world, { task: "boolq", instruction: "question: is it?" }), Error, "oracle");
});
