/**
 * `deno task experiment [study] [flags]` — run a study (default: compare) on the embedded suite, or on real
 * data with --data/--base; results, tables and charts go to results/<study>/.
 */
import { BACKEND_FLAG, type CommandSpec, parseCommand, runMain, validateFlags } from "./cli.ts";
import { describeBackend, initBackend, parseBackendChoice } from "../backend/backend.ts";
import { z } from "../config.ts";
import { UsageError } from "../errors.ts";
import { createProgress } from "../experiment/progress.ts";
import { parseShard, runStudy } from "../experiment/runner.ts";
import { STUDIES, STUDY_NAMES } from "../../experiments/registry.ts";

const spec: CommandSpec = {
  name: "deno task experiment",
  summary: "run a reproducible study and write its cells, tables, charts and manifest under results/<study>/",
  positionals: [{ name: "study", description: `one of ${STUDY_NAMES.join(", ")} (default: compare)`, optional: true }],
  flags: {
    backend: BACKEND_FLAG,
    quick: { type: "boolean", description: "the tiny preset CI runs (small base, few steps, all cells)" },
    seeds: { type: "string", description: "number of seeds (0, 1, …, n−1)", default: "3", value: "<n>" },
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
    out: { type: "string", description: "results root", default: "results", value: "<dir>" },
    report: { type: "boolean", description: "only rebuild tables, charts and manifest from existing cells" },
    list: { type: "boolean", description: "list the studies and their cells, then exit" },
  },
  notes: [
    "Rerunning skips cells already in cells.jsonl (matched by config hash), so an interrupted run resumes.",
    "Environment: MOLE_BACKEND (default backend), MOLE_CACHE_DIR (base-model cache, default .cache/), MOLE_BLAS_LIB.",
  ],
  examples: [
    "deno task experiment",
    "deno task experiment adamole-threshold --seeds 5",
    "deno task experiment --quick dynmole-q",
    "deno task experiment compare --shard 0/4",
    "deno task experiment compare --data ~/LLM-Adapters/dataset --base ~/models/llama-3.2-1b --backend webgpu",
  ],
};

const Flags = z.object({
  backend: z.string().optional(),
  quick: z.boolean().default(false),
  seeds: z.coerce.number().int("must be a whole number").min(1, "must be ≥ 1").default(3),
  shard: z.string().optional(),
  data: z.string().optional(),
  base: z.string().optional(),
  out: z.string().default("results"),
  report: z.boolean().default(false),
  list: z.boolean().default(false),
});

await runMain(async () => {
  const parsed = parseCommand(spec, Deno.args);
  if (!parsed) return;
  const flags = validateFlags(Flags, parsed.flags);
  const name = parsed.positionals[0] ?? "compare";
  const study = STUDIES[name];
  if (!study) throw new UsageError(`unknown study '${name}'; allowed: ${STUDY_NAMES.join("|")}`);
  if (flags.data && !flags.base) {
    throw new UsageError("--data needs --base <checkpoint>: the embedded base only knows the embedded suite");
  }
  const opts = {
    quick: flags.quick,
    seeds: Array.from({ length: flags.quick ? 1 : flags.seeds }, (_, i) => i),
    data: flags.data ?? null,
    base: flags.base ?? null,
  };
  if (flags.list) {
    for (const s of Object.values(STUDIES)) {
      console.log(`${s.name} — ${s.title}`);
      for (const c of s.cells(opts)) console.log(`  ${c.label}`);
    }
    return;
  }
  const progress = createProgress();
  if (!flags.report) {
    const info = await initBackend(flags.backend ? parseBackendChoice(flags.backend) : undefined);
    progress.log(describeBackend(info));
  }
  const summary = await runStudy(study, {
    ...opts,
    out: flags.out,
    shard: flags.shard ? parseShard(flags.shard) : null,
    reportOnly: flags.report,
    progress,
  });
  progress.log(
    `${study.name}: ${summary.rows}/${summary.total} cells on disk (${summary.ran} run now, ${summary.skipped} reused) in ` +
      `${(summary.wallMs / 1000).toFixed(1)} s → ${summary.dir}/`,
  );
});
