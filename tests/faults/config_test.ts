/**
 * Bad input caught before anything runs, or as soon as it is read: an unknown method or field in a study's
 * cells or a `--cells` file, a value out of range for every hyperparameter with a range (one exact line each;
 * src/routers/registry_test.ts and src/train/trainer_test.ts hold the first few, this table the rest), a
 * malformed record in a data file, a malformed MOLE_FAULT. Config errors exit 2, data errors 1; neither
 * leaves anything in results/.
 */
import { join } from "node:path";
import { ConfigError } from "../../src/errors.ts";
import { resolveGrid } from "../../src/experiment/runner.ts";
import type { Study } from "../../src/experiment/study.ts";
import { parseMethodConfig } from "../../src/routers/registry.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../src/testing/asserts.ts";
import { parseTrainConfig } from "../../src/train/config.ts";
import {
  assertComplete,
  assertOk,
  BACKEND,
  cells,
  experiment,
  gridFile,
  oneLineError,
  quickCell,
  warmCache,
} from "./helpers.ts";

const METHODS = "lora|topk|threshold|mola|adamole|dynmole|moa-soft|moa-sparse";
const UNKNOWN = "remove or rename (unknown keys are rejected)";
const RANK = "must be ≥ 1 (a LoRA needs at least rank 1)";

/** [method config, the one line it fails with] — every ranged method field not already in registry_test. */
const METHOD_RANGES: [Record<string, unknown>, string][] = [
  [{ method: "lora", rank: 0 }, `method.rank: ${RANK}`],
  [{ method: "lora", alpha: 0 }, "method.alpha: must be > 0"],
  [{ method: "lora", dropout: -0.1 }, "method.dropout: must be in [0, 1)"],
  [{ method: "lora", targets: [] }, "method.targets: needs at least one projection"],
  [{ method: "topk", nExperts: 0 }, "method.nExperts: must be ≥ 1"],
  [{ method: "topk", topK: 0 }, "method.topK: must be ≥ 1"],
  [{ method: "topk", auxLossCoef: -1 }, "method.auxLossCoef: must be ≥ 0"],
  [{ method: "threshold", threshold: 1.5 }, "method.threshold: must be in [0, 1]"],
  [{ method: "threshold", nExperts: 0 }, "method.nExperts: must be ≥ 1"],
  [{ method: "mola", topK: 0 }, "method.topK: must be ≥ 1"],
  [{ method: "mola", rank: 0 }, `method.rank: ${RANK}`],
  [
    { method: "mola", experts: [2, 6], topK: 3 },
    "method.topK: topK (3) must be ≤ the smallest expert count (2); lower topK or change experts",
  ],
  [
    { method: "mola", experts: "207" },
    "method.experts: a pattern is digits 1–9, one expert count per layer group, e.g. 2468",
  ],
  [{ method: "adamole", maxThreshold: -0.1 }, "method.maxThreshold: must be in [0, 1]"],
  [{ method: "adamole", nExperts: 0 }, "method.nExperts: must be ≥ 1"],
  [{ method: "adamole", rank: 0 }, `method.rank: ${RANK}`],
  [{ method: "adamole", auxLossCoef: -1 }, "method.auxLossCoef: must be ≥ 0"],
  [{ method: "dynmole", q: 2.5 }, "method.q: must be in (0, 2]"],
  [{ method: "dynmole", q: -1 }, "method.q: must be in (0, 2] (q ≤ 0 has no Tsallis entropy)"],
  [{ method: "dynmole", topP: -0.1 }, "method.topP: must be in [0, 1]"],
  [{ method: "dynmole", topP: 1.5 }, "method.topP: must be in [0, 1]"],
  [
    { method: "dynmole", entropyThreshold: 1.5 },
    "method.entropyThreshold: must be in [0, 1] (1 turns the dense branch off)",
  ],
  [
    { method: "dynmole", entropyThreshold: -1 },
    "method.entropyThreshold: must be in [0, 1] (1 turns the dense branch off)",
  ],
  [{ method: "dynmole", keepTopK: 0 }, "method.keepTopK: must be ≥ 1 (the expert set is never empty)"],
  [
    { method: "dynmole", nExperts: 6, keepTopK: 7 },
    "method.keepTopK: keepTopK (7) must be ≤ nExperts (6); lower keepTopK or add experts",
  ],
  [{ method: "dynmole", rank: 0 }, `method.rank: ${RANK}`],
  [{ method: "dynmole", entropyCoef: -1 }, "method.entropyCoef: must be ≥ 0"],
  [{ method: "dynmole", entropyEps: -1 }, "method.entropyEps: must be ≥ 0"],
  [{ method: "moa-soft", rank: 0 }, `method.rank: ${RANK}`],
  [{ method: "moa-soft", alpha: 0 }, "method.alpha: must be > 0"],
  [{ method: "moa-soft", adapterSize: 0 }, "method.adapterSize: must be ≥ 1"],
  [{ method: "moa-soft", promptLen: 0 }, "method.promptLen: must be ≥ 1"],
  [{ method: "moa-soft", swiX: -1 }, "method.swiX: must be ≥ 0"],
  [{ method: "moa-soft", types: [] }, "method.types: needs at least one adapter type"],
  [{ method: "moa-sparse", maxThreshold: 1.5 }, "method.maxThreshold: must be in [0, 1]"],
];

