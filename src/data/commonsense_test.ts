import { join } from "node:path";
import { DataError } from "../errors.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../testing/asserts.ts";
import { inferTask, loadCommonsenseTest, loadCommonsenseTrain, parseCommonsenseJson } from "./commonsense.ts";
import { LLM_ADAPTERS_RECORDS as REAL, llmAdaptersRecord } from "../testing/llm_adapters.ts";
import { type QARecord, type TaskName, TASKS } from "./types.ts";

/** A real LLM-Adapters record of task t (fields overridable), typed as the loader returns it minus the task. */
const rec = (t: TaskName, over: Record<string, unknown> = {}) => llmAdaptersRecord(t, over) as Omit<QARecord, "task">;

async function tempDir(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mole-commonsense-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, name, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, name), text);
  }
  return dir;
}

Deno.test("loadCommonsenseTest reads <dir>/<task>/test.json for all eight tasks", async () => {
  const files = Object.fromEntries(TASKS.map((t) => [`${t}/test.json`, JSON.stringify([rec(t), rec(t)], null, 4)]));
  const dir = await tempDir(files);
  try {
    const sets = await loadCommonsenseTest(dir);
    for (const t of TASKS) {
      assertEquals(sets[t].length, 2);
      assertEquals(sets[t][0], { task: t, ...rec(t) });
    }
    const some = await loadCommonsenseTest(dir, ["piqa", "boolq"] as const);
    assertEquals(Object.keys(some).sort(), ["boolq", "piqa"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadCommonsenseTrain infers each record's task from its answer format", async () => {
  const dir = await tempDir({ "commonsense_170k.json": JSON.stringify(TASKS.map((t) => rec(t))) });
  try {
    const records = await loadCommonsenseTrain(join(dir, "commonsense_170k.json"));
    assertEquals(records.map((r) => r.task), [
      "boolq",
      "piqa",
      "social_i_qa",
      "hellaswag",
      "winogrande",
      "openbookqa", // ARC-e, ARC-c and OBQA share one format: tagged multipleChoiceTask
      "openbookqa",
      "openbookqa",
    ]);
    const asArc = await loadCommonsenseTrain(join(dir, "commonsense_170k.json"), { multipleChoiceTask: "ARC-Easy" });
    assertEquals(asArc[7].task, "ARC-Easy");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inferTask maps answer formats to tasks", () => {
  assertEquals(inferTask("x\n\nAnswer format: true/false"), "boolq");
  assertEquals(inferTask("Option1: a Option2: b Answer format: option1/option2"), "winogrande");
  assertEquals(inferTask("x\n\nAnswer format: answer1/answer2/answer3"), "social_i_qa");
  assertEquals(inferTask("x\n\nAnswer format: answer1/answer2/answer3/answer4", "ARC-Challenge"), "ARC-Challenge");
  assertEquals(inferTask("x\n\nAnswer format: number"), null);
  assertEquals(inferTask("no format"), null);
});

const BAD: [string, unknown, string][] = [
  ["not an object", "just a string", "record 1: is a string, not an object"],
  ["null", null, "record 1: is null, not an object"],
  [
    "missing field",
    { instruction: REAL.boolq.instruction, output: "the correct answer is true", answer: "true" },
    'record 1: field "input" is missing',
  ],
  ["non-string field", rec("boolq", { answer: 1 }), 'record 1: field "answer" is a number, not a string'],
  [
    "answer not offered",
    rec("social_i_qa", { answer: "answer4", output: "the correct answer is answer4" }),
    'record 1: field "answer": "answer4" is not one of answer1/answer2/answer3',
  ],
  [
    "output disagrees",
    rec("boolq", { output: "the correct answer is false" }),
    'record 1: field "output": states "false", not the answer "true"',
  ],
  [
    "no task",
    rec("boolq", { instruction: "What is 2 + 3?\n\nAnswer format: number" }),
    'record 1: field "instruction": its "Answer format:" names no commonsense task',
  ],
];

Deno.test("a bad record fails with a one-line DataError naming file, record and field", () => {
  for (const [what, bad, message] of BAD) {
    const text = JSON.stringify([rec("boolq"), bad]);
    const e = assertThrows(() => parseCommonsenseJson(text, "data/train.json", null), DataError, message);
    assert(e.message.startsWith("data/train.json: record 1"), what);
    assert(!e.message.includes("\n"), what);
  }
});

Deno.test("with onBadRecord 'skip' a bad record is a warning line and left out", () => {
  for (const [what, bad, message] of BAD) {
    const warnings: string[] = [];
    const text = JSON.stringify([rec("boolq"), bad, rec("boolq")]);
    const got = parseCommonsenseJson(text, "t.json", null, { onBadRecord: "skip", warn: (l) => warnings.push(l) });
    assertEquals(got.length, 2, what);
    assertEquals(warnings, [`warning: t.json: ${message}; skipped`], what);
  }
});

Deno.test("a test file checks answers against its own task", () => {
  const text = JSON.stringify([rec("piqa", { answer: "true", output: "the correct answer is true" })]);
  assertThrows(
    () => parseCommonsenseJson(text, "piqa/test.json", "piqa"),
    DataError,
    'field "answer": "true" is not one of solution1/solution2',
  );
});

Deno.test("malformed JSON, a non-array and a missing file are DataErrors naming the file", async () => {
  const dir = await tempDir({ "bad.json": '[{"instruction": "x",}]', "obj.json": '{"a": 1}' });
  try {
    const e = await assertRejects(
      () => loadCommonsenseTrain(join(dir, "bad.json")),
      DataError,
      "bad.json: not valid JSON",
    );
    assert(/position|line|column/.test(e.message), e.message);
    await assertRejects(
      () => loadCommonsenseTrain(join(dir, "obj.json")),
      DataError,
      "expected a JSON array of records, got an object",
    );
    await assertRejects(
      () => loadCommonsenseTest(dir, ["boolq"]),
      DataError,
      `${join(dir, "boolq", "test.json")}: file not found`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an empty file, or one whose every record was skipped, is a one-line DataError naming the file", () => {
  assertThrows(
    () => parseCommonsenseJson("[]", "boolq/test.json", "boolq"),
    DataError,
    "boolq/test.json: holds no records",
  );
  const [, bad, message] = BAD[0];
  const e = assertThrows(
    () => parseCommonsenseJson(JSON.stringify([bad, bad]), "t.json", null, { onBadRecord: "skip", warn: () => {} }),
    DataError,
    "t.json: all 2 records were skipped",
  );
  assert(e.message.includes(message.replace("record 1", "record 0")), e.message);
  assert(!e.message.includes("\n"));
});
