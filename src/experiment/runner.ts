/**
 * Run a study: resolve its grid, skip cells already in `results/<study>/cells.jsonl` (by config hash), run
 * the rest (or this shard's share), append each finished row as one line, then rebuild tables, charts and
 * `manifest.json` from every row on disk. An interrupted run loses only the cell in flight.
 *
 * Crash safety (tests/faults/): rows are appended whole under a file lock; a line torn by a killed writer is
 * dropped on the next run (`repairRows`), and temp files a killed writer left beside tables and charts are
 * removed, both under the study directory's lock (`.lock`) so concurrent shards never race. With
 * `keepGoing`, a cell that fails (a diverged loss, a bad data file) does not stop the others.
 */
import { join } from "node:path";
import { DataError, MoleError, UsageError } from "../errors.ts";
import { writeChart } from "../report/charts.ts";
import { writeTable } from "../report/tables.ts";
import { faultPoint } from "../util/fault.ts";
import { stableStringify } from "../util/hash.ts";
import { appendLine, atomicWriteJson, exists, removeStaleTemps, rewriteLocked, withLock } from "../util/fs.ts";
import { type CellRow, runCell, Workbench } from "./cell.ts";
import { environment, gitCommit } from "./manifest.ts";
import { createProgress, type Progress } from "./progress.ts";
import { resolveCell, type ResolvedCell } from "./spec.ts";
import { type Study, studyCharts, type StudyOptions, studyTables } from "./study.ts";

export const CELLS_FILE = "cells.jsonl";
/** The study directory's lock: held while repairing cells.jsonl, clearing temp files and writing outputs. */
export const LOCK_FILE = ".lock";

export interface RunOptions extends StudyOptions {
  /** Output root; the study writes to `<out>/<study>/`. */
  out: string;
  /** This process runs shard i of n (cells whose grid index ≡ i mod n). */
  shard: { index: number; count: number } | null;
  /** Only rebuild tables/charts from existing rows. */
  reportOnly: boolean;
  /** Run the remaining cells after one fails, then throw a summary of the failures (default: stop at once). */
  keepGoing?: boolean;
  progress?: Progress;
}

export interface RunSummary {
  dir: string;
  total: number;
  skipped: number;
  ran: number;
  rows: number;
  wallMs: number;
}

/** `i/n` → shard, with a one-line error for anything else. */
export function parseShard(s: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) {
    throw new UsageError(`--shard: expected i/n with 0 ≤ i < n (e.g. 0/4), got '${s}'`);
  }
  return { index, count };
}

/** Parse a cells.jsonl: the rows, and the numbers of lines that are not complete rows (torn writes). */
export async function scanRows(path: string): Promise<{ rows: CellRow[]; torn: number[] }> {
  if (!(await exists(path))) return { rows: [], torn: [] };
  return parseRows(await Deno.readTextFile(path));
}

/** The rows of a cells.jsonl's text and the line numbers that are not complete rows. */
export function parseRows(text: string): { rows: CellRow[]; torn: number[] } {
  const rows: CellRow[] = [];
  const torn: number[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      const row = JSON.parse(line) as CellRow;
      if (typeof row?.hash !== "string") throw new DataError("no hash");
      rows.push(row);
    } catch {
      torn.push(i + 1);
    }
  });
  return { rows, torn };
}

/** Rows of a cells.jsonl; lines that are not complete rows (a killed writer) are skipped with a warning. */
export async function readRows(path: string, warn: (l: string) => void = console.warn): Promise<CellRow[]> {
  const { rows, torn } = await scanRows(path);
  for (const n of torn) {
    warn(`warning: ${path}:${n}: incomplete line (an interrupted write) ignored; its cell will rerun`);
  }
  return rows;
}

/**
 * Drop torn lines from cells.jsonl (atomically, under its append lock so a concurrent shard's row is never
 * lost), so new rows never append to a fragment.
 */
async function repairRows(path: string, log: (l: string) => void): Promise<CellRow[]> {
  let rows: CellRow[] = [];
  await rewriteLocked(path, (text) => {
    const scan = parseRows(text);
    rows = scan.rows;
    if (scan.torn.length === 0) return null;
    log(
      `warning: ${path}: removing ${scan.torn.length} incomplete line(s) (${
        scan.torn.join(", ")
      }) left by an interrupted write`,
    );
    const keep = text.split("\n").filter((line, i) => line.trim() !== "" && !scan.torn.includes(i + 1));
    return keep.map((line) => line + "\n").join("");
  });
  return rows;
}

