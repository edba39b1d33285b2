/**
 * What every study shares: the embedded preset (base recipe, training and evaluation settings sized for two
 * CPU cores), the `--quick` preset CI runs, the real-data switch (--data/--base), and small helpers that turn
 * "a method and a seed" into a cell. Study files list only what differs from these.
 */
import type { CellRow } from "../src/experiment/cell.ts";
import type { CellSpec } from "../src/experiment/spec.ts";
import type { StudyOptions } from "../src/experiment/study.ts";
import type { Protocol } from "../src/train/evaluate.ts";

/**
 * Embedded default: the cached base recipe, three epochs over the 2,400 training records (450 updates of 16:
 * measured on one seed, LoRA's test average went 42.0 → 50.4 % from two epochs to three, and the validation
 * curve was still climbing at two), the logit-scoring protocol on all 2,000 test records.
 */
const EMBEDDED = {
  base: { kind: "embedded", recipe: {} },
  data: { kind: "embedded" },
  train: { lr: 3e-3, schedule: "constant_with_warmup", warmupSteps: 10, batchSize: 16, epochs: 3, logEvery: 10 },
  // The convergence curve: validation accuracy and answer loss every 25 updates on 25 records per task
  // (one point costs about four training steps; measured, see src/train/curve.ts).
  eval: { protocols: ["score"], template: "compact", batchSize: 32, curve: { every: 25, limitPerTask: 25 } },
};

/** The base recipe of the --quick preset: a 1-layer, 32-wide model pretrained for a few steps (seconds). */
export const QUICK_RECIPE = {
  suite: "quick",
  model: { dModel: 32, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 64, maxSeqLen: 128 },
  pretrain: { steps: 20, batchSize: 8, seqLen: 32 },
};

/** CI's preset: the same code path on the quick base, a few steps and a few test records per task. */
const QUICK = {
  base: { kind: "embedded", recipe: QUICK_RECIPE },
  data: { kind: "embedded" },
  train: { lr: 2e-3, batchSize: 8, maxSteps: 4, logEvery: 2 },
  eval: {
    protocols: ["score", "generate"],
    template: "compact",
    batchSize: 16,
    limitPerTask: 3,
    maxNewTokens: 6,
    curve: { every: 2, limitPerTask: 2 },
  },
};

/** Real data and a real checkpoint: LLM-Adapters' prompts byte for byte, both protocols. */
function real(opts: StudyOptions) {
  return {
    base: { kind: "hf", dir: opts.base },
    data: { kind: "commonsense", dir: opts.data },
    train: { lr: 2e-4, batchSize: 16, epochs: 2, logEvery: 20 },
    eval: { protocols: ["generate", "score"], template: "llm_adapters", maxLen: 512, batchSize: 16 },
  };
}

/**
 * `--quick` with `--data`: a smoke run on the user's files — 64 training records and 12 test records per task,
 * one seed, one epoch in batches of 8, short generations — both protocols, the same code path.
 */
export const REAL_SMOKE = { trainPerTask: 64, testPerTask: 12, batchSize: 8, maxNewTokens: 8 } as const;

function realSmoke(opts: StudyOptions) {
  const r = real(opts);
  return {
    ...r,
    data: { ...r.data, trainPerTask: REAL_SMOKE.trainPerTask },
    train: { lr: 2e-4, batchSize: REAL_SMOKE.batchSize, epochs: 1, logEvery: 8 },
    eval: { ...r.eval, limitPerTask: REAL_SMOKE.testPerTask, maxNewTokens: REAL_SMOKE.maxNewTokens },
  };
}

/** The preset the options select, with --limit-train / --limit-test applied (records per task). */
export function preset(opts: StudyOptions) {
  const p = opts.data || opts.base ? (opts.quick ? realSmoke(opts) : real(opts)) : opts.quick ? QUICK : EMBEDDED;
  return {
    ...p,
    data: opts.limitTrain ? { ...p.data, trainPerTask: opts.limitTrain } : p.data,
    eval: opts.limitTest ? { ...p.eval, limitPerTask: opts.limitTest } : p.eval,
  };
}

/**
 * Adapter sizes for the embedded base (d = 128, 2 layers): every site method adapts the same projections
 * with the same total rank per projection (16), split across experts as the papers split it (AdaMoLE: LoRA
 * r = 32 vs 8 experts × 4), so trainable parameters match up to the routers. Dropout is 0 for every method
 * here: dropout 0.1 with weight decay 0.1 did no better in a pilot (300 updates, one seed: 44.8 vs 46.5 %),
 * and the papers' per-expert dropout masks N copies of each input, which would make every MoE cell 2.4×
 * slower than LoRA on CPU (measured; see docs/embedded-suite.md).
 */
export const BUDGET = {
  targets: ["q", "k", "v", "o", "gate", "up", "down"],
  totalRank: 16,
  experts: 4,
  dropout: 0,
} as const;

/** One cell: `method` overrides the method's defaults; `train`/`eval` override the preset's. */
export function cell(
  opts: StudyOptions,
  label: string,
  group: CellSpec["group"],
  method: Record<string, unknown>,
  seed: number,
  extra: { train?: Record<string, unknown>; eval?: Record<string, unknown> } = {},
): CellSpec {
  const p = preset(opts);
  return {
    label,
    group,
    config: {
      method,
      base: p.base,
      data: p.data,
      train: { ...p.train, ...extra.train },
      eval: { ...p.eval, ...extra.eval },
      seed,
    },
  };
}

/** Every method × seed. */
export function grid(
  opts: StudyOptions,
  methods: { label: string; group: CellSpec["group"]; method: Record<string, unknown> }[],
) {
  return methods.flatMap((m) =>
    opts.seeds.map((s) => cell(opts, m.label, { ...m.group, label: m.label }, m.method, s))
  );
}

/** The protocol a study's tables report: the first one the rows were evaluated with. */
export function mainProtocol(rows: CellRow[]): Protocol {
  return (rows[0]?.config.eval.protocols[0] ?? "score") as Protocol;
}

/** Flat numeric fields of a row for tables: accuracy (%) per task and average, cost, routing summary. */
export function flatten(row: CellRow, protocol: Protocol): Record<string, unknown> {
  const r = row.results[protocol];
  const out: Record<string, unknown> = { ...row.group, seed: row.seed };
  out.average = (r?.average ?? NaN) * 100;
  for (const [t, acc] of Object.entries(r?.perTask ?? {})) out[t] = (acc as number) * 100;
  out.params = row.cost.trainableParams;
  out.trainSec = row.cost.trainMs / 1000;
  out.tokensPerSec = row.cost.tokensPerSec;
  // Without a router (plain LoRA) one adapter is always active and there is nothing to be uncertain about.
  const layers = row.routing?.layers ?? [];
  out.activeExperts = layers.length ? layers.reduce((a, l) => a + l.meanActive, 0) / layers.length : 1;
  out.routerEntropy = layers.length ? layers.reduce((a, l) => a + l.entropy, 0) / layers.length : 0;
  return out;
}

/** Mean, sample standard deviation and count of per-seed values (null when there are none). */
export function seedStats(xs: number[]): { mean: number; std: number; n: number } | null {
  if (!xs.length) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, std: Math.sqrt(variance), n: xs.length };
}
