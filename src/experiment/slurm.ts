/**
 * Run a study on a Slurm cluster (`deno task experiment <study> --slurm`): write two batch scripts under
 * `<out>/<study>/slurm/` and submit them with `sbatch`:
 *
 *   prepare.sbatch  pretrain (or load) the grid's base models into the shared cache, once, so the shards do
 *                 not all pretrain the same base at the same time;
 *   array.sbatch  after it (`--dependency=afterok`), a job array, one task per shard, each running this study with `--shard <task id>/<n>`;
 *                 cells append to the shared cells.jsonl by config hash, so shards merge and a resubmitted
 *                 task resumes (the shard count is written into the script, not read from
 *                 SLURM_ARRAY_TASK_COUNT, so `sbatch --array=2 array.sbatch` reruns shard 2 alone);
 *   merge.sbatch  after every task succeeded (`--dependency=afterok`), rebuild tables, charts and the
 *                 manifest (`--report`), then REPORT.md (`deno task report`).
 *
 * Jobs run the same Deno binary in the repository root with the submitter's MOLE_* settings (the base-model
 * cache must be on a file system every node sees). The scripts are plain files: read them, edit them,
 * resubmit them.
 */
import { dirname, join } from "node:path";
import { MoleError } from "../errors.ts";
import { atomicWrite, atomicWriteJson } from "../util/fs.ts";

/** sbatch is missing or refused a job. */
export class SlurmError extends MoleError {
  override name = "SlurmError";
}

export interface SlurmPlan {
  study: string;
  /** Repository root: every job runs there. */
  root: string;
  /** Absolute results root (`--out`). */
  out: string;
  shards: number;
  /** The Deno executable jobs run. */
  deno: string;
  /** `src/cli/experiment.ts` arguments every task shares (study or --cells, --quick, --seeds, --backend, …). */
  args: string[];
  /** Environment the jobs export (MOLE_CACHE_DIR, …). */
  env: Record<string, string>;
  partition?: string;
  time?: string;
  /** `src/cli/report.ts` arguments for REPORT.md, or null to skip it (an ad-hoc --cells study). */
  reportArgs: string[] | null;
}

/** Quote for bash: a word that is passed through unchanged. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** `<out>/<study>/slurm`. */
export function slurmDir(plan: Pick<SlurmPlan, "out" | "study">): string {
  return join(plan.out, plan.study, "slurm");
}

function header(plan: SlurmPlan, name: string, output: string, what: string): string[] {
  const opt = (k: string, v: string | undefined) => (v ? [`#SBATCH --${k}=${v}`] : []);
  return [
    "#!/bin/bash",
    `# ${what}`,
    `# Written by \`deno task experiment --slurm\` (src/experiment/slurm.ts).`,
    `#SBATCH --job-name=${name}`,
    `#SBATCH --output=${join(slurmDir(plan), output)}`,
    `#SBATCH --chdir=${plan.root}`,
    ...opt("partition", plan.partition),
    ...opt("time", plan.time),
    "set -euo pipefail",
    ...Object.entries(plan.env).sort().map(([k, v]) => `export ${k}=${shq(v)}`),
    `export PATH=${shq(dirname(plan.deno))}:"$PATH"`,
    `cd ${shq(plan.root)}`,
  ];
}

const run = (plan: SlurmPlan, cli: string, args: string[]) =>
  [shq(plan.deno), "run", "-A", "--frozen", cli, ...args.map(shq)].join(" ");

/** The job array's script: task i runs shard i of n. */
export function arrayScript(plan: SlurmPlan): string {
  return [
    ...header(plan, `mole-${plan.study}`, "shard-%a.out", `${plan.study}: one array task per shard (${plan.shards}).`),
    `exec ${run(plan, "src/cli/experiment.ts", plan.args)} --shard "$SLURM_ARRAY_TASK_ID/${plan.shards}"`,
    "",
  ].join("\n");
}

