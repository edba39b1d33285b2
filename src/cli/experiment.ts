/**
 * `deno task experiment [study] [flags]` — run a study (default: compare) on the embedded suite, or on real
 * data with --data/--base; results, tables and charts go to results/<study>/. `--cells <file.json>` runs an
 * ad-hoc grid instead; `--slurm` submits the study as a Slurm job array (src/experiment/slurm.ts).
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BACKEND_FLAG, type CommandSpec, parseCommand, runMain, validateFlags } from "./cli.ts";
import { BACKEND_ENV, describeBackend, initBackend, parseBackendChoice } from "../backend/backend.ts";
import { z } from "../config.ts";
import { UsageError } from "../errors.ts";
import { createProgress } from "../experiment/progress.ts";
import { parseShard, prepareBases, resolveGrid, runStudy } from "../experiment/runner.ts";
import { slurmDir, type SlurmPlan, submitSlurm, submittedMessage } from "../experiment/slurm.ts";
import type { Study, StudyOptions } from "../experiment/study.ts";
import { cacheRoot } from "../train/base_recipe.ts";
import { checkFaults } from "../util/fault.ts";
import { atomicWrite, explainWriteError } from "../util/fs.ts";
import { loadCellsStudy } from "../../experiments/cells_file.ts";
import { STUDIES, STUDY_NAMES } from "../../experiments/registry.ts";

const spec: CommandSpec = {
  name: "deno task experiment",
  summary: "run a reproducible study and write its cells, tables, charts and manifest under results/<study>/",
  positionals: [{ name: "study", description: `one of ${STUDY_NAMES.join(", ")} (default: compare)`, optional: true }],
  flags: {
    backend: BACKEND_FLAG,
    quick: { type: "boolean", description: "the tiny preset CI runs (small base, few steps, all cells)" },
    seeds: {
      type: "string",
      description: "run seeds 0, 1, …, n−1 (tables use every finished seed of the grid's configurations)",
      default: "5",
      value: "<n>",
    },
    shard: { type: "string", description: "run only shard i of n (cells with grid index ≡ i mod n)", value: "<i/n>" },
    data: {
      type: "string",
      description: "LLM-Adapters data directory (commonsense_170k.json, <task>/test.json)",
      value: "<dir>",
    },
    base: {
      type: "string",
      description: "Hugging Face Llama checkpoint directory (config.json, *.safetensors, tokenizer.json)",
      value: "<dir>",
    },
    "limit-train": {
      type: "string",
      description: "at most n training records per task (any study; --quick with --data uses 64)",
      value: "<n>",
    },
    "limit-test": {
      type: "string",
      description: "at most n test records per task (any study; --quick with --data uses 12)",
      value: "<n>",
    },
    out: { type: "string", description: "results root", default: "results", value: "<dir>" },
    report: { type: "boolean", description: "only rebuild tables, charts and manifest from existing cells" },
    list: { type: "boolean", description: "list the studies and their cells, then exit" },
    cells: {
      type: "string",
      description: "run an ad-hoc grid from a JSON file instead of a study (see experiments/cells_file.ts)",
      value: "<file.json>",
    },
    prepare: {
      type: "boolean",
      description: "only pretrain (or load) the grid's base models into the cache, then exit",
    },
    "keep-going": { type: "boolean", description: "run the other cells when one fails; exit 1 at the end" },
    slurm: {
      type: "boolean",
      description: "submit as a Slurm job array (one task per shard) plus a merge job that builds the report",
    },
    shards: { type: "string", description: "with --slurm: number of array tasks", default: "4", value: "<n>" },
    partition: { type: "string", description: "with --slurm: the partition to submit to", value: "<name>" },
    time: {
      type: "string",
      description: "with --slurm: time limit per task (Slurm format, e.g. 4:00:00)",
      value: "<t>",
    },
  },
  notes: [
    "Rerunning skips cells already in cells.jsonl (matched by config hash), so an interrupted run resumes.",
    "Environment: MOLE_BACKEND (default backend), MOLE_CACHE_DIR (base-model cache, default .cache/), MOLE_BLAS_LIB.",
    "With --slurm the scripts go to <out>/<study>/slurm/; the cache (MOLE_CACHE_DIR) and --out must be on a file " +
    "system every node sees.",
  ],
  examples: [
    "deno task experiment",
    "deno task experiment adamole-threshold --seeds 8",
    "deno task experiment --quick dynmole-q",
    "deno task experiment compare --shard 0/4",
    "deno task experiment compare --slurm --shards 8 --partition gpu --time 4:00:00",
    "deno task experiment --cells my_grid.json --quick",
    "deno task experiment compare --data ~/LLM-Adapters/dataset --base ~/models/llama-3.2-1b --backend webgpu",
    "deno task experiment adamole-threshold --data ~/LLM-Adapters/dataset --base ~/models/tiny --quick   # smoke run",
    "deno task experiment compare --limit-train 100 --limit-test 50",
  ],
};

const Flags = z.object({
  backend: z.string().optional(),
  quick: z.boolean().default(false),
  seeds: z.coerce.number().int("must be a whole number").min(1, "must be ≥ 1").default(5),
  shard: z.string().optional(),
  data: z.string().optional(),
  base: z.string().optional(),
  "limit-train": z.coerce.number().int("must be a whole number").min(1, "must be ≥ 1").optional(),
  "limit-test": z.coerce.number().int("must be a whole number").min(1, "must be ≥ 1").optional(),
  out: z.string().default("results"),
  report: z.boolean().default(false),
  list: z.boolean().default(false),
  cells: z.string().optional(),
  prepare: z.boolean().default(false),
  "keep-going": z.boolean().default(false),
  slurm: z.boolean().default(false),
  shards: z.coerce.number().int("must be a whole number").min(1, "must be ≥ 1").default(4),
  partition: z.string().regex(/^[A-Za-z0-9_.,-]+$/, "a partition name (letters, digits, _ . , -)").optional(),
  time: z.string().regex(/^(\d+-)?\d+(:\d{1,2}){0,2}$/, "Slurm's format: minutes, H:MM:SS or D-HH:MM").optional(),
});
type Flags = z.output<typeof Flags>;

/** Flags that only make sense together; one line naming the pair. */
function checkCombinations(flags: Flags, raw: Record<string, unknown>, positional: string | undefined): void {
  if (flags.cells && positional) {
    throw new UsageError(`--cells runs the file's grid; drop the study name '${positional}'`);
  }
  const own = ["shard", "report", "prepare"].find((k) => raw[k] !== undefined);
  if (flags.slurm && own) {
    throw new UsageError(`--slurm submits the shards, --prepare and the merge itself; drop --${own}`);
  }
  for (const k of ["shards", "partition", "time"]) {
    if (!flags.slurm && raw[k] !== undefined) throw new UsageError(`--${k} goes with --slurm`);
  }
}