/** [train config, the one line] — every ranged training field not already in trainer_test. */
const TRAIN_RANGES: [Record<string, unknown>, string][] = [
  [{ lr: -1e-4 }, "train.lr: must be in (0, 1]; try 1e-4 to 1e-3"],
  [{ weightDecay: -0.1 }, "train.weightDecay: must be ≥ 0"],
  [{ beta1: 1 }, "train.beta1: must be in [0, 1)"],
  [{ beta2: -0.1 }, "train.beta2: must be in [0, 1)"],
  [{ eps: 0 }, "train.eps: must be > 0"],
  [{ maxGradNorm: -1 }, "train.maxGradNorm: must be ≥ 0 (0 turns clipping off)"],
  [{ batchSize: 0 }, "train.batchSize: must be ≥ 1"],
  [{ gradAccum: 0 }, "train.gradAccum: must be ≥ 1"],
  [{ epochs: 0 }, "train.epochs: must be > 0"],
  [{ maxSteps: 0 }, "train.maxSteps: must be ≥ 1"],
  [{ logEvery: 0 }, "train.logEvery: must be ≥ 1"],
  [{ evalEvery: -1 }, "train.evalEvery: must be ≥ 0"],
  [{ checkpointEvery: -1 }, "train.checkpointEvery: must be ≥ 0"],
  [{ keepCheckpoints: 0 }, "train.keepCheckpoints: must be ≥ 1"],
];

Deno.test("every hyperparameter with a range: a value outside it is one line naming the field and the range", () => {
  for (const [value, want] of METHOD_RANGES) {
    assertEquals(assertThrows(() => parseMethodConfig(value), ConfigError).message, want, JSON.stringify(value));
  }
  for (const [value, want] of TRAIN_RANGES) {
    assertEquals(assertThrows(() => parseTrainConfig(value), ConfigError).message, want, JSON.stringify(value));
  }
});

/** A study whose i-th cell has `config` and the others are fine. */
function studyWith(config: Record<string, unknown>): Study {
  const ok = { method: { method: "lora" }, seed: 0 };
  return {
    name: "bad",
    title: "bad",
    question: "",
    cells: () => [{ label: "fine", group: {}, config: ok }, { label: "broken", group: {}, config }],
    tables: () => [],
    charts: () => [],
  };
}

