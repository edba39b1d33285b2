import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";
import { appendLine, atomicWrite, atomicWriteJson, setWriteFault } from "./fs.ts";

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("atomicWrite replaces a file whole and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "sub", "a.json");
  await atomicWriteJson(path, { a: 1 });
  await atomicWrite(path, "second\n");
  assertEquals(await Deno.readTextFile(path), "second\n");
  assertEquals(names(join(dir, "sub")), ["a.json"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a failed write (a full disk, simulated) keeps the old file intact and leaves nothing behind", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "table.csv");
  await atomicWrite(path, "old,content\n");
  setWriteFault((p) => (p === path ? new Deno.errors.WriteZero("No space left on device (os error 28)") : null));
  try {
    await assertRejects(() => atomicWrite(path, "new,content\n"), Deno.errors.WriteZero, "No space left");
    await assertRejects(() => appendLine(path, "x"), Deno.errors.WriteZero);
  } finally {
    setWriteFault(null);
  }
  assertEquals(await Deno.readTextFile(path), "old,content\n");
  assertEquals(names(dir), ["table.csv"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("appendLine starts a fresh line after a fragment a killed writer left", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "cells.jsonl");
  await Deno.writeTextFile(path, '{"a":1}\n{"b":');
  await appendLine(path, '{"c":3}');
  assertEquals(await Deno.readTextFile(path), '{"a":1}\n{"b":\n{"c":3}\n');
  await Deno.remove(dir, { recursive: true });
});

Deno.test("two processes appending 200 long lines each to one file lose none and interleave none", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "cells.jsonl");
  const script = join(dir, "writer.ts");
  await Deno.writeTextFile(
    script,
    `import { appendLine } from ${JSON.stringify(new URL("./fs.ts", import.meta.url).href)};
const [path, who] = Deno.args;
for (let i = 0; i < 200; i++) await appendLine(path, JSON.stringify({ who, i, pad: "x".repeat(5000) }));`,
  );
  const spawn = (who: string) =>
    new Deno.Command(Deno.execPath(), { args: ["run", "-A", script, path, who], stdout: "null", stderr: "piped" })
      .output();
  const results = await Promise.all([spawn("a"), spawn("b")]);
  for (const r of results) assert(r.success, new TextDecoder().decode(r.stderr));
  const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
  assertEquals(lines.length, 400);
  const rows = lines.map((l) => JSON.parse(l) as { who: string; i: number });
  for (const who of ["a", "b"]) {
    assertEquals(rows.filter((r) => r.who === who).map((r) => r.i), Array.from({ length: 200 }, (_, i) => i));
  }
  await Deno.remove(dir, { recursive: true });
});
