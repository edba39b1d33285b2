/**
 * A diverged loss (NaN / Inf, injected with MOLE_FAULT=nan|inf:train-loss@<n>): the run stops before the
 * weights are touched with one line naming the study, cell, seed, step and the fix, exit 1; finished cells
 * are kept. With --keep-going the other cells still run and the exit summary lists the failures. A rerun
 * runs only what is missing.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../../src/testing/asserts.ts";
import {
  assertComplete,
  assertOk,
  BACKEND,
  cells,
  experiment,
  GRID3,
  gridFile,
  leftovers,
  oneLineError,
  warmCache,
} from "./helpers.ts";

const FIX = "lower the learning rate (lr 0.002) or keep gradient clipping on";

Deno.test("a NaN or Inf loss: one line naming cell, step and fix, exit 1; --keep-going runs the rest", async () => {
  await warmCache(); // the fault counts training updates: keep pretraining out of them
  const out = await Deno.makeTempDir({ prefix: "mole-nan-" });
  const grid = await gridFile(out, "diverge", GRID3);
  const dir = join(out, "diverge");
  const run = (fault?: string, ...extra: string[]) =>
    experiment(["--cells", grid, "--quick", "--out", out, "--backend", BACKEND, ...extra], { fault });

  // NaN at the 6th update of the process: step 2 of the second cell.
  let r = await run("nan:train-loss@6");
  assertEquals(oneLineError(r, 1), `error: diverge: cell 'MoLE top-2' seed 0: step 2: the loss is NaN; ${FIX}`);
  assertEquals((await cells(dir)).rows.map((r) => r.label), ["LoRA r4"]);
  assertEquals(await leftovers(dir), []);

  // Inf in the next run's second update, with --keep-going: that cell fails, the last one still runs.
  r = await run("inf:train-loss@2", "--keep-going");
  assertEquals(
    oneLineError(r, 1),
    "error: 1 of 2 cells failed (the others are saved; fix and rerun to run just these): " +
      `diverge: cell 'MoLE top-2' seed 0: step 2: the loss is Infinity; ${FIX}`,
  );
  assert(r.stdout.includes("✓ DynMoLE seed 0"), r.stdout);
  assertEquals((await cells(dir)).rows.map((r) => r.label), ["LoRA r4", "DynMoLE"]);

  r = await run();
  assertOk(r);
  assert(r.stdout.includes("2 already done, 1 to run"), r.stdout);
  const rows = await assertComplete(dir, ["LoRA r4", "DynMoLE", "MoLE top-2"]);
  for (const row of rows) assert(row.history.every((h) => Number.isFinite(h.loss)), "only finite losses recorded");
  await Deno.remove(out, { recursive: true });
});
