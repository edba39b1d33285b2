/**
 * `deno task bench`: the MoE-LoRA hot path, measured.
 *
 *   1. layer: forward+backward ms and peak tensor MiB of one MoE-LoRA layer per method over a shape grid,
 *      on each available backend; tokens/s of full training steps of the embedded-default model; a soak
 *      checking that memory stays flat over many steps;
 *   2. ratios: each method over plain LoRA at equal total rank, sparse over dense routing;
 *   3. the PyTorch reference (bench/torch_reference.py) on the same layers: tfjs/torch ratios.
 * Results go to results/bench/ (tables, charts, manifest.json); the console gets a summary and verdicts.
 */
import * as tf from "@tensorflow/tfjs";
import { loadBlas } from "../src/backend/blas_ffi.ts";
import { BACKEND_NAMES, type BackendName, describeBackend, initBackend } from "../src/backend/backend.ts";
import { type CommandSpec, parseCommand, runMain, validateFlags } from "../src/cli/cli.ts";
import { z } from "../src/config.ts";
import { environment } from "../src/experiment/manifest.ts";
import { LAYER_METHODS, type LayerCase, type LayerMethod } from "./layer.ts";
import { type LayerRow, measureLayers } from "./measure.ts";
import { type BenchResults, writeResults } from "./output.ts";
import { summaryLines } from "./summary.ts";
import {
  type BackendPlan,
  caseKey,
  expandCases,
  expandShapes,
  overrideShapes,
  type Preset,
  PRESETS,
  type ShapeAxes,
  sparsityCases,
} from "./presets.ts";
import {
  benchSteps,
  sgemmPeak,
  soak,
  STEP_METHOD_NAMES,
  STEP_VARIANTS,
  type StepModel,
  type StepResult,
  type StepShape,
} from "./step.ts";
import { benchLoad } from "./load.ts";
import { finishTorch, startTorch, torchGroup, type TorchSession, torchStepRounds } from "./reference.ts";

const spec: CommandSpec = {
  name: "deno task bench",
  summary: "MoE-LoRA layer and training-step benchmarks per method and backend, against a PyTorch reference",
  flags: {
    preset: {
      type: "string",
      description: "what to measure: quick (CI, seconds), default (≲10 min on 2 cores), full (the whole grid)",
      choices: Object.keys(PRESETS),
      default: "default",
      value: "<name>",
    },
    backends: { type: "string", description: `comma-separated subset of ${BACKEND_NAMES.join(",")}`, value: "<list>" },
    methods: { type: "string", description: `layer methods: ${LAYER_METHODS.join(",")}`, value: "<list>" },
    tokens: { type: "string", description: "tokens per layer step, e.g. 256,1024,4096", value: "<n,…>" },
    d: { type: "string", description: "model width (d_in = d_out), e.g. 256,1024,4096", value: "<n,…>" },
    experts: { type: "string", description: "experts per layer, e.g. 4,8,16", value: "<n,…>" },
    rank: { type: "string", description: "rank per expert (LoRA gets experts × rank), e.g. 8,16", value: "<n,…>" },
    topk: {
      type: "string",
      description: "experts per token for topk (DynMoLE's top-k floor), e.g. 1,2",
      value: "<n,…>",
    },
    reps: { type: "string", description: "minimum timed repetitions per case (after warm-up)", value: "<n>" },
    "min-ms": { type: "string", description: "keep repeating until each case has run this long", value: "<ms>" },
    "step-methods": {
      type: "string",
      description:
        `training-step methods (${
          STEP_METHOD_NAMES.join(",")
        }; a ':js' suffix, e.g. lora:js, runs one with the native kernels off, ':unfused' with the fused routing, ` +
        `shared saves and one-call AdamW off, in the same rounds); 'none' skips the step bench`,
      value: "<list>",
    },
    "real-vocab": {
      type: "string",
      description: "training-step methods at the real-format shape (vocabulary 32,001); 'none' skips it",
      value: "<list>",
    },
    soak: { type: "string", description: "training steps of the memory soak (0 skips it)", value: "<n>" },
    "no-load": { type: "boolean", description: "skip the checkpoint-loading memory case" },
    torch: { type: "boolean", description: "run the PyTorch reference (default: per preset, when torch imports)" },
    "no-torch": { type: "boolean", description: "skip the PyTorch reference" },
    "torch-device": {
      type: "string",
      description: "reference devices: cpu, or auto (CPU, plus CUDA for webgpu when available)",
      choices: ["cpu", "auto"],
      default: "auto",
      value: "<dev>",
    },
    out: { type: "string", description: "output directory", default: "results/bench", value: "<dir>" },
  },
  notes: [
    "Shape flags replace the preset's shapes by the product of the given values (axes not given keep the " +
    "preset's: all values for full, the centre value otherwise). LoRA always runs at rank experts × rank " +
    "(equal total rank). 'soft' is top-k with k = N (dense routing); 'mola' equals topk at layer level.",
    "Timings: median and interquartile range over repetitions after warm-up; methods of one shape run in " +
    "interleaved rounds, so background load hits them alike. Peak MiB is tfjs's live-tensor high-water " +
    "mark (host memory on cpu/blas/wasm, GPU buffers on webgpu).",
    "PyTorch: /usr/bin/python3 with Debian's python3-torch (apt-get install python3-torch; CPU only); set " +
    "MOLE_TORCH_PYTHON to an interpreter with a CUDA build of torch to compare webgpu with CUDA. Without " +
    "torch the reference is skipped with a note.",
  ],
  examples: [
    "deno task bench",
    "deno task bench --preset quick --out /tmp/bench",
    "deno task bench --backends blas --methods lora,topk --tokens 1024,4096 --d 1024 --no-torch --soak 0",
    "deno task bench --backends blas --methods lora --d 256 --step-methods lora,lora:js,topk,topk:js --no-load",
    "deno task bench --preset full --backends webgpu",
  ],
};

