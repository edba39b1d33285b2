/**
 * Every study runs end to end on the --quick preset (CI's run): cells, tables, charts and manifest appear;
 * a rerun skips finished cells; a torn last line (a killed writer) reruns just that cell; shards merge.
 */
import { join } from "node:path";
import { initBackend } from "../src/backend/backend.ts";
import { CELLS_FILE, readRows, runStudy } from "../src/experiment/runner.ts";
import type { Progress } from "../src/experiment/progress.ts";
import { loadStudies, writeReport } from "../src/report/report.ts";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { STUDIES } from "./registry.ts";

await initBackend("auto");
const cache = await Deno.makeTempDir({ prefix: "mole-cache-" });
Deno.env.set("MOLE_CACHE_DIR", cache);
globalThis.addEventListener("unload", () => Deno.removeSync(cache, { recursive: true }));
const quiet: Progress = { log: () => {}, status: () => {}, done: () => {} };
const QUICK = { quick: true, seeds: [0], data: null, base: null, shard: null, reportOnly: false, progress: quiet };

const files = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
/** Every file of `dir` with its bytes (as text, for a readable diff). */
const snapshot = (dir: string) =>
  Object.fromEntries(files(dir).map((f) => [f, new TextDecoder().decode(Deno.readFileSync(join(dir, f)))]));

for (const study of Object.values(STUDIES)) {
  Deno.test({
    name: `${study.name}: the --quick grid runs end to end and writes cells, tables, charts and a manifest`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const out = await Deno.makeTempDir({ prefix: `mole-${study.name}-` });
      const first = await runStudy(study, { ...QUICK, out });
      assertEquals(first.ran, first.total);
      assertEquals(first.rows, first.total);
      const dir = join(out, study.name);
      const names = files(dir);
      for (const f of ["cells.jsonl", "manifest.json", "table.csv", "table.md"]) {
        assert(names.includes(f), `${f} in ${names}`);
      }
      for (const c of study.charts(await readRows(join(dir, CELLS_FILE)))) {
        for (const ext of ["svg", "png", "vl.json"]) assert(names.includes(`${c.name}.${ext}`), `${c.name}.${ext}`);
      }
      assert(!names.some((n) => n.endsWith(".tmp")), "no temporary files left");
      const rows = await readRows(join(dir, CELLS_FILE));
      for (const r of rows) {
        assert(r.results.score !== undefined && Number.isFinite(r.results.score.average), "a score result");
        for (const res of [r.results.score, r.baseline.score]) {
          const items = res?.items;
          assert(items !== undefined && items.hash.length === 16, "per-item results for paired statistics");
          assertEquals(Object.values(items.perTask).reduce((a, t) => a + t!.n, 0), res!.n);
        }
        assertEquals(r.env.backend.length > 0, true);
        assert(r.env.commit !== undefined, "each row records the commit it was trained at");
        assert(r.cost.trainableParams > 0);
        // the quick preset's convergence curve: before training, every 2 updates, and after the last (4)
        assertEquals(r.curve?.map((p) => p.step), [0, 2, 4]);
        assert(r.curve!.every((p) => p.valAccuracy >= 0 && p.valAccuracy <= 1 && p.valLoss > 0), "curve values");
        assert(r.cost.curveMs !== undefined && r.cost.curveMs >= 0, "curve time is recorded apart from trainMs");
        if (r.routing) {
          const spec = r.routing.specialisation ?? [];
          assert(spec.length === r.model.nLayers, "routed rows record routing specialisation per layer");
          assert(spec.every((l) => l.nmi >= 0 && l.nmi <= 1 && Number.isFinite(l.null95)));
        }
      }
      const manifest = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
      for (const k of ["commit", "backend", "versions", "machine", "wallMsThisRun"]) assert(k in manifest, k);
      assertEquals(manifest.runs.length, 1);
      assertEquals(manifest.runs[0].cellsRun, first.total);
      const before = snapshot(dir);
      const again = await runStudy(study, { ...QUICK, out });
      assertEquals([again.ran, again.skipped], [0, first.total], "a rerun skips every finished cell");
      const rebuilt = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
      assertEquals(rebuilt.runs, manifest.runs, "a run that trains nothing keeps the run history (commit, wall time)");
      const after = snapshot(dir);
      const changed = Object.keys({ ...before, ...after }).filter((f) => before[f] !== after[f]);
      assertEquals(changed, [], "a run that trains nothing leaves every output byte for byte (clean git)");
      await Deno.remove(out, { recursive: true });
    },
  });
}