/** Under the study directory's lock: clear temp files killed writers left, repair cells.jsonl. */
async function recover(dir: string, path: string, log: (l: string) => void): Promise<CellRow[]> {
  if (!(await exists(dir))) return [];
  return await withLock(join(dir, LOCK_FILE), async () => {
    const stale = await removeStaleTemps(dir);
    if (stale.length) log(`warning: ${dir}: removed ${stale.length} temp file(s) an interrupted write left`);
    return await repairRows(path, log);
  });
}

/** Resolve every cell of the grid (validating configs; duplicate hashes are a study bug). */
export async function resolveGrid(study: Study, opts: StudyOptions): Promise<ResolvedCell[]> {
  const specs = study.cells(opts);
  const cells: ResolvedCell[] = [];
  for (const [i, spec] of specs.entries()) {
    cells.push(await resolveCell(spec, `${study.name}.cells[${i}] (${spec.label})`));
  }
  const seen = new Set<string>();
  for (const c of cells) {
    if (seen.has(c.hash)) {
      throw new DataError(`${study.name}: two cells have the same config (${c.label}); make them differ`);
    }
    seen.add(c.hash);
  }
  return cells;
}

/**
 * The rows of this grid's configurations: the latest row per hash whose config equals a grid cell's up to the seed —
 * every finished seed, not only those this run asked for (`--seeds` says how many to run; a 20-seed canonical run
 * keeps its tables when the 5-seed default resumes it). In grid order, then by seed.
 */
export function rowsForGrid(rows: CellRow[], cells: ResolvedCell[]): CellRow[] {
  const key = (config: unknown) => stableStringify({ ...(config as Record<string, unknown>), seed: null });
  const order = new Map<string, number>();
  for (const [i, c] of cells.entries()) if (!order.has(key(c.config))) order.set(key(c.config), i);
  const latest = [...new Map(rows.map((r) => [r.hash, r])).values()];
  const ours = latest.flatMap((row) => {
    const at = order.get(key(row.config));
    return at === undefined ? [] : [{ row, at }];
  });
  return ours.sort((a, b) => a.at - b.at || a.row.seed - b.row.seed).map((x) => x.row);
}

/**
 * Pretrain (or load) every embedded base model the grid uses into the cache, once, and return how many;
 * run before shards start together so that they do not all pretrain the same base at once.
 */
export async function prepareBases(study: Study, opts: StudyOptions, log: (l: string) => void): Promise<number> {
  const specs = new Map((await resolveGrid(study, opts)).map((c) => [JSON.stringify(c.config.base), c.config.base]));
  const bench = new Workbench(log);
  try {
    const embedded = [...specs.values()].filter((b) => b.kind === "embedded");
    for (const spec of embedded) await bench.base(spec);
    return embedded.length;
  } finally {
    await bench.dispose();
  }
}

/** Tables, charts and the manifest (unless null: the one on disk stays), from rows on disk. */
export async function writeOutputs(
  study: Study,
  dir: string,
  rows: CellRow[],
  manifest: Record<string, unknown> | null,
) {
  for (const t of studyTables(study, rows)) await writeTable(dir, t.name, t.raw, t.display);
  for (const c of studyCharts(study, rows)) await writeChart(dir, c.name, c.spec);
  if (manifest) await atomicWriteJson(join(dir, "manifest.json"), manifest);
}

/** The `runs` history of the manifest already in `dir` (none when it is missing or unreadable). */
async function previousRuns(dir: string): Promise<unknown[]> {
  try {
    const runs = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json"))).runs;
    return Array.isArray(runs) ? runs : [];
  } catch {
    return [];
  }
}

