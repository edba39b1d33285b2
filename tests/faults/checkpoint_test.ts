/**
 * Training checkpoints under SIGKILL and corruption (train_driver.ts, a toy run checkpointing every 2 of
 * 8 updates): killed while committing a checkpoint or while writing its weights, the previous checkpoint is
 * intact and the partial one (a `.tmp-*` directory) is never loaded and is removed on resume; the resumed
 * run ends bit for bit where an uninterrupted one does. A truncated checkpoint is one line naming the file
 * and the fix (delete it), exit 1; after the fix the run resumes from the previous checkpoint.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../../src/testing/asserts.ts";
import { listCheckpoints } from "../../src/train/checkpoint.ts";
import { assertKilled, assertOk, deno, leftovers, oneLineError, type Run } from "./helpers.ts";

const DRIVER = "tests/faults/train_driver.ts";
const drive = (dir: string, fault?: string) => deno(DRIVER, [dir], { fault });
const result = (r: Run) => {
  assertOk(r);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { losses: number[]; resumedFrom: number | null };
};
const names = async (dir: string) => (await listCheckpoints(dir)).map((p) => p.split("/").at(-1));

Deno.test("killed while writing a checkpoint, or resuming a truncated one: the run resumes bit for bit", async () => {
  const want = result(await drive("-")).losses;
  assertEquals(want.length, 8);

  // Killed committing the step-4 checkpoint (complete, not yet renamed into place).
  const a = await Deno.makeTempDir({ prefix: "mole-ckpt-" });
  assertKilled(await drive(a, "kill:checkpoint-commit@2"), "checkpoint-commit");
  assertEquals(await names(a), ["checkpoint-000002"]);
  assertEquals((await leftovers(a)).length, 1, "the uncommitted checkpoint is a .tmp-* directory");

  // Its weights truncated (a disk failing under it): one line naming the file and the fix.
  const weights = join(a, "checkpoint-000002", "state.safetensors");
  const bytes = await Deno.readFile(weights);
  await Deno.writeFile(weights, bytes.subarray(0, bytes.length - 100));
  const err = oneLineError(await drive(a), 1);
  assert(err.startsWith(`error: ${weights}: truncated: `), err);
  assert(err.endsWith(`, or delete ${join(a, "checkpoint-000002")} to resume from the previous checkpoint`), err);
  assertEquals(await leftovers(a), [], "the partial checkpoint was cleared");

  // The fix: delete it; with no earlier checkpoint the run starts over and ends identically.
  await Deno.remove(join(a, "checkpoint-000002"), { recursive: true });
  let got = result(await drive(a));
  assertEquals([got.resumedFrom, got.losses], [null, want]);

  // Killed between writing the step-6 weights' temp file and renaming it.
  const b = await Deno.makeTempDir({ prefix: "mole-ckpt-" });
  assertKilled(await drive(b, "kill:write:state.safetensors@3"), "write:state.safetensors");
  assertEquals(await names(b), ["checkpoint-000002", "checkpoint-000004"]);
  got = result(await drive(b));
  assertEquals(got.resumedFrom, 4);
  assertEquals(got.losses, want, "the resumed run's losses equal an uninterrupted run's, bit for bit");
  assertEquals(await leftovers(b), []);
  assertEquals(await names(b), ["checkpoint-000004", "checkpoint-000006", "checkpoint-000008"]);
  for (const d of [a, b]) await Deno.remove(d, { recursive: true });
});
