/** The routing-specialisation collection on a tiny routed model (the statistic itself: specialisation_test.ts). */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import type { QARecord, TaskName } from "../data/types.ts";
import { WordTokenizer } from "../data/word_tokenizer.ts";
import { BaseWeights } from "../model/base.ts";
import { LlamaModel } from "../model/llama.ts";
import { forwardContext } from "../moe/moe_linear.ts";
import { disposeRouting, exampleRouting } from "../moe/stats.ts";
import { methodConfig, type MethodName } from "../routers/registry.ts";
import { assert, assertAllClose, assertEquals } from "../testing/asserts.ts";
import { tinyConfig } from "../testing/toy.ts";
import { Rng } from "../util/rng.ts";
import { type EvalOptions, evaluate } from "./evaluate.ts";

await initBackend("cpu");

const WORDS = "alpha beta gamma delta red green blue cold warm left right up down one two three".split(" ");
const TEXTS = [
  "please choose the correct answer to the question : which ? answer1 : x answer2 : y answer3 : z",
  "answer format : answer1 / answer2 / answer3 true false the correct answer is ### instruction response is it",
  WORDS.join(" "),
];
const tok = WordTokenizer.fromTexts(TEXTS);

function records(): QARecord[] {
  const rng = new Rng(5);
  const words = (k: number) => Array.from({ length: k }, () => rng.pick(WORDS)).join(" ");
  const out: QARecord[] = [];
  for (let i = 0; i < 6; i++) {
    out.push({
      task: "boolq" as TaskName,
      instruction: `is it ${words(2 + (i % 3))} ? answer format : true/false`,
      input: "",
      output: "the correct answer is true",
      answer: i % 2 ? "true" : "false",
    });
    out.push({
      task: "social_i_qa" as TaskName,
      instruction: `please choose the correct answer to the question : which ${words(3 + (i % 2))} ? answer1 : x ` +
        "answer2 : y answer3 : z\n\nanswer format : answer1/answer2/answer3",
      input: "",
      output: "the correct answer is answer2",
      answer: "answer2",
    });
  }
  return out;
}

const CFG = tinyConfig(tok.vocabSize, 64);

const OPTS: EvalOptions = {
  protocol: "score",
  template: "compact",
  maxLen: 64,
  batchSize: 4,
  maxNewTokens: 3,
  routing: true,
  permutations: 100,
};

const METHODS: [MethodName, Record<string, unknown>][] = [
  ["topk", { nExperts: 4, topK: 2, rank: 2 }],
  ["adamole", { nExperts: 4, rank: 2 }],
  ["dynmole", { nExperts: 4, rank: 2 }],
  ["mola", { experts: [2, 4], topK: 2, rank: 2 }],
  ["moa-soft", { rank: 2, promptLen: 2, adapterSize: 4, swiX: 2 }],
  ["moa-sparse", { rank: 2, adapterSize: 4, swiX: 2 }],
];

Deno.test("evaluate records NMI(task; expert) per layer for every routed method: finite, in [0, 1], with its null", async () => {
  const base = BaseWeights.random(CFG, new Rng(1), 0.3);
  const recs = records();
  for (const [name, over] of METHODS) {
    const model = new LlamaModel(base, methodConfig(name, over), new Rng(2));
    // generate (the first decoding step's routing) once; the score protocol for every method
    const protocols = name === "topk" ? ["score", "generate"] as const : ["score"] as const;
    for (const protocol of protocols) await evaluate(model, tok, recs, { ...OPTS, protocol, routing: false }); // mask cache
    const before = tf.memory().numTensors;
    for (const protocol of protocols) {
      const r = await evaluate(model, tok, recs, { ...OPTS, protocol });
      const spec = r.specialisation!;
      assertEquals(spec.map((s) => s.layer), [0, 1], name);
      if (name === "mola") assertEquals(spec.map((s) => s.nExperts), [2, 4]);
      for (const s of spec) {
        for (const v of [s.nmi, s.nullMean, s.null95, s.p]) assert(Number.isFinite(v), `${name}: ${JSON.stringify(s)}`);
        assert(s.nmi >= 0 && s.nmi <= 1, `${name}: nmi ${s.nmi}`);
        assert(s.p > 0 && s.p <= 1);
        assertEquals(s.permutations, 100);
        // sparse MoA may route none of a prompt's tokens; every other method routes each record
        if (name !== "moa-sparse") assertEquals(s.examples, recs.length, name);
      }
    }
    assertEquals(tf.memory().numTensors, before, `${name}: evaluation leaves no tensors`);
    model.dispose();
  }
  base.dispose();
});

Deno.test("per-example routing on a tiny model: each row's weights sum to its real tokens (rows renormalise to 1)", async () => {
  const base = BaseWeights.random(CFG, new Rng(1), 0.3);
  const lengths = [5, 3, 7];
  const S = 8;
  const ids = lengths.flatMap((n, b) => Array.from({ length: S }, (_, j) => (j < n ? 3 + ((b * 5 + j) % 20) : 0)));
  const mask = tf.tensor1d(lengths.flatMap((n) => Array.from({ length: S }, (_, j) => (j < n ? 1 : 0))));
  for (const [name, over] of METHODS.filter(([m]) => m !== "moa-sparse")) {
    const model = new LlamaModel(base, methodConfig(name, over), new Rng(2));
    const ctx = forwardContext({ routings: new Map() });
    tf.tidy(() => {
      model.logits(tf.tensor2d(ids, [lengths.length, S], "int32"), ctx);
    });
    const ex = (await exampleRouting(ctx.routings!, mask, lengths.length))!;
    for (const r of ctx.routings!.values()) disposeRouting(r);
    for (const { nExperts, offset } of ex.layers) {
      const totals = lengths.map((_, b) => {
        const row = Array.from(ex.data.subarray(b * ex.width + offset, b * ex.width + offset + nExperts));
        assert(row.every((v) => v >= 0));
        return row.reduce((a, v) => a + v, 0);
      });
      assertAllClose(totals, lengths, 1e-4);
    }
    model.dispose();
  }
  mask.dispose();
  base.dispose();
});
