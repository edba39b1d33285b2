import { ConfigError } from "../errors.ts";
import { assert, assertAlmostEquals, assertEquals, assertNotEquals, assertThrows } from "../testing/asserts.ts";
import { Rng } from "../util/rng.ts";
import { answerFormatWords, extractAnswer } from "./prompt.ts";
import { balancedAnswers, buildTask, buildTasks, CHANCE, CHOICES, partitionKeys, SPLITS } from "./tasks.ts";
import { TASKS } from "./types.ts";
import { generateWorld } from "./world.ts";

const world = generateWorld({}, 0);
const CONFIG = { train: 120, validation: 20, test: 60 };
const builds = Object.fromEntries(TASKS.map((t) => [t, buildTask(world, t, CONFIG, 0)]));

Deno.test("chance levels are 1 / choices, matching the benchmarks' choice counts", () => {
  assertEquals(CHOICES, {
    boolq: 2,
    piqa: 2,
    social_i_qa: 3,
    hellaswag: 4,
    winogrande: 2,
    "ARC-Easy": 4,
    "ARC-Challenge": 5,
    openbookqa: 4,
  });
  assertAlmostEquals(CHANCE.social_i_qa, 1 / 3);
  assertEquals(CHANCE["ARC-Challenge"], 0.2);
  assertEquals(CHANCE.boolq, 0.5);
});

Deno.test("each split has the requested size and LLM-Adapters' record shape", () => {
  for (const t of TASKS) {
    const { splits } = builds[t];
    assertEquals(SPLITS.map((s) => splits[s].length), [120, 20, 60], t);
    for (const r of SPLITS.flatMap((s) => splits[s])) {
      assertEquals(r.task, t);
      assertEquals(r.input, "");
      assertEquals(r.output, `the correct answer is ${r.answer}`);
      assertEquals(extractAnswer(t, r.output), r.answer);
      const offered = answerFormatWords(r.instruction)!;
      assertEquals(offered.length, CHOICES[t], r.instruction);
      assert(offered.includes(r.answer), r.instruction);
    }
  }
});

Deno.test("correct positions are balanced within every split", () => {
  for (const t of TASKS) {
    for (const s of SPLITS) {
      const counts = new Map<string, number>();
      for (const r of builds[t].splits[s]) counts.set(r.answer, (counts.get(r.answer) ?? 0) + 1);
      assertEquals(counts.size, CHOICES[t], `${t}/${s}`);
      const n = [...counts.values()];
      assert(Math.max(...n) - Math.min(...n) <= 1, `${t}/${s}: ${[...counts]}`);
    }
  }
});

Deno.test("no question appears twice, within or across splits", () => {
  for (const t of TASKS) {
    const all = SPLITS.flatMap((s) => builds[t].splits[s].map((r) => r.instruction));
    assertEquals(new Set(all).size, all.length, t);
  }
});

Deno.test("holdout 'facts': no fact key is asked in two splits", () => {
  for (const t of TASKS) {
    const { keys } = builds[t];
    const train = new Set(keys.train);
    for (const k of [...keys.validation, ...keys.test]) assert(!train.has(k), `${t}: ${k}`);
    assert(!keys.validation.some((k) => keys.test.includes(k)), t);
    assert(keys.test.length >= 3, `${t}: only ${keys.test.length} test keys`);
  }
});

Deno.test("holdout 'facts': a test ARC-e question's entity/attribute is never asked in training", () => {
  const stem = (ins: string) => ins.split("\n\n")[0];
  const train = new Set(builds["ARC-Easy"].splits.train.map((r) => stem(r.instruction)));
  for (const r of builds["ARC-Easy"].splits.test) assert(!train.has(stem(r.instruction)), r.instruction);
});

Deno.test("holdout 'questions' shares facts but still keeps identical questions apart", () => {
  const b = buildTask(world, "ARC-Easy", { ...CONFIG, holdout: "questions" }, 0);
  const train = new Set(b.splits.train.map((r) => r.instruction));
  assert(b.splits.test.every((r) => !train.has(r.instruction)));
  assert(b.keys.test.some((k) => b.keys.train.includes(k)), "expected shared fact keys");
});

Deno.test("tasks are deterministic in the seed; test does not depend on the training size", () => {
  assertEquals(buildTasks(world, CONFIG, 0), buildTasks(world, CONFIG, 0));
  assertNotEquals(buildTask(world, "boolq", CONFIG, 1).splits.test, builds.boolq.splits.test);
  const more = buildTask(world, "hellaswag", { ...CONFIG, train: 150 }, 0);
  assertEquals(more.splits.test, builds.hellaswag.splits.test);
});

Deno.test("balancedAnswers and partitionKeys by hand", () => {
  const a = balancedAnswers(10, 4, new Rng(1));
  assertEquals([...a].sort(), [0, 0, 0, 1, 1, 1, 2, 2, 3, 3]);
  const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
  const p = partitionKeys(keys, { validation: 0.1, test: 0.25 }, { train: 5, validation: 5, test: 5 }, "t");
  assertEquals(p, { test: keys.slice(0, 5), validation: keys.slice(5, 7), train: keys.slice(7) });
  const noVal = partitionKeys(keys, { validation: 0.1, test: 0.25 }, { train: 5, validation: 0, test: 5 }, "t");
  assertEquals(noVal.validation, []);
  assertThrows(
    () => partitionKeys(["a", "b"], { validation: 0.1, test: 0.25 }, { train: 1, validation: 1, test: 1 }, "tasks (x)"),
    ConfigError,
    "tasks (x): only 2 fact keys",
  );
});

Deno.test("asking for more questions than the facts allow is a ConfigError naming the split", () => {
  const tiny = generateWorld({ animals: 8, objects: 8, people: 4, scripts: 4, events: 6, goals: 3 }, 0);
  assertThrows(() => buildTask(tiny, "social_i_qa", { test: 5000 }, 0), ConfigError, "tasks.test (social_i_qa)");
  assertThrows(() => buildTask(tiny, "boolq", { holdout: "sometimes" } as never, 0), ConfigError, "tasks.holdout");
});
