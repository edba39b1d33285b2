/**
 * One cell of a study, start to finish: base model (cached per process) → adapters for the method → train
 * on the task mix → evaluate per task in each protocol → one result row with routing statistics, training
 * history and cost. The frozen base's accuracy on the same evaluation is computed once and attached, so the
 * gain of fine-tuning is visible in every row.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { currentBackend } from "../backend/backend.ts";
import { collate, encodeExamples, makeBatches } from "../data/batch.ts";
import { loadCommonsenseTest, loadCommonsenseTrain } from "../data/commonsense.ts";
import { type EmbeddedSuite, mixTrain } from "../data/suite.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import { type QARecord, type TaskName, TASKS } from "../data/types.ts";
import { CheckpointError, DataError } from "../errors.ts";
import type { BaseWeights } from "../model/base.ts";
import { adapterFlops } from "../model/flops.ts";
import { loadHfModel } from "../model/hf_model.ts";
import { LlamaModel } from "../model/llama.ts";
import { forwardContext } from "../moe/moe_linear.ts";
import type { LayerSpecialisation } from "../moe/specialisation.ts";
import { collectStats, type SiteStats } from "../moe/stats.ts";
import { prepareBase } from "../train/base_recipe.ts";
import { type CurvePoint, curvePoint } from "../train/curve.ts";
import { type EvalResult, evaluate, type Protocol } from "../train/evaluate.ts";
import { train } from "../train/trainer.ts";
import { configHash } from "../util/hash.ts";
import { type ItemResults, itemResults, itemsHash } from "./items.ts";
import { Rng } from "../util/rng.ts";
import type { BaseSpec, CellConfig, DataSpec, ResolvedCell } from "./spec.ts";

export interface ProtocolResult {
  average: number;
  perTask: Partial<Record<TaskName, number>>;
  n: number;
  unanswered: number;
  /** Which test items were answered correctly, per task (paired statistics). Rows written before it lack it. */
  items?: ItemResults;
}

export interface LayerRouting {
  layer: number;
  meanActive: number;
  entropy: number;
  /** [N] mean over the layer's sites of each expert's (or adapter type's) load. */
  load: number[];
  /** [N] mean routing weight of each expert (or adapter type). */
  weight: number[];
}

export interface CellRow {
  hash: string;
  study: string;
  label: string;
  group: Record<string, string | number | boolean>;
  seed: number;
  config: CellConfig;
  results: Partial<Record<Protocol, ProtocolResult>>;
  /** The frozen base on the same evaluation. */
  baseline: Partial<Record<Protocol, ProtocolResult>>;
  routing: {
    sites: Record<string, SiteStats>;
    layers: LayerRouting[];
    /** Per task, the per-layer summary (which experts or adapter types each task uses). */
    byTask: Partial<Record<TaskName, LayerRouting[]>>;
    /**
     * Per layer, NMI between task and expert (adapter type) weight against a task-shuffled null
     * (src/moe/specialisation.ts). Rows written before it was recorded lack it.
     */
    specialisation?: LayerSpecialisation[];
  } | null;
  history: { step: number; loss: number; entropy?: number; meanActive?: number }[];
  /**
   * Convergence curve on the validation subset (`eval.curve`): step 0 (before training), every `every`
   * updates, and the last. Absent when the cell has no curve (and in rows written before it existed).
   */
  curve?: CurvePoint[];
  cost: {
    trainableParams: number;
    steps: number;
    trainMs: number;
    evalMs: number;
    tokens: number;
    tokensPerSec: number;
    peakBytes: number;
    /** Adapter FLOPs per token: every expert computed vs weighted by how often each is active. */
    adapterFlops: { dense: number; routed: number };
    /** Time spent on the convergence curve's evaluations (not in trainMs); absent without a curve. */
    curveMs?: number;
  };
  /** The base model's shape. */
  model: { vocabSize: number; dModel: number; nLayers: number; nHeads: number; nKvHeads: number; dFF: number };
  base: { hash: string; pretrainMs: number; reused: boolean };
  /** `commit`: the git commit the runner trained it at (rows written before it was recorded lack it). */
  env: { backend: string; backendDetail: string; tfjs: string; deno: string; commit?: string };
  finishedAt: string;
}

interface PreparedBaseEntry {
  base: BaseWeights;
  tokenizer: Tokenizer;
  suite: EmbeddedSuite | null;
  hash: string;
  pretrainMs: number;
  reused: boolean;
}

