/**
 * A full disk during a write: simulated (MOLE_FAULT=enospc:…, the write fails halfway as ENOSPC does) and,
 * where this process may mount a tmpfs (root), real. The run stops with one line naming the file and the
 * fix, exit 1; no half-written row, temp file or table is left; a rerun once there is space resumes.
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
  snapshot,
} from "./helpers.ts";

const FIX = "the disk is full; free space there (or write elsewhere: --out, MOLE_CACHE_DIR), then rerun: " +
  "finished cells are kept and the run resumes";

Deno.test("disk full while appending a row or writing a chart: one line, exit 1, nothing partial, resume", async () => {
  const out = await Deno.makeTempDir({ prefix: "mole-enospc-" });
  const grid = await gridFile(out, "full", GRID3);
  const dir = join(out, "full");
  const run = (fault?: string, ...extra: string[]) =>
    experiment(["--cells", grid, "--quick", "--out", out, "--backend", BACKEND, ...extra], { fault });

  // The second row's append fails halfway: the half line is cut back, the first row stays.
  let r = await run("enospc:append:cells.jsonl@2");
  assertEquals(oneLineError(r, 1), `error: cannot write ${join(dir, "cells.jsonl")}: ${FIX}`);
  const c = await cells(dir);
  assertEquals([c.rows.map((r) => r.label), c.torn], [["LoRA r4"], []]);
  assert((await Deno.readTextFile(join(dir, "cells.jsonl"))).endsWith("\n"));
  assertEquals(await leftovers(dir), []);

  r = await run();
  assertOk(r);
  assert(r.stdout.includes("1 already done, 2 to run"), r.stdout);
  await assertComplete(dir, GRID3.map((c) => c.label));

  // Rebuilding the chart fails halfway through its temp file: the old chart is kept, no temp file.
  const before = await snapshot(dir);
  r = await run("enospc:write:average.svg", "--report");
  assertEquals(oneLineError(r, 1), `error: cannot write ${join(dir, "average.svg")}: ${FIX}`);
  assertEquals(await leftovers(dir), []);
  const after = await snapshot(dir);
  for (const name of ["average.svg", "average.png", "cells.jsonl"]) assertEquals(after.get(name), before.get(name));
  assertOk(await run(undefined, "--report"));
  await assertComplete(dir, GRID3.map((c) => c.label));
  await Deno.remove(out, { recursive: true });
});

/** Mount a tmpfs of `kib` KiB at `dir`; false where this process may not (not root, no CAP_SYS_ADMIN). */
async function mountTmpfs(dir: string, kib: number): Promise<boolean> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
  try {
    const o = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return o.success;
  } catch {
    return false;
  }
}

const canMount = await (async () => {
  const probe = await Deno.makeTempDir();
  const ok = await mountTmpfs(probe, 64);
  if (ok) await new Deno.Command("umount", { args: [probe] }).output();
  await Deno.remove(probe);
  return ok;
})();

Deno.test({
  name: "a real full disk (a tmpfs filled up): one line naming the file, exit 1; with space again the run resumes",
  ignore: !canMount,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "mole-tmpfs-" });
    const out = join(tmp, "disk");
    await Deno.mkdir(out);
    assert(await mountTmpfs(out, 512));
    try {
      const grid = await gridFile(tmp, "real", GRID3.slice(0, 1));
      const filler = join(out, "filler");
      await Deno.writeFile(filler, new Uint8Array(512 * 1024)).catch(() => {}); // fills the disk to the last block
      const r = await experiment(["--cells", grid, "--quick", "--out", out, "--backend", BACKEND]);
      assertEquals(oneLineError(r, 1), `error: cannot write ${join(out, "real", "cells.jsonl")}: ${FIX}`);
      assertEquals((await cells(join(out, "real"))).rows, []);
      assertEquals(await leftovers(out), []);
      await Deno.remove(filler);
      assertOk(await experiment(["--cells", grid, "--quick", "--out", out, "--backend", BACKEND]));
      await assertComplete(join(out, "real"), ["LoRA r4"]);
    } finally {
      await new Deno.Command("umount", { args: [out] }).output();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
