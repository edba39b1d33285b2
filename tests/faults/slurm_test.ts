/**
 * `deno task experiment <study> --slurm`: the batch scripts and the submission order (prepare → array →
 * merge, each `afterok` the last), with a stand-in for sbatch; then for real, on a single-node Slurm cluster
 * started here (slurm_cluster.ts): the --quick moa-sparsity study through a 2-task job array merges to the
 * same rows, bit for bit, as a local run on the same backend, with tables, charts and REPORT.md. The real run
 * skips with its reason where there is no root or no Slurm to install (.ci/run provides both).
 */
import { join } from "node:path";
import { type Exec, mergeScript, SlurmError, type SlurmPlan, submitSlurm } from "../../src/experiment/slurm.ts";
import { assert, assertEquals, assertRejects } from "../../src/testing/asserts.ts";
import { assertComplete, assertOk, BACKEND, experiment, firstDifference, metrics, oneLineError } from "./helpers.ts";
import { jobState, queued, slurmUnavailable, startCluster, waitFor } from "./slurm_cluster.ts";
import { STUDIES } from "../../experiments/registry.ts";

const PLAN: SlurmPlan = {
  study: "compare",
  root: "/repo",
  out: "/data/results",
  shards: 3,
  deno: "/opt/deno/deno",
  args: ["compare", "--quick", "--seeds", "1", "--out", "/data/results"],
  env: { MOLE_CACHE_DIR: "/data/cache dir" },
  partition: "gpu",
  time: "1:00:00",
  reportArgs: ["--out", "/data/results"],
};

Deno.test("--slurm writes prepare/array/merge scripts and submits them in order, each after the last", async () => {
  const out = await Deno.makeTempDir({ prefix: "mole-sbatch-" });
  const plan = { ...PLAN, out, args: [...PLAN.args.slice(0, -1), out] };
  const calls: string[][] = [];
  const fake: Exec = (cmd, args) => {
    calls.push([cmd, ...args]);
    return Promise.resolve({ code: 0, stdout: `${100 + calls.length};cluster\n`, stderr: "" });
  };
  const s = await submitSlurm(plan, fake);
  const dir = join(out, "compare", "slurm");
  assertEquals([s.prepare, s.array, s.merge, s.dir], ["101", "102", "103", dir]);
  assertEquals(calls, [
    ["sbatch", "--parsable", join(dir, "prepare.sbatch")],
    [
      "sbatch",
      "--parsable",
      "--dependency=afterok:101",
      "--kill-on-invalid-dep=yes",
      "--array=0-2",
      join(dir, "array.sbatch"),
    ],
    ["sbatch", "--parsable", "--dependency=afterok:102", "--kill-on-invalid-dep=yes", join(dir, "merge.sbatch")],
  ]);
  const array = await Deno.readTextFile(join(dir, "array.sbatch"));
  for (
    const line of [
      "#!/bin/bash",
      `#SBATCH --output=${dir}/shard-%a.out`,
      "#SBATCH --chdir=/repo",
      "#SBATCH --partition=gpu",
      "#SBATCH --time=1:00:00",
      "export MOLE_CACHE_DIR='/data/cache dir'",
      `exec /opt/deno/deno run -A --frozen src/cli/experiment.ts compare --quick --seeds 1 --out ${out} ` +
      `--shard "$SLURM_ARRAY_TASK_ID/3"`,
    ]
  ) assert(array.split("\n").includes(line), `array.sbatch has: ${line}\n${array}`);
  const merge = mergeScript(plan).split("\n");
  assert(merge.some((l) => l.endsWith(`--out ${out} --report`)), merge.join("\n"));
  assert(merge.includes("/opt/deno/deno run -A --frozen src/cli/report.ts --out /data/results"));
  assertEquals(JSON.parse(await Deno.readTextFile(join(dir, "jobs.json"))).array, "102");

  const refuse: Exec = () => Promise.resolve({ code: 1, stdout: "", stderr: "sbatch: error: invalid partition\n" });
  const e = await assertRejects(() => submitSlurm(plan, refuse), SlurmError);
  assertEquals(
    e.message,
    `sbatch ${join(dir, "prepare.sbatch")} failed: sbatch: error: invalid partition; check the partition and ` +
      "time limit (--partition, --time)",
  );
  await Deno.remove(out, { recursive: true });
});