interface Dataset {
  train: QARecord[];
  eval: QARecord[];
}

/** Per-process caches shared by the cells of a run: bases, datasets, baselines. */
export class Workbench {
  private bases = new Map<string, Promise<PreparedBaseEntry>>();
  private baselines = new Map<string, Promise<Partial<Record<Protocol, ProtocolResult>>>>();

  constructor(readonly log: (line: string) => void = console.log) {}

  base(spec: BaseSpec): Promise<PreparedBaseEntry> {
    const key = JSON.stringify(spec);
    let p = this.bases.get(key);
    if (!p) {
      p = spec.kind === "embedded"
        ? prepareBase(spec.recipe, {
          log: this.log,
          onLog: (s) => this.log(`  pretrain step ${s.step}/${s.total} loss ${s.loss.toFixed(3)}`),
        }).then((b) => ({ ...b, suite: b.suite }))
        : loadHf(spec.dir);
      this.bases.set(key, p);
    }
    return p;
  }

  async dataset(cfg: CellConfig, entry: PreparedBaseEntry): Promise<Dataset> {
    return await loadDataset(cfg.data, cfg.eval.split, cfg.eval.limitPerTask, entry, cfg.seed, this.log);
  }

  /** The frozen base's accuracy on this cell's evaluation (computed once per base × data × eval). */
  baseline(
    cfg: CellConfig,
    entry: PreparedBaseEntry,
    data: Dataset,
  ): Promise<Partial<Record<Protocol, ProtocolResult>>> {
    const key = JSON.stringify([entry.hash, cfg.data, { ...cfg.eval, curve: undefined }]); // the curve: not here
    let p = this.baselines.get(key);
    if (!p) {
      p = (async () => {
        const model = new LlamaModel(entry.base, null, new Rng(0));
        const out = await evaluateAll(model, entry.tokenizer, data.eval, cfg, false);
        model.dispose();
        return Object.fromEntries(Object.entries(out.results)) as Partial<Record<Protocol, ProtocolResult>>;
      })();
      this.baselines.set(key, p);
    }
    return p;
  }

  async dispose(): Promise<void> {
    for (const p of this.bases.values()) (await p).base.dispose();
    this.bases.clear();
  }
}

async function loadHf(dir: string): Promise<PreparedBaseEntry> {
  const m = await loadHfModel(dir);
  if (!m.tokenizer) throw new CheckpointError(`${dir}: no tokenizer.json; a base checkpoint needs its tokenizer`);
  return {
    base: m.base,
    tokenizer: m.tokenizer,
    suite: null,
    hash: await configHash({ kind: "hf", dir }),
    pretrainMs: 0,
    reused: true,
  };
}

async function loadDataset(
  spec: DataSpec,
  split: "test" | "validation",
  limit: number | null,
  entry: PreparedBaseEntry,
  seed: number,
  log: (l: string) => void,
): Promise<Dataset> {
  const cap = (rs: QARecord[]) => (limit === null ? rs : rs.slice(0, limit));
  if (spec.kind === "embedded") {
    if (!entry.suite) {
      throw new CheckpointError(
        "data kind 'embedded' needs the embedded base; use --data <dir> with --base <checkpoint>",
      );
    }
    const tasks = entry.suite.tasks;
    const perTask = spec.trainPerTask;
    const trimmed = perTask === null
      ? tasks
      : Object.fromEntries(TASKS.map((t) => [t, { ...tasks[t], train: tasks[t].train.slice(0, perTask) }]));
    return {
      train: mixTrain(trimmed, new Rng(seed).fork("train-order")),
      eval: TASKS.flatMap((t) => cap(tasks[t][split])),
    };
  }
  const opts = { onBadRecord: spec.onBadRecord, warn: log };
  const trainPath = join(spec.dir, spec.trainFile);
  let train = await loadCommonsenseTrain(trainPath, opts);
  // A training file cannot tell ARC-e, ARC-c and OBQA questions apart (4–5 answers, one format): they count as one.
  const family = (t: TaskName) => (MULTIPLE_CHOICE.has(t) ? "multiple choice" : t);
  const missing = spec.tasks.filter((t) => !train.some((r) => family(r.task) === family(t)));
  if (missing.length) {
    throw new DataError(
      `${trainPath}: no training records for ${missing.join(", ")}; add them or evaluate without those tasks`,
    );
  }
  train = new Rng(seed).fork("train-order").shuffle(train);
  if (spec.trainPerTask !== null) {
    const seen = new Map<string, number>();
    train = train.filter((r) => {
      const n = seen.get(r.task) ?? 0;
      seen.set(r.task, n + 1);
      return n < spec.trainPerTask!;
    });
  }
  if (spec.trainLimit !== null) train = train.slice(0, spec.trainLimit);
  const test = await loadCommonsenseTest(spec.dir, spec.tasks, opts);
  return { train, eval: spec.tasks.flatMap((t) => cap(test[t])) };
}