export async function runStudy(study: Study, opts: RunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const progress = opts.progress ?? createProgress();
  const dir = join(opts.out, study.name);
  const path = join(dir, CELLS_FILE);
  const cells = await resolveGrid(study, opts);
  const done = new Set((await recover(dir, path, progress.log)).map((r) => r.hash));
  const mine = cells.filter((_, i) => !opts.shard || i % opts.shard.count === opts.shard.index);
  const todo = opts.reportOnly ? [] : mine.filter((c) => !done.has(c.hash));
  progress.log(
    `${study.name}: ${cells.length} cells${
      opts.shard ? `, shard ${opts.shard.index}/${opts.shard.count} has ${mine.length}` : ""
    }` +
      `, ${mine.length - todo.length} already done, ${todo.length} to run`,
  );
  const bench = new Workbench(progress.log);
  const failed: string[] = [];
  const startedAt = new Date().toISOString();
  const commit = todo.length > 0 ? await gitCommit() : null;
  try {
    for (const [i, cell] of todo.entries()) {
      progress.status({ cell: i, cells: todo.length, label: cell.label });
      let row: CellRow;
      try {
        row = await runCell(study.name, cell, bench, {
          onStep: (step, steps, loss) => {
            faultPoint("mid-cell");
            progress.status({ cell: i, cells: todo.length, label: cell.label, step, steps, loss });
          },
        });
      } catch (e) {
        const err = inCell(e, study.name, cell);
        if (!opts.keepGoing || !(err instanceof MoleError)) throw err;
        progress.log(`✗ ${err.message}`);
        failed.push(err.message);
        continue;
      }
      row = { ...row, env: { ...row.env, commit: commit! } };
      await appendLine(path, JSON.stringify(row));
      const acc = Object.entries(row.results).map(([p, r]) => `${p} ${(r!.average * 100).toFixed(1)}%`).join(", ");
      progress.log(`✓ ${cell.label} seed ${row.seed}: ${acc} (${(row.cost.trainMs / 1000).toFixed(1)} s train)`);
    }
  } finally {
    progress.done();
    await bench.dispose();
  }
  const rows = rowsForGrid(await readRows(path, progress.log), cells);
  const wallMs = performance.now() - t0;
  if (rows.length > 0) {
    const manifest = {
      study: study.name,
      title: study.title,
      written: new Date().toISOString(),
      cells: { grid: cells.length, rows: rows.length, ranThisRun: todo.length },
      options: {
        quick: opts.quick,
        seeds: opts.seeds,
        data: opts.data,
        base: opts.base,
        limitTrain: opts.limitTrain ?? null,
        limitTest: opts.limitTest ?? null,
        shard: opts.shard,
      },
      wallMsThisRun: Math.round(wallMs),
      cellTrainMs: rows.reduce((a, r) => a + r.cost.trainMs, 0),
      // Every run that trained cells, oldest first: a --report rebuild or a fully resumed run adds none.
      runs: [
        ...await previousRuns(dir),
        ...(todo.length > 0
          ? [{
            startedAt,
            commit,
            wallMs: Math.round(wallMs),
            cellsRun: todo.length - failed.length,
            shard: opts.shard,
          }]
          : []),
      ],
      ...(await environment()),
      // What the rows were trained on (`backend` above is this process's, absent for a --report rebuild).
      rowBackends: [...new Set(rows.map((r) => r.env.backend))],
    };
    // A run that trained nothing (every cell on disk, e.g. a fresh clone's first command) keeps the manifest of the
    // runs that did, so the outputs rebuild byte for byte and `git status` stays clean.
    const keep = todo.length === 0 && !opts.reportOnly && (await exists(join(dir, "manifest.json")));
    await withLock(join(dir, LOCK_FILE), () => writeOutputs(study, dir, rows, keep ? null : manifest));
  }
  if (failed.length > 0) {
    throw new CellsFailedError(
      `${failed.length} of ${todo.length} cells failed (the others are saved; fix and rerun to run just these): ` +
        failed.join(" | "),
    );
  }
  return { dir, total: cells.length, skipped: mine.length - todo.length, ran: todo.length, rows: rows.length, wallMs };
}

/** `--keep-going`: one or more cells failed; the message lists each one's error. */
export class CellsFailedError extends MoleError {
  override name = "CellsFailedError";
}

/** Name the cell an error happened in (study, label, seed), keeping the error's class and exit code. */
function inCell(e: unknown, study: string, cell: ResolvedCell): unknown {
  if (e instanceof MoleError) e.message = `${study}: cell '${cell.label}' seed ${cell.config.seed}: ${e.message}`;
  return e;
}
