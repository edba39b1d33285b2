/**
 * Run a study: resolve its grid, skip cells already in `results/<study>/cells.jsonl` (by config hash), run
 * the rest (or this shard's share), append each finished row as one line, then rebuild tables, charts and
 * `manifest.json` from every row on disk. An interrupted run loses only the cell in flight.
 */
import { join } from "node:path";
import { DataError, UsageError } from "../errors.ts";
import { writeChart } from "../report/charts.ts";
import { writeTable } from "../report/tables.ts";
import { appendLine, atomicWrite, atomicWriteJson, exists } from "../util/fs.ts";
import { type CellRow, runCell, Workbench } from "./cell.ts";
import { environment } from "./manifest.ts";
import { createProgress, type Progress } from "./progress.ts";
import { resolveCell, type ResolvedCell } from "./spec.ts";
import type { Study, StudyOptions } from "./study.ts";

export const CELLS_FILE = "cells.jsonl";

export interface RunOptions extends StudyOptions {
  /** Output root; the study writes to `<out>/<study>/`. */
  out: string;
  /** This process runs shard i of n (cells whose grid index ≡ i mod n). */
  shard: { index: number; count: number } | null;
  /** Only rebuild tables/charts from existing rows. */
  reportOnly: boolean;
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
  const rows: CellRow[] = [];
  const torn: number[] = [];
  (await Deno.readTextFile(path)).split("\n").forEach((line, i) => {
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

/** Drop torn lines from cells.jsonl (atomically), so new rows never append to a fragment. */
async function repairRows(path: string, log: (l: string) => void): Promise<CellRow[]> {
  const { rows, torn } = await scanRows(path);
  if (torn.length > 0) {
    log(
      `warning: ${path}: removing ${torn.length} incomplete line(s) (${torn.join(", ")}) left by an interrupted write`,
    );
    await atomicWrite(path, rows.map((r) => JSON.stringify(r) + "\n").join(""));
  }
  return rows;
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

/** Latest row per hash, in grid order, for the cells of this grid. */
function rowsForGrid(rows: CellRow[], cells: ResolvedCell[]): CellRow[] {
  const byHash = new Map(rows.map((r) => [r.hash, r]));
  return cells.map((c) => byHash.get(c.hash)).filter((r): r is CellRow => r !== undefined);
}

/** Tables, charts and the manifest, from rows on disk. */
export async function writeOutputs(study: Study, dir: string, rows: CellRow[], manifest: Record<string, unknown>) {
  for (const t of study.tables(rows)) await writeTable(dir, t.name, t.raw, t.display);
  for (const c of study.charts(rows)) await writeChart(dir, c.name, c.spec);
  await atomicWriteJson(join(dir, "manifest.json"), manifest);
}

export async function runStudy(study: Study, opts: RunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const progress = opts.progress ?? createProgress();
  const dir = join(opts.out, study.name);
  const path = join(dir, CELLS_FILE);
  const cells = await resolveGrid(study, opts);
  const done = new Set(
    (opts.reportOnly ? await readRows(path, progress.log) : await repairRows(path, progress.log)).map((r) => r.hash),
  );
  const mine = cells.filter((_, i) => !opts.shard || i % opts.shard.count === opts.shard.index);
  const todo = opts.reportOnly ? [] : mine.filter((c) => !done.has(c.hash));
  progress.log(
    `${study.name}: ${cells.length} cells${
      opts.shard ? `, shard ${opts.shard.index}/${opts.shard.count} has ${mine.length}` : ""
    }` +
      `, ${mine.length - todo.length} already done, ${todo.length} to run`,
  );
  const bench = new Workbench(progress.log);
  try {
    for (const [i, cell] of todo.entries()) {
      progress.status({ cell: i, cells: todo.length, label: cell.label });
      const row = await runCell(study.name, cell, bench, {
        onStep: (step, steps, loss) =>
          progress.status({ cell: i, cells: todo.length, label: cell.label, step, steps, loss }),
      });
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
    await writeOutputs(study, dir, rows, {
      study: study.name,
      title: study.title,
      written: new Date().toISOString(),
      cells: { grid: cells.length, rows: rows.length, ranThisRun: todo.length },
      options: { quick: opts.quick, seeds: opts.seeds, data: opts.data, base: opts.base, shard: opts.shard },
      wallMsThisRun: Math.round(wallMs),
      cellTrainMs: rows.reduce((a, r) => a + r.cost.trainMs, 0),
      ...(await environment()),
    });
  }
  return { dir, total: cells.length, skipped: mine.length - todo.length, ran: todo.length, rows: rows.length, wallMs };
}