Deno.test({
  name: "an interrupted write is resumed: a torn last line reruns only that cell; two shards merge to the full grid",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const study = STUDIES["moa-sparsity"];
    const out = await Deno.makeTempDir({ prefix: "mole-resume-" });
    const full = await runStudy(study, { ...QUICK, out });
    const path = join(out, study.name, CELLS_FILE);
    const text = await Deno.readTextFile(path);
    const lines = text.trimEnd().split("\n");
    await Deno.writeTextFile(path, lines.slice(0, -1).join("\n") + "\n" + lines.at(-1)!.slice(0, 40)); // killed mid-line
    const resumed = await runStudy(study, { ...QUICK, out });
    assertEquals(resumed.ran, 1, "only the torn cell reruns");
    assertEquals(resumed.rows, full.total);

    const sharded = await Deno.makeTempDir({ prefix: "mole-shards-" });
    const a = await runStudy(study, { ...QUICK, out: sharded, shard: { index: 0, count: 2 } });
    const b = await runStudy(study, { ...QUICK, out: sharded, shard: { index: 1, count: 2 } });
    assertEquals(a.ran + b.ran, full.total);
    const merged = (await readRows(join(sharded, study.name, CELLS_FILE))).map((r) => r.hash).sort();
    const local = (await readRows(path)).map((r) => r.hash);
    assertEquals(merged, [...new Set(local)].sort());

    const reportPath = await writeReport(await loadStudies([study], out, QUICK), out, "test");
    const report = await Deno.readTextFile(reportPath);
    assert(
      report.includes("Sparse MoA") && report.includes("verdict (95 % CI)"),
      "the report has the table and claims",
    );
    assert(report.includes("Each configuration − Soft MoA"), "the report has the contrast table");
    assert(!report.includes("not tested: rows lack"), "fresh rows carry per-item results");
    for (const d of [out, sharded]) await Deno.remove(d, { recursive: true });
  },
});

Deno.test("the experiment CLI: --help exits 0; an unknown study or bad flag is one line, exit 2", async () => {
  const run = async (...args: string[]) => {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--frozen", "src/cli/experiment.ts", ...args],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    return { code: o.code, out: new TextDecoder().decode(o.stdout), err: new TextDecoder().decode(o.stderr).trim() };
  };
  const help = await run("--help");
  assertEquals(help.code, 0);
  assert(help.out.includes("usage: deno task experiment [study]"));
  const bad = await run("kompare");
  assertEquals([bad.code, bad.err], [
    2,
    "error: unknown study 'kompare'; allowed: compare|adamole-threshold|dynmole-q|moa-sparsity",
  ]);
  const flag = await run("--seeds", "zero");
  assertEquals(flag.code, 2);
  assertEquals(flag.err.split("\n").length, 1);
  assert(flag.err.startsWith("error: --seeds:"), flag.err);
  const backend = await run("--backend", "cuda");
  assertEquals([backend.code, backend.err], [
    2,
    "error: --backend: unknown value 'cuda'; allowed: cpu|wasm|blas|webgpu|tensorflow|auto",
  ]);
  const shard = await run("--shard", "3/2", "--list");
  assertEquals(shard.code, 0, "--list ignores the shard");
});

Deno.test({
  name: "tables keep every finished seed: a run asking for fewer seeds than are on disk rebuilds the same outputs",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const study = STUDIES["moa-sparsity"];
    const out = await Deno.makeTempDir({ prefix: "mole-seeds-" });
    const two = await runStudy(study, { ...QUICK, seeds: [0, 1], out });
    assertEquals(two.rows, two.total);
    const dir = join(out, study.name);
    const before = snapshot(dir);
    const one = await runStudy(study, { ...QUICK, seeds: [0], out });
    assertEquals([one.ran, one.total, one.rows], [0, two.total / 2, two.total], "both seeds' rows stay in");
    const after = snapshot(dir);
    const changed = Object.keys(before).filter((f) => before[f] !== after[f]);
    assertEquals(changed, [], "tables, charts and manifest are those of both seeds");
    const [loaded] = await loadStudies([study], out, { ...QUICK, seeds: [0] });
    assertEquals(new Set(loaded.rows.map((r) => r.seed)), new Set([0, 1]));
    await Deno.remove(out, { recursive: true });
  },
});
