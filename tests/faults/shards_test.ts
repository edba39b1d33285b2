/**
 * Shards writing one cells.jsonl at once: appenders racing a repair (a resumed shard dropping a torn line
 * while another appends) lose and interleave nothing; two shards of a study run concurrently merge to
 * exactly the grid, with the same metrics, bit for bit, as one process running it all.
 * (Two plain appenders: src/util/fs_test.ts.)
 */
import { join } from "node:path";
import { assert, assertEquals } from "../../src/testing/asserts.ts";
import {
  assertComplete,
  assertOk,
  BACKEND,
  experiment,
  firstDifference,
  GRID3,
  gridFile,
  metrics,
  warmCache,
} from "./helpers.ts";

const FS = new URL("../../src/util/fs.ts", import.meta.url).href;

Deno.test("two appenders and a concurrent repair of the same file: no line lost, none interleaved", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mole-race-" });
  const path = join(dir, "cells.jsonl");
  await Deno.writeTextFile(path, '{"who":"old","i":0}\n{"torn":'); // a fragment a killed shard left
  const script = join(dir, "worker.ts");
  await Deno.writeTextFile(
    script,
    `import { appendLine, rewriteLocked } from ${JSON.stringify(FS)};
const [path, who] = Deno.args;
const parses = (l: string) => { try { JSON.parse(l); return true; } catch { return false; } };
if (who === "repair") {
  for (let i = 0; i < 150; i++) {
    await rewriteLocked(path, (t) => t.split("\\n").filter((l) => l && parses(l)).map((l) => l + "\\n").join(""));
  }
} else {
  for (let i = 0; i < 300; i++) await appendLine(path, JSON.stringify({ who, i, pad: "x".repeat(3000) }));
}`,
  );
  const spawn = (who: string) =>
    new Deno.Command(Deno.execPath(), { args: ["run", "-A", script, path, who], stdout: "null", stderr: "piped" })
      .output();
  const results = await Promise.all([spawn("a"), spawn("repair"), spawn("b")]);
  for (const r of results) assert(r.success, new TextDecoder().decode(r.stderr));
  const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
  const rows = lines.map((l) => JSON.parse(l) as { who: string; i: number });
  assertEquals(rows.filter((r) => r.who === "old").length, 1);
  for (const who of ["a", "b"]) {
    assertEquals(rows.filter((r) => r.who === who).map((r) => r.i), Array.from({ length: 300 }, (_, i) => i));
  }
  assertEquals(lines.length, 601);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("two shards run at once merge to exactly the grid, equal bit for bit to one process's run", async () => {
  await warmCache();
  const out = await Deno.makeTempDir({ prefix: "mole-shards-" });
  const grid = await gridFile(out, "shards", GRID3);
  const run = (dir: string, ...extra: string[]) =>
    experiment(["--cells", grid, "--quick", "--out", join(out, dir), "--backend", BACKEND, ...extra]);
  const [a, b] = await Promise.all([run("sharded", "--shard", "0/2"), run("sharded", "--shard", "1/2")]);
  assertOk(a);
  assertOk(b);
  const merged = await assertComplete(join(out, "sharded", "shards"), GRID3.map((c) => c.label));
  assertOk(await run("local"));
  const local = await assertComplete(join(out, "local", "shards"), GRID3.map((c) => c.label));
  for (const row of local) {
    const twin = merged.find((m) => m.hash === row.hash)!;
    assertEquals(firstDifference(metrics(row), metrics(twin)), null);
  }
  await Deno.remove(out, { recursive: true });
});
