import type { CellRow } from "../experiment/cell.ts";
import { assert, assertEquals } from "../testing/asserts.ts";
import { manifestLine } from "./report.ts";

const assertStringIncludes = (s: string, part: string) => assert(s.includes(part), `"${part}" in "${s}"`);
const row = (backend: string) => ({ env: { backend, backendDetail: "", tfjs: "4.22.0", deno: "2.9.6" } }) as CellRow;

Deno.test("manifestLine: the backend comes from the rows, which a --report rebuild's manifest lacks", () => {
  // the shape of a manifest written by a --report rebuild (the previously committed ones): no `backend` key at all
  const committed = {
    study: "compare",
    commit: "936d498d3173c0ffee00000000000000deadbeef",
    versions: { deno: "2.9.6", v8: "14.0", typescript: "5.9", tfjs: "4.22.0" },
    machine: { os: "linux", arch: "x86_64", cpus: 2, memoryGiB: 24 },
    written: "2026-11-20T10:00:00.000Z",
  };
  assert(!("backend" in committed) && typeof committed.versions === "object", "a committed manifest's shape");
  const line = manifestLine(committed, [row("blas"), row("blas")]);
  assertStringIncludes(line, "· backend blas ·");
  assertStringIncludes(line, `Deno ${committed.versions.deno}`);
  assertEquals(manifestLine({ ...committed }, [row("blas"), row("wasm")]).includes("backend blas, wasm"), true);
});

Deno.test("manifestLine without rows: the manifest's rowBackends, else its backend (a name or { name }), else ?", () => {
  const m = { commit: "0123456789abcdef", versions: { deno: "2.9.6", tfjs: "4.22.0" }, written: "now" };
  assertStringIncludes(manifestLine({ ...m, rowBackends: ["blas"] }), "backend blas ·");
  assertStringIncludes(
    manifestLine({ ...m, backend: { requested: "auto", name: "wasm", detail: "" } }),
    "backend wasm ·",
  );
  assertStringIncludes(manifestLine({ ...m, backend: "cpu" }), "backend cpu ·");
  assertEquals(
    manifestLine(m),
    "Commit `0123456789ab` · backend ? · Deno 2.9.6 · tfjs 4.22.0 · written now",
  );
  assertEquals(manifestLine(null), "");
});