Deno.test("--slurm flags: one line, exit 2, for a bad combination or value; no sbatch is a one-line error", async () => {
  const cases: [string[], string][] = [
    [["--slurm", "--shard", "0/2"], "error: --slurm submits the shards, --prepare and the merge itself; drop --shard"],
    [["--shards", "2"], "error: --shards goes with --slurm"],
    [["--slurm", "--time", "soon"], "error: --time: Slurm's format: minutes, H:MM:SS or D-HH:MM"],
    [["--slurm", "--shards", "0"], "error: --shards: must be ≥ 1"],
  ];
  for (const [args, want] of cases) assertEquals(oneLineError(await experiment(["compare", ...args]), 2), want);
  const out = await Deno.makeTempDir({ prefix: "mole-nosbatch-" });
  const r = await experiment(["compare", "--quick", "--slurm", "--out", out], { env: { PATH: "/nonexistent" } });
  assertEquals(
    oneLineError(r, 1),
    "error: sbatch not found: --slurm needs Slurm's client commands on PATH (Debian: apt install slurm-client)",
  );
  await Deno.remove(out, { recursive: true });
});

const skip = await slurmUnavailable();

Deno.test({
  name: `a real single-node Slurm cluster runs the --quick study as a job array; merged = local, bit for bit${
    skip ? ` (skipped: ${skip})` : ""
  }`,
  ignore: skip !== null,
  fn: async () => {
    const cluster = await startCluster();
    const tmp = await Deno.makeTempDir({ prefix: "mole-slurm-run-" });
    try {
      // A cold cache: the prepare job pretrains the base once, before the shards start.
      const cache = join(tmp, "cache");
      const args = ["moa-sparsity", "--quick", "--backend", BACKEND];
      const submit = await experiment([...args, "--slurm", "--shards", "2", "--out", join(tmp, "slurm")], {
        cache,
        env: cluster.env,
      });
      assertOk(submit);
      const dir = join(tmp, "slurm", "moa-sparsity");
      const jobs = JSON.parse(await Deno.readTextFile(join(dir, "slurm", "jobs.json")));
      const ids = [jobs.prepare, jobs.array, jobs.merge] as string[];
      assert(submit.stdout.includes(`squeue -j ${ids.join(",")}`), submit.stdout);
      const done = await waitFor(async () => (await queued(ids, cluster.env)).length === 0, 300_000);
      const logs = async () => {
        const out: string[] = [];
        for (const f of ["prepare.out", "shard-0.out", "shard-1.out", "merge.out"]) {
          out.push(`--- ${f}\n${await Deno.readTextFile(join(dir, "slurm", f)).catch(() => "(none)")}`);
        }
        return out.join("\n");
      };
      assert(done, `the jobs did not finish in 5 minutes\n${await logs()}`);
      assertEquals(await jobState(jobs.merge, cluster.env), "COMPLETED", await logs());

      const local = await experiment([...args, "--out", join(tmp, "local")], { cache });
      assertOk(local);
      assert(local.stdout.includes("base model: reusing"), "the local run uses the base the prepare job made");
      const labels = STUDIES["moa-sparsity"].cells({ quick: true, seeds: [0], data: null, base: null })
        .map((c) => c.label);
      const want = await assertComplete(join(tmp, "local", "moa-sparsity"), labels);
      const got = await assertComplete(dir, labels);
      for (const row of want) {
        const twin = got.find((r) => r.hash === row.hash);
        assert(twin, `the merged results have ${row.label}`);
        assertEquals(firstDifference(metrics(row), metrics(twin)), null);
      }
      assert((await Deno.readTextFile(join(tmp, "slurm", "REPORT.md"))).includes("Sparse MoA"), "REPORT.md");
    } finally {
      await cluster.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