/** "a,b,c" → [a, b, c]; a bad item is one issue naming it (so the error is one line on the flag). */
const list = <T>(parse: (item: string) => T | string) =>
  z.string().transform((s, ctx) => {
    const out: T[] = [];
    for (const item of s.split(",").map((v) => v.trim())) {
      const v = parse(item);
      if (typeof v === "string") {
        ctx.addIssue({ code: "custom", message: v });
        return z.NEVER;
      }
      out.push(v);
    }
    return out;
  });

const intList = (what: string) =>
  list((item) => {
    const n = Number(item);
    return Number.isInteger(n) && n > 0 ? n : `${what} must be positive integers, got '${item}'`;
  });

const listOf = <T extends string>(allowed: readonly T[], what: string) =>
  list<{ v: T }>((item) =>
    (allowed as readonly string[]).includes(item)
      ? { v: item as T }
      : `unknown ${what} '${item}'; allowed: ${allowed.join(",")}`
  ).transform((xs) => xs.map((x) => x.v));

const Flags = z.object({
  preset: z.string().default("default"),
  backends: listOf(BACKEND_NAMES, "backend").optional(),
  methods: listOf(LAYER_METHODS, "method").optional(),
  tokens: intList("tokens").optional(),
  d: intList("d").optional(),
  experts: intList("experts").optional(),
  rank: intList("rank").optional(),
  topk: intList("topk").optional(),
  reps: z.coerce.number().int("must be an integer").min(1, "must be ≥ 1").optional(),
  "min-ms": z.coerce.number().min(0, "must be ≥ 0").optional(),
  "step-methods": listOf(
    [
      ...STEP_METHOD_NAMES,
      ...Object.keys(STEP_VARIANTS).flatMap((v) => STEP_METHOD_NAMES.map((m) => `${m}:${v}`)),
      "none",
    ],
    "step method",
  )
    .transform((xs) => xs.filter((x) => x !== "none"))
    .optional(),
  "real-vocab": listOf([...STEP_METHOD_NAMES, "none"], "step method").transform((xs) => xs.filter((x) => x !== "none"))
    .optional(),
  soak: z.coerce.number().int("must be an integer").min(0, "must be ≥ 0").optional(),
  "no-load": z.boolean().optional(),
  torch: z.boolean().optional(),
  "no-torch": z.boolean().optional(),
  "torch-device": z.enum(["cpu", "auto"]).default("auto"),
  out: z.string().default("results/bench"),
}).refine((f) => !(f.torch && f["no-torch"]), { message: "--torch and --no-torch contradict each other" });
type Flags = z.output<typeof Flags>;

