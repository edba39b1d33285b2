import { ConfigError } from "../errors.ts";
import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";
import { Rng } from "../util/rng.ts";
import { FAMILIES } from "./families.ts";
import { solveRecord } from "./oracle.ts";
import { FORMAT_DOC_TASKS, formatDocuments, QA_DOC_TASKS, qaDocuments } from "./pretraining.ts";
import { ANSWER_PREFIX, buildTrainingText } from "./prompt.ts";
import { buildTasks } from "./tasks.ts";
import { TASKS } from "./types.ts";
import { WordTokenizer } from "./word_tokenizer.ts";
import { generateWorld } from "./world.ts";

const world = generateWorld({}, 0);
const docs = qaDocuments(world, {}, 0);

Deno.test("QA documents: the seven tasks answered in words, not WinoGrande; never a label", () => {
  assertEquals(QA_DOC_TASKS, [
    "boolq",
    "piqa",
    "social_i_qa",
    "hellaswag",
    "ARC-Easy",
    "ARC-Challenge",
    "openbookqa",
  ]);
  assertEquals(FORMAT_DOC_TASKS, ["winogrande"]);
  assertEquals([...new Set(docs.map((d) => d.task))], [...QA_DOC_TASKS]);
  for (const d of docs) {
    assert(!/Answer format: option1\/option2/.test(d.text), d.text);
    assert(!/the correct answer is (answer|solution|ending|option)\d|the correct answer is (true|false)$/.test(d.text));
  }
});

Deno.test("QA documents: every canonical fact key (test keys included), `repeat` times, default 2", () => {
  for (const t of QA_DOC_TASKS) {
    const keys = FAMILIES[t].modes.canonical.keys(world, new Rng(0));
    const perKey = new Map<string, number>();
    for (const d of docs.filter((x) => x.task === t)) perKey.set(d.key, (perKey.get(d.key) ?? 0) + 1);
    assertEquals([...perKey.keys()].sort(), [...keys].sort(), t);
    assert([...perKey.values()].every((n) => n === 2), t);
  }
  // Measured on the default world (seed 0): 1,178 keys.
  const counts = Object.fromEntries(QA_DOC_TASKS.map((t) => [t, docs.filter((d) => d.task === t).length / 2]));
  assertEquals(counts, {
    boolq: 294,
    piqa: 174,
    social_i_qa: 72,
    hellaswag: 48,
    "ARC-Easy": 328,
    "ARC-Challenge": 166,
    openbookqa: 96,
  });
  // Two documents of one key use two different wordings or names.
  for (let i = 0; i < docs.length; i += 2) assert(docs[i].instruction !== docs[i + 1].instruction, docs[i].text);
  assertEquals(qaDocuments(world, { repeat: 0 }, 0), []);
  assertEquals(qaDocuments(world, { repeat: 3 }, 0).length, 3 * 1178);
  assertThrows(() => qaDocuments(world, { repeat: -1 }, 0), ConfigError, "qaDocs.repeat");
});

Deno.test("QA documents: compact prompt + 'the correct answer is <content>', content = the oracle's answer", () => {
  for (const d of docs) {
    const record = { task: d.task, instruction: d.instruction };
    const o = solveRecord(world, record);
    if (d.task === "boolq") {
      // Answered with the deciding fact's value, which the oracle's evidence states ("the dog is red .").
      assert(o.evidence.some((re) => re.source.includes(` ${d.content} `)), d.text);
      assert(d.content !== "true" && d.content !== "false", d.text);
    } else assertEquals(d.content, o.content, d.text);
    assertEquals(
      d.text,
      buildTrainingText({ ...record, input: "", output: `${ANSWER_PREFIX} ${d.content}` }, "compact"),
    );
    assert(
      /^### Instruction:\nPlease (choose the correct |answer the following question with true or false)/.test(d.text),
      d.text,
    );
    assert(d.text.endsWith(`### Response:\nthe correct answer is ${d.content}`), d.text);
  }
});

Deno.test("QA documents fit the 64-token budget with bos and eos", () => {
  const tok = WordTokenizer.fromTexts(docs.map((d) => d.text));
  const lengths = docs.map((d) => tok.encode(d.text).length + 2);
  assert(Math.max(...lengths) <= 64, `max ${Math.max(...lengths)}`);
  assert(Math.min(...lengths) >= 40, `min ${Math.min(...lengths)}`);
});

Deno.test("QA documents are deterministic in the seed", () => {
  assertEquals(qaDocuments(world, {}, 0), docs);
  const other = qaDocuments(world, {}, 1);
  assertEquals(other.map((d) => d.key), docs.map((d) => d.key));
  assert(other.some((d, i) => d.instruction !== docs[i].instruction));
});

Deno.test("format documents: templates, then unanswered WinoGrande training instructions", () => {
  const tasks = buildTasks(world, { train: 20, validation: 4, test: 8 }, 0);
  const f = formatDocuments(tasks, 30, new Rng(0));
  assertEquals(f.length, 30);
  const train = new Set(tasks.winogrande.train.map((r) => r.instruction));
  const templates = f.filter((d) => !train.has(d));
  assert(templates.length >= 3 && templates.every((d) => d.includes("### Response:")), `${templates.length}`);
  assert(f.some((d) => d.includes("option1/option2")) && !f.some((d) => d.includes("Answer format: true/false")));
  assert(!f.some((d) => d.includes(ANSWER_PREFIX)));
  assertEquals(formatDocuments(tasks, 2, new Rng(0)).length, 2);
  assert(TASKS.every((t) => t in tasks));
});
