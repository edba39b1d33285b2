import { assertEquals, assertThrows } from "../testing/asserts.ts";
import { parseInstruction, solveRecord } from "./oracle.ts";
import { buildEmbeddedSuite } from "./suite.ts";
import { SPLITS } from "./tasks.ts";
import { TASKS } from "./types.ts";
import { indexWorld } from "./world.ts";

const suite = buildEmbeddedSuite({}, 0);

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

Deno.test("the oracle, reading only the world, agrees with every generated label", () => {
  for (const t of TASKS) {
    for (const s of SPLITS) {
      for (const r of suite.tasks[t][s]) assertEquals(solveRecord(suite.world, r).answer, r.answer, r.instruction);
    }
  }
});

Deno.test("choices are distinct and exactly one satisfies the rule or goal", () => {
  const ix = indexWorld(suite.world);
  for (const t of TASKS.filter((t) => t !== "boolq")) {
    for (const r of SPLITS.flatMap((s) => suite.tasks[t][s])) {
      const { choices } = parseInstruction(t, r.instruction);
      assertEquals(new Set(choices).size, choices.length, r.instruction);
    }
  }
  for (const r of suite.tasks.openbookqa.test) {
    const { stem, choices } = parseInstruction("openbookqa", r.instruction);
    const [, verb, value] = /^animals that (eat|live in the) (\w+) /.exec(stem)!;
    const attr = verb === "eat" ? "diet" : "habitat";
    assertEquals(choices.filter((c) => ix.animal.get(c)![attr] === value).length, 1, r.instruction);
  }
  for (const r of suite.tasks.piqa.test) {
    const { stem, choices } = parseInstruction("piqa", r.instruction);
    const goal = suite.world.goals.find((g) => stem === `how do you ${g.goal}?`)!;
    const thingOf = (c: string) => ix.thing.get(c.match(/the (\w+)( with water)?$/)![1])!;
    const ok = choices.filter((c) => goal.ok.includes(thingOf(c).material));
    assertEquals(ok.length, 1, r.instruction);
  }
});

Deno.test("the oracle refuses text it cannot read", () => {
  assertThrows(() => solveRecord(suite.world, { task: "boolq", instruction: "question: is it?" }), Error, "oracle");
});
