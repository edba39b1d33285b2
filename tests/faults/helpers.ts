/**
 * Shared by the fault-injection tests: run the experiment CLI as a child process (optionally with a
 * MOLE_FAULT), small ad-hoc grids written as `--cells` files, and checks that a results directory holds no
 * partial or corrupt file. Every child shares one base-model cache, pretrained once per test process.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { QUICK_RECIPE } from "../../experiments/common.ts";
import { initBackend } from "../../src/backend/backend.ts";
import { loadBlas } from "../../src/backend/blas_ffi.ts";
import type { CellRow } from "../../src/experiment/cell.ts";
import { CELLS_FILE, scanRows } from "../../src/experiment/runner.ts";
import { assert, assertEquals } from "../../src/testing/asserts.ts";
import { prepareBase } from "../../src/train/base_recipe.ts";
import { TEMP_RE } from "../../src/util/fs.ts";

/** The repository root: children run `src/cli/experiment.ts` there. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** One base-model cache for every child of this test process (the quick base pretrains in seconds). */
export const CACHE = await Deno.makeTempDir({ prefix: "mole-faults-cache-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(CACHE, { recursive: true });
  } catch {
    // already gone
  }
});

/** The backend children run: blas where OpenBLAS loads (several times faster here), else cpu. */
export const BACKEND = loadBlas() ? "blas" : "cpu";

let warm: Promise<void> | null = null;

/**
 * Pretrain the --quick base into CACHE now (once), so that a child's fault counters see only its cells'
 * training steps, not pretraining's.
 */
export function warmCache(): Promise<void> {
  warm ??= (async () => {
    await initBackend(BACKEND);
    (await prepareBase(QUICK_RECIPE, { cacheDir: CACHE })).base.dispose();
  })();
  return warm;
}

export interface Run {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

export interface RunOpts {
  /** MOLE_FAULT for this run (none by default). */
  fault?: string;
  cache?: string;
  env?: Record<string, string>;
}

/** Run a Deno script of this repository as a child process. */
export async function deno(script: string, args: string[], opts: RunOpts = {}): Promise<Run> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--frozen", script, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", MOLE_CACHE_DIR: opts.cache ?? CACHE, MOLE_FAULT: opts.fault ?? "", ...opts.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, signal: o.signal, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** `deno task experiment <args>` as a child process. */
export function experiment(args: string[], opts: RunOpts = {}): Promise<Run> {
  return deno("src/cli/experiment.ts", args, opts);
}

const show = (r: Run) =>
  `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

/** The child died of SIGKILL at its fault point. */
export function assertKilled(r: Run, point: string): void {
  assert(r.signal === "SIGKILL" || r.code === 137, `expected a SIGKILL at ${point}; ${show(r)}`);
  assert(r.stderr.includes(`SIGKILL at ${point}`), `killed elsewhere than ${point}; ${show(r)}`);
}

/** The child succeeded. */
export function assertOk(r: Run): void {
  assert(r.code === 0, `expected success; ${show(r)}`);
}

/** The child failed with `code` and printed exactly one line on stderr, `error: …`; returns that line. */
export function oneLineError(r: Run, code: number): string {
  assertEquals(r.code, code, show(r));
  const lines = r.stderr.trim().split("\n");
  assertEquals(lines.length, 1, `one line on stderr; ${show(r)}`);
  assert(lines[0].startsWith("error: "), show(r));
  return lines[0];
}

/** A cells-file cell on the quick preset, evaluated on the score protocol over 2 records per task. */
export function quickCell(label: string, method: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { label, method, eval: { protocols: ["score"], limitPerTask: 2 }, ...extra };
}

/** Three cheap cells (LoRA, top-k, DynMoLE with dropout) on q and v. */
export const GRID3 = [
  quickCell("LoRA r4", { method: "lora", rank: 4, targets: ["q", "v"] }),
  quickCell("MoLE top-2", { method: "topk", nExperts: 4, topK: 2, rank: 2, targets: ["q", "v"] }),
  quickCell("DynMoLE", { method: "dynmole", nExperts: 4, rank: 2, targets: ["q", "v"], dropout: 0.1 }),
];

/** Write a `--cells` file into `dir`; returns its path. */
export async function gridFile(dir: string, name: string, cells: unknown[]): Promise<string> {
  const path = join(dir, `${name}.json`);
  await Deno.writeTextFile(path, JSON.stringify({ name, title: `fault test ${name}`, cells }, null, 2));
  return path;
}

/** Names in `dir` (recursively, relative) that a killed writer leaves: `*.<8 hex>.tmp` files, `.tmp-*` dirs. */
export async function leftovers(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (TEMP_RE.test(e.name) || /\.tmp-[0-9a-f]{8}$/.test(e.name)) out.push(name);
      else if (e.isDirectory) await walk(join(d, e.name), name);
    }
  };
  await walk(dir, "");
  return out.sort();
}

/** Rows and torn line numbers of `<studyDir>/cells.jsonl`. */
export function cells(studyDir: string): Promise<{ rows: CellRow[]; torn: number[] }> {
  return scanRows(join(studyDir, CELLS_FILE));
}

/**
 * A finished study directory: no temp files, every cells.jsonl line a row, exactly one row per grid cell
 * (`labels`, in any order), every JSON output parses, every PNG has its signature.
 */
export async function assertComplete(studyDir: string, labels: string[]): Promise<CellRow[]> {
  assertEquals(await leftovers(studyDir), [], "no temp files left");
  const { rows, torn } = await cells(studyDir);
  assertEquals(torn, [], "no torn lines");
  assertEquals(rows.map((r) => r.label).sort(), [...labels].sort(), "exactly the grid's rows");
  assertEquals(new Set(rows.map((r) => r.hash)).size, rows.length, "no row twice");
  for await (const e of Deno.readDir(studyDir)) {
    const path = join(studyDir, e.name);
    if (e.name.endsWith(".json")) JSON.parse(await Deno.readTextFile(path));
    if (e.name.endsWith(".png")) {
      assertEquals([...(await Deno.readFile(path)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], `${e.name} is a PNG`);
    }
  }
  return rows;
}

/** The bytes of every regular file directly in `dir`, by name. */
export async function snapshot(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir)) if (e.isFile) out.set(e.name, await Deno.readFile(join(dir, e.name)));
  return out;
}

/** A row without what legitimately differs between reruns: timings, memory, timestamps, cache reuse. */
export function metrics(row: CellRow): unknown {
  const { finishedAt: _f, cost, base, ...rest } = row;
  const { trainMs: _t, evalMs: _e, curveMs: _c, tokensPerSec: _s, peakBytes: _p, ...work } = cost;
  return { ...rest, cost: work, base: { hash: base.hash } };
}

/** The first path where two values differ bit for bit (Object.is on numbers), or null. */
export function firstDifference(a: unknown, b: unknown, path = "row"): string | null {
  if (typeof a === "number" && typeof b === "number") return Object.is(a, b) ? null : `${path}: ${a} ≠ ${b}`;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
    return a === b ? null : `${path}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`;
  }
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}