const MULTIPLE_CHOICE = new Set<TaskName>(["ARC-Easy", "ARC-Challenge", "openbookqa"]);

/**
 * The convergence curve's fixed validation subset: the first `limit` validation records of each task of the
 * embedded suite, the same for every cell on this base whatever its seed (so curves pair across methods).
 */
function curveRecords(limit: number | null, entry: PreparedBaseEntry): QARecord[] {
  if (!entry.suite) throw new CheckpointError("eval.curve needs the embedded suite's validation split");
  const suite = entry.suite;
  return TASKS.flatMap((t) => (limit === null ? suite.tasks[t].validation : suite.tasks[t].validation.slice(0, limit)));
}

function summarize(r: EvalResult, records: QARecord[], hash: string): ProtocolResult {
  const perTask: Partial<Record<TaskName, number>> = {};
  let unanswered = 0;
  for (const [t, s] of Object.entries(r.perTask)) {
    perTask[t as TaskName] = s!.accuracy;
    unanswered += s!.unanswered;
  }
  return { average: r.average, perTask, n: r.n, unanswered, items: itemResults(records, r.correct, hash) };
}

async function evaluateAll(
  model: LlamaModel,
  tok: Tokenizer,
  records: QARecord[],
  cfg: CellConfig,
  routing: boolean,
): Promise<{ results: Partial<Record<Protocol, ProtocolResult>>; routing?: CellRow["routing"]; ms: number }> {
  const results: Partial<Record<Protocol, ProtocolResult>> = {};
  let routed: CellRow["routing"] | undefined;
  let ms = 0;
  const hash = await itemsHash(records);
  for (const [i, protocol] of cfg.eval.protocols.entries()) {
    const r = await evaluate(model, tok, records, { ...cfg.eval, protocol, routing: routing && i === 0 });
    results[protocol] = summarize(r, records, hash);
    if (r.routing && !routed) {
      routed = {
        sites: r.routing,
        layers: layerRouting(r.routing),
        byTask: Object.fromEntries(Object.entries(r.routingByTask ?? {}).map(([t, s]) => [t, layerRouting(s!)])),
        ...(r.specialisation ? { specialisation: r.specialisation } : {}),
      };
    }
    ms += r.wallMs;
  }
  return { results, routing: routed, ms };
}

/** Per-layer averages of site statistics (sites named `model.layers.<i>.…`). */
export function layerRouting(sites: Record<string, SiteStats>): LayerRouting[] {
  const byLayer = new Map<number, SiteStats[]>();
  for (const [name, s] of Object.entries(sites)) {
    const layer = Number(/layers\.(\d+)\./.exec(name)?.[1] ?? 0);
    byLayer.set(layer, [...(byLayer.get(layer) ?? []), s]);
  }
  return [...byLayer].sort((a, b) => a[0] - b[0]).map(([layer, ss]) => {
    const n = Math.max(...ss.map((s) => s.load.length));
    const same = ss.filter((s) => s.load.length === n);
    return {
      layer,
      meanActive: ss.reduce((a, s) => a + s.meanActive, 0) / ss.length,
      entropy: ss.reduce((a, s) => a + s.entropy, 0) / ss.length,
      load: Array.from({ length: n }, (_, i) => same.reduce((a, s) => a + s.load[i], 0) / same.length),
      weight: Array.from({ length: n }, (_, i) => same.reduce((a, s) => a + s.weight[i], 0) / same.length),
    };
  });
}

/** Mean entropy and active experts over every site of a forward on the probe batch. */
async function probeRouting(model: LlamaModel, probe: ReturnType<typeof collate>) {
  const ctx = forwardContext({ routings: new Map() });
  const mask = tf.tensor1d(probe.attnMask);
  tf.tidy(() => {
    model.logits(tf.tensor2d(probe.inputIds, [probe.batchSize, probe.seqLen], "int32"), ctx);
  });
  const stats = Object.values(await collectStats(ctx.routings!, mask));
  mask.dispose();
  if (stats.length === 0) return {};
  return {
    entropy: stats.reduce((a, s) => a + s.entropy, 0) / stats.length,
    meanActive: stats.reduce((a, s) => a + s.meanActive, 0) / stats.length,
  };
}