/** The repository root (jobs run `src/cli/experiment.ts` there). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The Slurm plan for this invocation: the same study, options and backend, with absolute paths. */
async function slurmPlan(study: Study, flags: Flags, opts: StudyOptions): Promise<SlurmPlan> {
  const out = resolve(flags.out);
  const plan = { study: study.name, out };
  const args: string[] = [];
  if (flags.cells) {
    // A snapshot: editing the file while the jobs wait does not change them.
    const copy = join(slurmDir(plan), "cells.json");
    await atomicWrite(copy, await Deno.readTextFile(flags.cells));
    args.push("--cells", copy);
  } else {
    args.push(study.name);
  }
  if (flags.quick) args.push("--quick");
  args.push("--seeds", String(opts.seeds.length), "--out", out);
  if (flags.backend) args.push("--backend", flags.backend);
  if (flags.data) args.push("--data", resolve(flags.data));
  if (flags.base) args.push("--base", resolve(flags.base));
  if (flags["limit-train"]) args.push("--limit-train", String(flags["limit-train"]));
  if (flags["limit-test"]) args.push("--limit-test", String(flags["limit-test"]));
  if (flags["keep-going"]) args.push("--keep-going");
  const env: Record<string, string> = { MOLE_CACHE_DIR: resolve(cacheRoot()), NO_COLOR: "1" };
  for (const k of [BACKEND_ENV, "MOLE_BLAS_LIB", "DENO_DIR"]) {
    const v = Deno.env.get(k);
    if (v) env[k] = v;
  }
  return {
    ...plan,
    root: ROOT,
    shards: flags.shards,
    deno: Deno.execPath(),
    args,
    env,
    partition: flags.partition,
    time: flags.time,
    reportArgs: flags.cells ? null : ["--out", out],
  };
}

async function main(): Promise<void> {
  const parsed = parseCommand(spec, Deno.args);
  if (!parsed) return;
  const flags = validateFlags(Flags, parsed.flags);
  checkCombinations(flags, parsed.flags, parsed.positionals[0]);
  checkFaults();
  const name = parsed.positionals[0] ?? "compare";
  const study = flags.cells ? await loadCellsStudy(flags.cells, STUDY_NAMES) : STUDIES[name];
  if (!study) throw new UsageError(`unknown study '${name}'; allowed: ${STUDY_NAMES.join("|")}`);
  if (flags.data && !flags.base) {
    throw new UsageError("--data needs --base <checkpoint>: the embedded base only knows the embedded suite");
  }
  if (flags.base && !flags.data) {
    throw new UsageError("--base needs --data <dir>: the embedded suite is tokenized for the embedded base only");
  }
  const opts = {
    quick: flags.quick,
    seeds: Array.from({ length: flags.quick ? 1 : flags.seeds }, (_, i) => i),
    data: flags.data ?? null,
    base: flags.base ?? null,
    limitTrain: flags["limit-train"] ?? null,
    limitTest: flags["limit-test"] ?? null,
  };
  if (flags.list) {
    for (const s of flags.cells ? [study] : Object.values(STUDIES)) {
      console.log(`${s.name} — ${s.title}`);
      for (const c of s.cells(opts)) console.log(`  ${c.label}`);
    }
    return;
  }
  const progress = createProgress();
  if (flags.slurm) {
    const cells = await resolveGrid(study, opts); // config errors surface here, not in every task
    const plan = await slurmPlan(study, { ...flags, shards: Math.min(flags.shards, cells.length) }, opts);
    for (const line of submittedMessage(plan, await submitSlurm(plan))) progress.log(line);
    return;
  }
  if (!flags.report) {
    const info = await initBackend(flags.backend ? parseBackendChoice(flags.backend) : undefined);
    progress.log(describeBackend(info));
  }
  if (flags.prepare) {
    const n = await prepareBases(study, opts, progress.log);
    progress.log(`${study.name}: ${n} base model(s) ready in ${cacheRoot()}`);
    return;
  }
  const summary = await runStudy(study, {
    ...opts,
    out: flags.out,
    shard: flags.shard ? parseShard(flags.shard) : null,
    reportOnly: flags.report,
    keepGoing: flags["keep-going"],
    progress,
  });
  progress.log(
    `${study.name}: ${summary.rows}/${summary.total} cells on disk (${summary.ran} run now, ${summary.skipped} reused) in ` +
      `${(summary.wallMs / 1000).toFixed(1)} s → ${summary.dir}/`,
  );
}

// A full disk or a read-only results directory: one line naming the file and the fix.
await runMain(() =>
  main().catch((e) => {
    throw explainWriteError(e, "then rerun: finished cells are kept and the run resumes");
  })
);
