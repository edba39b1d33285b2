/**
 * What a study file under `experiments/` exports: its grid of cells (what differs from the defaults) and how
 * its rows become tables and charts. Tables and charts are built only from `cells.jsonl`, never during
 * training.
 */
import type { TopLevelSpec } from "vega-lite";
import type { ColumnTable } from "../report/tables.ts";
import type { CellRow } from "./cell.ts";
import type { CellSpec } from "./spec.ts";

export interface StudyOptions {
  /** The tiny preset CI runs: same code path, smaller everything. */
  quick: boolean;
  seeds: number[];
  /** LLM-Adapters data directory (null: the embedded suite). */
  data: string | null;
  /** Hugging Face checkpoint directory (null: the embedded base recipe). */
  base: string | null;
}

export interface StudyTable {
  name: string;
  /** Numeric columns (CSV). */
  raw: ColumnTable;
  /** Formatted "mean ± std" columns (Markdown). */
  display: ColumnTable;
  caption: string;
}

export interface StudyChart {
  name: string;
  spec: TopLevelSpec;
  caption: string;
}

/** A paper's qualitative claim, checked on our rows. */
export interface ClaimCheck {
  claim: string;
  source: string;
  holds: boolean | null;
  evidence: string;
  /** For comparisons of seed means: false when the gap is within the seed spread (|Δ| ≤ 2·SE of Δ). */
  clear?: boolean;
}

/** "yes", "no" or "not tested", marked when the seed spread cannot decide it. */
export function claimVerdict(c: ClaimCheck): string {
  const verdict = c.holds === null ? "not tested" : c.holds ? "yes" : "no";
  return c.holds !== null && c.clear === false ? `${verdict} (within the seed spread)` : verdict;
}

export interface Study {
  name: string;
  title: string;
  /** What it asks, one paragraph (README, report). */
  question: string;
  cells(opts: StudyOptions): CellSpec[];
  tables(rows: CellRow[]): StudyTable[];
  charts(rows: CellRow[]): StudyChart[];
  /** The papers' own numbers and claims, clearly theirs (for REPORT.md). */
  papers?: { table?: string; claims(rows: CellRow[]): ClaimCheck[] };
}