/** The preset with the flags applied. */
export function resolvePlan(flags: Flags): Preset {
  const preset = PRESETS[flags.preset];
  const given: Partial<ShapeAxes> = {
    tokens: flags.tokens,
    d: flags.d,
    experts: flags.experts,
    rank: flags.rank,
    topk: flags.topk,
  };
  const fromPreset = new Map(preset.backends.map((b) => [b.backend, b]));
  const smallest = preset.backends.at(-1)!;
  const names = flags.backends ?? preset.backends.map((b) => b.backend);
  const backends: BackendPlan[] = names.map((name) => {
    const b = fromPreset.get(name) ?? { ...smallest, backend: name }; // a backend the preset lacks: small shapes
    return {
      ...b,
      shapes: overrideShapes(b.shapes, given),
      methods: flags.methods ?? b.methods,
      stepMethods: flags["step-methods"] ?? b.stepMethods,
    };
  });
  const timing = {
    ...preset.timing,
    ...(flags.reps !== undefined ? { minReps: flags.reps, maxReps: Math.max(flags.reps, preset.timing.maxReps) } : {}),
    ...(flags["min-ms"] !== undefined ? { minMs: flags["min-ms"] } : {}),
  };
  const shapeFlags = Object.values(given).some((v) => v !== undefined) || flags.methods !== undefined;
  return {
    ...preset,
    timing,
    backends,
    sparsity: shapeFlags ? null : preset.sparsity,
    realVocab: { ...preset.realVocab, methods: flags["real-vocab"] ?? preset.realVocab.methods },
    soak: { ...preset.soak, steps: flags.soak ?? preset.soak.steps },
    load: flags["no-load"] ? null : preset.load,
    torch: flags["no-torch"] ? false : flags.torch ?? preset.torch,
  };
}

/** The layer cases of one backend plan (plus the sparsity sweep on the first backend). */
export function backendCases(plan: Preset, b: BackendPlan, first: boolean): LayerCase[] {
  const cases = expandCases(expandShapes(b.shapes), b.methods);
  if (!first || !plan.sparsity) return cases;
  const have = new Set(cases.map(caseKey));
  return [...cases, ...sparsityCases(plan.sparsity).filter((c) => !have.has(caseKey(c)))];
}

function log(msg: string): void {
  console.log(`[bench] ${msg}`);
}