/** The prepare job's script: the grid's base models into the cache. */
export function prepareScript(plan: SlurmPlan): string {
  return [
    ...header(plan, `mole-${plan.study}-prepare`, "prepare.out", `${plan.study}: the base models, into the cache.`),
    `${run(plan, "src/cli/experiment.ts", plan.args)} --prepare`,
    "",
  ].join("\n");
}

/** The merge job's script: tables, charts and manifest from every shard's rows, then REPORT.md. */
export function mergeScript(plan: SlurmPlan): string {
  return [
    ...header(plan, `mole-${plan.study}-merge`, "merge.out", `${plan.study}: merge the shards' results.`),
    `${run(plan, "src/cli/experiment.ts", plan.args)} --report`,
    ...(plan.reportArgs ? [run(plan, "src/cli/report.ts", plan.reportArgs)] : []),
    "",
  ].join("\n");
}

/** Runs a command, returning its exit code and output (injectable for tests). */
export type Exec = (cmd: string, args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

export const exec: Exec = async (cmd, args) => {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new SlurmError(
        `${cmd} not found: --slurm needs Slurm's client commands on PATH (Debian: apt install slurm-client)`,
      );
    }
    throw e;
  }
};

/** `sbatch --parsable …` → the job id (`123` or `123;cluster`). */
async function sbatch(args: string[], ex: Exec): Promise<string> {
  const r = await ex("sbatch", ["--parsable", ...args]);
  const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
  if (r.code !== 0 || !id) {
    const why = (r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`).split("\n")[0];
    throw new SlurmError(
      `sbatch ${args.at(-1)} failed: ${why}; check the partition and time limit (--partition, --time)`,
    );
  }
  return id;
}

export interface Submitted {
  prepare: string;
  array: string;
  merge: string;
  dir: string;
}

/** Write the scripts (atomically), submit prepare → array → merge, each after the last; record the ids. */
export async function submitSlurm(plan: SlurmPlan, ex: Exec = exec): Promise<Submitted> {
  const dir = slurmDir(plan);
  const paths = {
    prepare: join(dir, "prepare.sbatch"),
    array: join(dir, "array.sbatch"),
    merge: join(dir, "merge.sbatch"),
  };
  const scripts = { prepare: prepareScript(plan), array: arrayScript(plan), merge: mergeScript(plan) };
  for (const k of ["prepare", "array", "merge"] as const) {
    await atomicWrite(paths[k], scripts[k]);
    await Deno.chmod(paths[k], 0o755);
  }
  const after = (id: string) => [`--dependency=afterok:${id}`, "--kill-on-invalid-dep=yes"];
  const prepare = await sbatch([paths.prepare], ex);
  const array = await sbatch([...after(prepare), `--array=0-${plan.shards - 1}`, paths.array], ex);
  const merge = await sbatch([...after(array), paths.merge], ex);
  const ids = { prepare, array, merge };
  await atomicWriteJson(join(dir, "jobs.json"), { ...ids, shards: plan.shards, submitted: new Date().toISOString() });
  return { ...ids, dir };
}

/** What to tell the user after submitting. */
export function submittedMessage(plan: SlurmPlan, s: Submitted): string[] {
  return [
    `slurm: submitted prepare job ${s.prepare} (base models), array job ${s.array} (${plan.shards} tasks, one per ` +
    `shard) and merge job ${s.merge} (tables, charts, report), each after the last succeeds`,
    `  watch:   squeue -j ${s.prepare},${s.array},${s.merge}`,
    `  logs:    ${s.dir}/{prepare,shard-<i>,merge}.out`,
    `  results: ${join(plan.out, plan.study)}/ (a failed shard: fix, then \`sbatch --array=<i> ${
      join(s.dir, "array.sbatch")
    }\` and \`sbatch ${join(s.dir, "merge.sbatch")}\`; finished cells are kept)`,
    `  cancel:  scancel ${s.prepare} ${s.array} ${s.merge}`,
  ];
}