Deno.test("a study cell with an unknown method or field fails resolveGrid with one line naming the cell", async () => {
  const opts = { quick: true, seeds: [0], data: null, base: null };
  const cases: [Record<string, unknown>, string][] = [
    [
      { method: { method: "mixlora" }, seed: 0 },
      `bad.cells[1] (broken).method.method: unknown method 'mixlora'; allowed: ${METHODS}`,
    ],
    [
      { method: { method: "topk", nExpert: 4 }, seed: 0 },
      `bad.cells[1] (broken).method: unknown key 'nExpert'; ${UNKNOWN}`,
    ],
    [
      { method: { method: "lora" }, train: { learningRate: 1e-3 }, seed: 0 },
      `bad.cells[1] (broken).train: unknown key 'learningRate'; ${UNKNOWN}`,
    ],
    [{ method: { method: "lora" }, seed: 0, seeds: 3 }, `bad.cells[1] (broken): unknown key 'seeds'; ${UNKNOWN}`],
    [{ method: { method: "dynmole", topP: 2 }, seed: 0 }, "bad.cells[1] (broken).method.topP: must be in [0, 1]"],
  ];
  for (const [config, want] of cases) {
    const e = await assertRejects(() => resolveGrid(studyWith(config), opts), ConfigError);
    assertEquals(e.message, want);
  }
});

Deno.test("the CLI: an unknown method, field or out-of-range value in a --cells file is one line, exit 2", async () => {
  const out = await Deno.makeTempDir({ prefix: "mole-config-" });
  const run = async (cells: unknown[], name = "cfg") =>
    await experiment(["--cells", await gridFile(out, name, cells), "--quick", "--out", join(out, "results")]);
  const bad = (method: Record<string, unknown>, train: Record<string, unknown> = {}) => ({
    label: "bad",
    method,
    train,
  });
  const where = "cfg.cells[0] (bad)";
  const cases: [unknown[], string][] = [
    [[bad({ method: "mixlora" })], `${where}.method.method: unknown method 'mixlora'; allowed: ${METHODS}`],
    [[bad({ method: "lora", rnak: 4 })], `${where}.method: unknown key 'rnak'; ${UNKNOWN}`],
    [[bad({ method: "dynmole", q: 3 })], `${where}.method.q: must be in (0, 2]`],
    [[bad({ method: "dynmole", topP: 1.5 })], `${where}.method.topP: must be in [0, 1]`],
    [[bad({ method: "adamole", maxThreshold: 2 })], `${where}.method.maxThreshold: must be in [0, 1]`],
    [[bad({ method: "topk", nExperts: 4, topK: 0 })], `${where}.method.topK: must be ≥ 1`],
    [[bad({ method: "lora", rank: 0 })], `${where}.method.rank: ${RANK}`],
    [[bad({ method: "lora" }, { lr: 2 })], `${where}.train.lr: must be in (0, 1]; try 1e-4 to 1e-3`],
    [[{ lable: "x", method: { method: "lora" } }], `${join(out, "cfg.json")}.cells.0: unknown key 'lable'; ${UNKNOWN}`],
  ];
  for (const [cells, want] of cases) assertEquals(oneLineError(await run(cells), 2), `error: ${want}`);
  const r = await experiment(["--cells", join(out, "missing.json")]);
  assertEquals(oneLineError(r, 2), `error: --cells ${join(out, "missing.json")}: no such file; check the path`);
  const fault = await experiment(["--cells", join(out, "cfg.json"), "--list"], { fault: "explode:mid-cell" });
  assertEquals(
    oneLineError(fault, 2),
    "error: MOLE_FAULT: cannot parse 'explode:mid-cell'; expected <kill|enospc|nan|inf>:<point>[@<n ≥ 1>], " +
      "e.g. kill:mid-cell@3 or enospc:append:cells.jsonl",
  );
  assertEquals([...Deno.readDirSync(out)].map((e) => e.name).includes("results"), false, "nothing written");
  await Deno.remove(out, { recursive: true });
});