export interface CellHooks {
  onStep?(step: number, total: number, loss: number): void;
}

/** Run one cell; the caller appends the row to cells.jsonl. */
export async function runCell(
  study: string,
  cell: ResolvedCell,
  bench: Workbench,
  hooks: CellHooks = {},
): Promise<CellRow> {
  const cfg = cell.config;
  const entry = await bench.base(cfg.base);
  const data = await bench.dataset(cfg, entry);
  const baseline = await bench.baseline(cfg, entry, data);
  const tok = entry.tokenizer;
  const model = new LlamaModel(entry.base, cfg.method, new Rng(cfg.seed).fork("adapter-init"));
  let peakBytes = tf.memory().numBytes;
  try {
    const encodeOpts = { template: cfg.eval.template, maxLen: cfg.eval.maxLen };
    const { examples } = encodeExamples(tok, data.train, encodeOpts);
    const probe = collate(encodeExamples(tok, data.train.slice(0, 16), encodeOpts).examples, { padId: tok.padId });
    const history: CellRow["history"] = [];
    const routed = cfg.trackRouting && cfg.method.method !== "lora";
    // Convergence curve: step 0 now, then every `every` updates and after the last (in onStep, outside trainMs).
    const every = cfg.eval.curve?.every ?? 0;
    const valRecords = every > 0 ? curveRecords(cfg.eval.curve!.limitPerTask, entry) : [];
    const curve: CurvePoint[] = [];
    let curveMs = 0;
    const logCurve = async (step: number) => {
      const t0 = performance.now();
      const p = await curvePoint(model, tok, valRecords, cfg.eval);
      curve.push({ step, valAccuracy: p.accuracy, valLoss: p.loss });
      curveMs += performance.now() - t0;
    };
    if (every > 0) await logCurve(0);
    const t = await train(model, {
      epoch: (e) =>
        makeBatches(examples, cfg.train.batchSize, new Rng(cfg.seed).fork(`epoch${e}`), {
          padId: tok.padId,
          padToMultipleOf: 8,
        }),
    }, {
      config: cfg.train,
      seed: cfg.seed,
      runHash: cell.hash,
      hooks: {
        onStep: async (step, total, loss) => {
          peakBytes = Math.max(peakBytes, tf.memory().numBytes);
          hooks.onStep?.(step, total, loss);
          if (every > 0 && (step % every === 0 || step === total)) await logCurve(step);
        },
        onLog: async (s) => {
          history.push({ step: s.step, loss: s.loss, ...(routed ? await probeRouting(model, probe) : {}) });
        },
      },
    });
    const ev = await evaluateAll(model, tok, data.eval, cfg, cfg.method.method !== "lora");
    const backend = currentBackend();
    return {
      hash: cell.hash,
      study,
      label: cell.label,
      group: cell.group,
      seed: cfg.seed,
      config: cfg,
      results: ev.results,
      baseline,
      routing: ev.routing ?? null,
      history,
      ...(every > 0 ? { curve } : {}),
      cost: {
        trainableParams: model.numTrainable(),
        steps: t.steps,
        trainMs: Math.round(t.elapsedMs),
        evalMs: Math.round(ev.ms),
        tokens: t.tokens,
        tokensPerSec: Math.round(t.tokensPerSec),
        peakBytes,
        adapterFlops: adapterFlops(model, ev.routing?.sites),
        ...(every > 0 ? { curveMs: Math.round(curveMs) } : {}),
      },
      model: {
        vocabSize: model.cfg.vocabSize,
        dModel: model.cfg.dModel,
        nLayers: model.cfg.nLayers,
        nHeads: model.cfg.nHeads,
        nKvHeads: model.cfg.nKvHeads,
        dFF: model.cfg.dFF,
      },
      base: { hash: entry.hash, pretrainMs: Math.round(entry.pretrainMs), reused: entry.reused },
      env: {
        backend: backend?.name ?? tf.getBackend(),
        backendDetail: backend?.detail ?? "",
        tfjs: tf.version.tfjs,
        deno: Deno.version.deno,
      },
      finishedAt: new Date().toISOString(),
    };
  } finally {
    model.dispose();
  }
}
