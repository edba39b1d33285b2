import { ConfigError } from "../errors.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../testing/asserts.ts";
import { Rng } from "../util/rng.ts";
import { encodeExample } from "./batch.ts";
import { solveRecord } from "./oracle.ts";
import { TEMPLATE_NAMES } from "./prompt.ts";
import {
  buildEmbeddedSuite,
  mixTrain,
  SUITE_PRESETS,
  suiteConfig,
  suiteContentHash,
  suiteHash,
  suiteStats,
} from "./suite.ts";
import { SPLITS } from "./tasks.ts";
import { TASKS } from "./types.ts";

const suite = buildEmbeddedSuite({}, 0);
const stats = suiteStats(suite);

/** The sequence-length budget the 2-core default study is sized for. */
const MAX_TOKENS = { compact: 80, alpaca: 96, llm_adapters: 96 };
const MAX_VOCAB = 420;

Deno.test("default suite: 200 / 40 / 100 records per task and the measured sizes", () => {
  for (const t of TASKS) assertEquals(stats.records[t], { train: 200, validation: 40, test: 100 });
  assert(stats.vocabSize <= MAX_VOCAB, `vocab ${stats.vocabSize}`);
  assertEquals(stats.vocabSize, suite.tokenizer.vocab.length);
  assert(stats.corpus.documents > 800 && stats.corpus.tokens > 8000, JSON.stringify(stats.corpus));
});

Deno.test("default suite meets the sequence-length budget under every template", () => {
  for (const template of TEMPLATE_NAMES) {
    const all = stats.exampleTokens[template].all;
    assert(all.max <= MAX_TOKENS[template], `${template}: max ${all.max}`);
  }
  // Measured: compact 43–69 tokens, alpaca 61–87; the preamble costs 18 tokens.
  assertEquals(stats.exampleTokens.alpaca.all.max - stats.exampleTokens.compact.all.max, 18);
  const arcC = stats.exampleTokens.compact["ARC-Challenge"];
  assert(arcC.min > stats.exampleTokens.compact.boolq.max, "ARC-c questions are longer than BoolQ's");
});

Deno.test("the tokenizer covers the corpus and every prompt: no <unk> anywhere", () => {
  const tok = suite.tokenizer;
  for (const doc of suite.corpus) assert(!tok.encode(doc).includes(tok.unkId), doc);
  for (const t of TASKS) {
    for (const r of SPLITS.flatMap((s) => suite.tasks[t][s])) {
      for (const template of TEMPLATE_NAMES) {
        const e = encodeExample(tok, r, { template, maxLen: 1000 });
        assert(!e.ids.includes(tok.unkId), `${template}: ${r.instruction}`);
      }
    }
  }
});

Deno.test("the corpus states the facts every test question needs", () => {
  for (const t of TASKS) {
    for (const r of suite.tasks[t].test) {
      const { evidence } = solveRecord(suite.world, r);
      if (t !== "winogrande") assert(evidence.length > 0, t);
      for (const re of evidence) assert(suite.corpus.some((l) => re.test(l)), `${t}: ${re} for ${r.instruction}`);
    }
  }
  // ARC-c needs two facts, ARC-e one.
  assertEquals(solveRecord(suite.world, suite.tasks["ARC-Challenge"].test[0]).evidence.length, 2);
  assertEquals(solveRecord(suite.world, suite.tasks["ARC-Easy"].test[0]).evidence.length, 1);
});

Deno.test("the same config and seed give the same suite; another seed another", () => {
  const quick = suiteConfig("quick");
  const a = buildEmbeddedSuite(quick, 3);
  const b = buildEmbeddedSuite(quick, 3);
  assertEquals(JSON.stringify(a), JSON.stringify(b));
  assertEquals(a.tokenizer.vocab, b.tokenizer.vocab);
  const c = buildEmbeddedSuite(quick, 4);
  assertNotEquals(c.tasks.boolq.test, a.tasks.boolq.test);
  assertNotEquals(c.corpus, a.corpus);
});

Deno.test("quick preset: a small world and a few dozen records per task", () => {
  const q = buildEmbeddedSuite(suiteConfig("quick"), 0);
  const s = suiteStats(q);
  for (const t of TASKS) assertEquals(s.records[t], { train: 32, validation: 8, test: 16 });
  assert(s.corpus.documents < 0.6 * stats.corpus.documents, `${s.corpus.documents} documents`);
  assertEquals(q.world.animals.length, SUITE_PRESETS.quick.world.animals);
});

Deno.test("suiteConfig merges overrides into a preset and rejects unknown keys", () => {
  const cfg = suiteConfig("quick", { tasks: { test: 20 }, world: { animals: 20 } });
  assertEquals([cfg.tasks.train, cfg.tasks.test, cfg.world.animals, cfg.world.people], [32, 20, 20, 8]);
  assertEquals(cfg.tasks.heldOutKeys, { validation: 0.1, test: 0.25 });
  assertThrows(() => suiteConfig("default", { task: {} } as never), ConfigError, "unknown key 'task'");
  assertThrows(() => suiteConfig("default", { tasks: { train: -1 } }), ConfigError, "suite (default).tasks.train");
});

Deno.test("suiteHash: stable under key order, sensitive to config and seed", async () => {
  const h = await suiteHash({ tasks: { train: 10, test: 5 } }, 0);
  assertEquals(h, await suiteHash({ tasks: { test: 5, train: 10 } }, 0));
  assertEquals(h.length, 16);
  assertNotEquals(h, await suiteHash({ tasks: { train: 10, test: 5 } }, 1));
  assertNotEquals(h, await suiteHash({ tasks: { train: 11, test: 5 } }, 0));
  assertEquals(await suiteHash({}, 0), await suiteHash(suiteConfig("default"), 0));
});

Deno.test("suiteContentHash fingerprints the generated text", async () => {
  const quick = suiteConfig("quick");
  const h = await suiteContentHash(buildEmbeddedSuite(quick, 0));
  assertEquals(h, await suiteContentHash(buildEmbeddedSuite(quick, 0)));
  assertNotEquals(h, await suiteContentHash(buildEmbeddedSuite(quick, 1)));
});

Deno.test("mixTrain interleaves every task's training records once, by seed", () => {
  const mixed = mixTrain(suite.tasks, new Rng(1));
  assertEquals(mixed.length, 8 * 200);
  const all = TASKS.flatMap((t) => suite.tasks[t].train);
  assertEquals(new Set(mixed).size, all.length);
  assert(all.every((r) => mixed.includes(r)));
  assertEquals(new Set(mixed.slice(0, 40).map((r) => r.task)).size, 8);
  assertEquals(mixTrain(suite.tasks, new Rng(1)), mixed);
  assertNotEquals(mixTrain(suite.tasks, new Rng(2)), mixed);
  assertEquals(mixTrain({ piqa: suite.tasks.piqa }, new Rng(1)).length, 200);
});

Deno.test("chance levels come with the suite", () => {
  assertEquals(suite.chance.hellaswag, 0.25);
  assertEquals(Object.keys(suite.chance), [...TASKS]);
});