/** A BoolQ record in LLM-Adapters' format. */
const boolq = (q: string, answer: "true" | "false") => ({
  instruction: `Please answer the following question with true or false, question: ${q}?\n\nAnswer format: true/false`,
  input: "",
  output: `the correct answer is ${answer}`,
  answer,
});

Deno.test("a malformed record in a data file: one line naming file, record and field, exit 1; fixed, it resumes", async () => {
  await warmCache();
  const tmp = await Deno.makeTempDir({ prefix: "mole-data-" });
  const data = join(tmp, "data");
  await Deno.mkdir(join(data, "boolq"), { recursive: true });
  const good = ["is the sky blue", "is water dry", "do fish swim", "is fire cold"].map((q, i) =>
    boolq(q, i % 2 ? "false" : "true")
  );
  const train = join(data, "commonsense_170k.json");
  const { answer: _, ...broken } = good[1];
  await Deno.writeTextFile(train, JSON.stringify([good[0], broken, ...good.slice(2)]));
  await Deno.writeTextFile(join(data, "boolq", "test.json"), JSON.stringify(good));
  const spec = (onBadRecord: string) => ({ kind: "commonsense", dir: data, tasks: ["boolq"], onBadRecord });
  const grid = await gridFile(tmp, "data", [
    quickCell("skip bad records", { method: "lora", rank: 4, targets: ["q", "v"] }, { data: spec("skip") }),
    quickCell("fail on bad records", { method: "lora", rank: 4, targets: ["q", "v"] }, { data: spec("fail") }),
  ]);
  const out = join(tmp, "results");
  const run = () => experiment(["--cells", grid, "--quick", "--out", out, "--backend", BACKEND]);

  let r = await run();
  assert(r.stdout.includes(`warning: ${train}: record 1: field "answer" is missing; skipped`), r.stdout);
  assertEquals(
    oneLineError(r, 1),
    `error: data: cell 'fail on bad records' seed 0: ${train}: record 1: field "answer" is missing; fix or remove ` +
      `it, or load with onBadRecord "skip"`,
  );
  assertEquals((await cells(join(out, "data"))).rows.map((r) => r.label), ["skip bad records"]);

  await Deno.writeTextFile(train, JSON.stringify(good));
  r = await run();
  assertOk(r);
  assert(r.stdout.includes("1 already done, 1 to run"), r.stdout);
  await assertComplete(join(out, "data"), ["skip bad records", "fail on bad records"]);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("an empty test file, or a task without training records: one line naming the file and task, exit 1", async () => {
  await warmCache();
  const tmp = await Deno.makeTempDir({ prefix: "mole-empty-" });
  const data = join(tmp, "data");
  await Deno.mkdir(join(data, "boolq"), { recursive: true });
  const train = join(data, "commonsense_170k.json");
  await Deno.writeTextFile(train, JSON.stringify([boolq("is the sky blue", "true"), boolq("is fire cold", "false")]));
  await Deno.writeTextFile(join(data, "boolq", "test.json"), "[]");
  const run = async (name: string, tasks: string[]) => {
    const spec = { kind: "commonsense", dir: data, tasks, onBadRecord: "fail" };
    const grid = await gridFile(tmp, name, [quickCell(name, { method: "lora", rank: 4, targets: ["q", "v"] }, {
      data: spec,
    })]);
    return await experiment(["--cells", grid, "--quick", "--out", join(tmp, "results"), "--backend", BACKEND]);
  };
  assertEquals(
    oneLineError(await run("missing", ["boolq", "piqa"]), 1),
    `error: missing: cell 'missing' seed 0: ${train}: no training records for piqa; add them or evaluate without ` +
      "those tasks",
  );
  const testFile = join(data, "boolq", "test.json");
  assertEquals(
    oneLineError(await run("empty", ["boolq"]), 1),
    `error: empty: cell 'empty' seed 0: ${testFile}: holds no records ([]); give a file with at least one record`,
  );
  await Deno.remove(tmp, { recursive: true });
});