async function runBackends(plan: Preset, results: BenchResults, torch: TorchSession | null): Promise<void> {
  for (const b of plan.backends) {
    let detail: string;
    try {
      detail = describeBackend(await initBackend(b.backend));
    } catch (e) {
      results.skipped.push({ name: b.backend, why: (e as Error).message });
      log(`skip ${b.backend}: ${(e as Error).message}`);
      continue;
    }
    log(detail);
    results.backends.push({ name: b.backend, detail });
    results.centers[b.backend] = b.shapes.center;
    const cases = backendCases(plan, b, results.backends.length === 1);
    if (plan.sparsity && results.sparsity.length === 0) results.sparsity = sparsityCases(plan.sparsity);
    const t0 = performance.now();
    const rows: LayerRow[] = await measureLayers(b.backend, cases, plan.timing, async (done, total, got) => {
      const g = got[0];
      const ms = got.map((r) => `${r.method}${r.topk ? `@${r.topk}` : ""} ${r.timing.median.toFixed(1)}`).join(", ");
      log(`${b.backend} layer ${done}/${total}: T${g.tokens} d${g.d} N${g.experts} r${g.rank} — ${ms} ms`);
      if (torch) await torchGroup(torch, got, results.sparsity, plan);
    });
    results.layer.push(...rows);
    log(`${b.backend} layer bench: ${cases.length} cases in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const models: [StepModel, string[], StepShape][] = [["embedded", b.stepMethods, plan.step.shape]];
    if (!results.steps.some((x) => x.model === "real-vocab")) {
      models.push(["real-vocab", plan.realVocab.methods, plan.realVocab.shape]); // first backend only
    }
    for (const [model, methods, shape] of models) {
      if (!methods.length) continue;
      if (results.sgemmPeakGflops === null) {
        results.sgemmPeakGflops = await sgemmPeak();
        if (results.sgemmPeakGflops) log(`cblas_sgemm peak at 1024³: ${results.sgemmPeakGflops.toFixed(1)} GFLOP/s`);
      }
      const s0 = performance.now();
      const step = { ...plan.step, shape };
      const native = methods.filter((m) => !m.includes(":")); // torch has no ':js' or ':unfused' variant
      const ref = torch && b.backend !== "webgpu" && native.length ? torchStepRounds(torch, native, step, model) : null;
      const steps: StepResult[] = await benchSteps(methods, shape, step, ref?.afterRound, model);
      ref?.attach(steps);
      results.steps.push({ backend: b.backend, model, shape, results: steps });
      log(
        `${b.backend} ${model} step bench: ${steps.length} methods in ${
          ((performance.now() - s0) / 1000).toFixed(0)
        } s`,
      );
    }
  }
}

async function runSoak(plan: Preset, results: BenchResults): Promise<void> {
  const backend = results.backends[0]?.name as BackendName | undefined;
  if (!backend || plan.soak.steps === 0) return;
  await initBackend(backend);
  log(`soak: ${plan.soak.steps} training steps of ${plan.soak.method} on ${backend}…`);
  const s = await soak(plan.soak.method, plan.soak.shape, plan.soak.steps, plan.soak.every);
  results.soak = {
    backend,
    method: plan.soak.method,
    shape: plan.soak.shape,
    samples: s.samples,
    msPerStep: s.msPerStep,
  };
}

/** Host memory of checkpoint loading: on blas where it runs (else cpu), whatever backends the layers ran on. */
async function runLoad(plan: Preset, results: BenchResults): Promise<void> {
  if (!plan.load || results.backends.length === 0) return;
  const backend: BackendName = loadBlas() ? "blas" : "cpu";
  log(
    `load: peak memory of loading a BF16 checkpoint (${plan.load.shape.nLayers} layers, d ${plan.load.shape.dModel}, ${backend})…`,
  );
  try {
    results.load = await benchLoad(plan.load.shape, backend, plan.load.shardBytes);
    if (!results.load.length) log("load: skipped (peak RSS is read from /proc, Linux only)");
  } catch (e) {
    log(`load: skipped (${(e as Error).message.split("\n")[0]})`); // the rest of the run's results still get written
  }
}

async function main(): Promise<void> {
  const parsed = parseCommand(spec, Deno.args);
  if (!parsed) return;
  const flags = validateFlags(Flags, parsed.flags);
  const plan = resolvePlan(flags);
  const t0 = performance.now();
  const results: BenchResults = {
    preset: plan.name,
    backends: [],
    skipped: [],
    layer: [],
    centers: {},
    sparsity: [],
    torchCpu: null,
    torchCuda: null,
    torchNote: null,
    steps: [],
    sgemmPeakGflops: null,
    soak: null,
    load: [],
    wallS: 0,
  };
  log(`preset ${plan.name}: ${plan.summary}`);
  const torch = await startTorch(plan, results, flags["torch-device"]);
  try {
    await runBackends(plan, results, torch);
  } catch (e) {
    await torch?.cpu.close();
    await torch?.cuda?.close();
    throw e;
  }
  await finishTorch(torch, results);
  await runSoak(plan, results);
  await runLoad(plan, results);
  results.wallS = (performance.now() - t0) / 1000;
  const methods: LayerMethod[] = [...new Set(results.layer.map((r) => r.method))];
  const files = await writeResults(flags.out, results, {
    kind: "bench",
    preset: plan.name,
    plan: {
      timing: plan.timing,
      backends: plan.backends,
      sparsity: plan.sparsity,
      step: plan.step,
      soak: plan.soak,
      load: plan.load,
    },
    methods,
    backends: results.backends,
    skipped: results.skipped,
    torch: results.torchCpu
      ? {
        version: results.torchCpu.version,
        cpu: results.torchCpu.deviceInfo,
        cuda: results.torchCuda?.deviceInfo ?? null,
      }
      : { note: results.torchNote },
    wallSeconds: Number(results.wallS.toFixed(1)),
    environment: await environment(),
    tfjsBackendAtEnd: tf.getBackend(),
  });
  for (const line of summaryLines(results)) console.log(line);
  console.log(`\nwrote ${files.length} files to ${flags.out}/ in ${results.wallS.toFixed(0)} s`);
}

if (import.meta.main) await runMain(main);
