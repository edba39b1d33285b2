/**
 * SIGKILL anywhere in a study (a node dying, an OOM kill): in the middle of a cell, while appending a row
 * to cells.jsonl, while writing a chart or a table. Finished cells and finished files survive whole; the
 * next run drops the torn line, clears the temp files and runs only what is missing.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../../src/testing/asserts.ts";
import {
  assertComplete,
  assertKilled,
  assertOk,
  BACKEND,
  cells,
  experiment,
  GRID3,
  gridFile,
  leftovers,
  snapshot,
} from "./helpers.ts";

const LABELS = GRID3.map((c) => c.label);

Deno.test("killed mid-cell, mid-append and mid-chart: nothing finished is lost, each rerun resumes", async () => {
  const out = await Deno.makeTempDir({ prefix: "mole-kill-" });
  const grid = await gridFile(out, "kill", GRID3);
  const dir = join(out, "kill");
  const run = (fault?: string, ...extra: string[]) =>
    experiment(["--cells", grid, "--quick", "--out", out, "--backend", BACKEND, ...extra], { fault });

  // 1. In the second step of the second cell (4 steps per cell): the first row is on disk, whole.
  assertKilled(await run("kill:mid-cell@6"), "mid-cell");
  let c = await cells(dir);
  assertEquals([c.rows.map((r) => r.label), c.torn], [["LoRA r4"], []]);
  assertEquals(await leftovers(dir), []);

  // 2. Halfway through appending the second row: a torn last line, which readers skip.
  let r = await run("kill:append:cells.jsonl");
  assertKilled(r, "append:cells.jsonl");
  assert(r.stdout.includes("1 already done, 2 to run"), r.stdout);
  c = await cells(dir);
  assertEquals([c.rows.map((r) => r.label), c.torn], [["LoRA r4"], [2]]);
  assert(!(await Deno.readTextFile(join(dir, "cells.jsonl"))).endsWith("\n"), "the line is torn");

  // 3. Writing the chart's PNG, after its temp file is complete and before the rename: the torn line was
  //    dropped, both missing cells ran, tables are written, the PNG is absent (never half there).
  r = await run("kill:write:average.png");
  assertKilled(r, "write:average.png");
  assert(r.stdout.includes("removing 1 incomplete line(s) (2)"), r.stdout);
  c = await cells(dir);
  assertEquals([c.rows.map((r) => r.label), c.torn], [LABELS, []]);
  const left = await leftovers(dir);
  assertEquals(left.length, 1);
  assert(/^average\.png\.[0-9a-f]{8}\.tmp$/.test(left[0]), left[0]);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert(names.includes("table.csv") && !names.includes("average.png"), names.join(" "));

  // 4. A clean rerun: nothing to train, the temp file is removed, every output is written.
  r = await run();
  assertOk(r);
  assert(r.stdout.includes("3 already done, 0 to run") && r.stdout.includes("removed 1 temp file(s)"), r.stdout);
  await assertComplete(dir, LABELS);

  // 5. Killed while replacing table.csv (--report): every file is still the old one, whole.
  const before = await snapshot(dir);
  assertKilled(await run("kill:write:table.csv", "--report"), "write:table.csv");
  const after = await snapshot(dir);
  for (const [name, bytes] of before) assertEquals(after.get(name), bytes, `${name} is the old file`);
  assertEquals((await leftovers(dir)).length, 1);
  assertOk(await run(undefined, "--report"));
  await assertComplete(dir, LABELS);
  await Deno.remove(out, { recursive: true });
});
