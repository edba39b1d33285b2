/**
 * What a study file under `experiments/` exports: its grid of cells (what differs from the defaults) and how
 * its rows become tables and charts. Tables and charts are built only from `cells.jsonl`, never during
 * training.
 */
import type { TopLevelSpec } from "vega-lite";
import type { Interval, Verdict } from "../report/paired.ts";
import type { ColumnTable } from "../report/tables.ts";
import type { CellRow } from "./cell.ts";
import type { CellSpec } from "./spec.ts";
import type { Protocol } from "../train/evaluate.ts";

export interface StudyOptions {
  /** The tiny preset CI runs: same code path, smaller everything. */
  quick: boolean;
  seeds: number[];
  /** LLM-Adapters data directory (null: the embedded suite). */
  data: string | null;
  /** Hugging Face checkpoint directory (null: the embedded base recipe). */
  base: string | null;
  /** At most this many training records per task (--limit-train; null/absent: the preset's). */
  limitTrain?: number | null;
  /** At most this many test records per task (--limit-test; null/absent: the preset's). */
  limitTest?: number | null;
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

/**
 * A paper's qualitative claim, checked on our rows with a paired bootstrap 95 % CI (src/report/paired.ts,
 * src/experiment/claims.ts): the verdict follows from the interval.
 */
export interface ClaimCheck {
  claim: string;
  source: string;
  /** null: not tested (not run, or the rows lack what the test needs). */
  verdict: Verdict | null;
  /** The contrast the verdict rests on (for a claim over several contrasts, the least favourable one). */
  interval?: Interval;
  /** Always states Δ [lo, hi] (points for accuracy) when tested; says why when not. */
  evidence: string;
}

/** "holds", "contradicted", "undecided (CI spans the bound)" or "not tested". */
export function claimVerdict(c: ClaimCheck): string {
  if (c.verdict === null) return "not tested";
  return c.verdict === "undecided" ? "undecided (CI spans the bound)" : c.verdict;
}

export interface Study {
  name: string;
  title: string;
  /** What it asks, one paragraph (README, report). */
  question: string;
  cells(opts: StudyOptions): CellSpec[];
  tables(rows: CellRow[]): StudyTable[];
  charts(rows: CellRow[]): StudyChart[];
  /**
   * The group label every other label is contrasted with in REPORT.md's contrast table (each label −
   * reference, paired bootstrap CI over seeds and items); none: no contrast table.
   */
  reference?: string;
  /** The papers' own numbers and claims, clearly theirs (for REPORT.md). */
  papers?: { table?: string; claims(rows: CellRow[]): ClaimCheck[] };
}

/** The protocols `rows` were evaluated with, in the configured order (the first is the study's main protocol). */
export function protocolsOf(rows: CellRow[]): Protocol[] {
  const listed = (rows[0]?.config.eval.protocols ?? []) as Protocol[];
  return listed.filter((p) => rows.some((r) => r.results[p] !== undefined));
}

/** `rows` as if `p` were their first protocol: what the study's tables and charts report. */
function asMain(rows: CellRow[], p: Protocol): CellRow[] {
  return rows.map((r) => {
    const protocols = [p, ...r.config.eval.protocols.filter((x) => x !== p)];
    return { ...r, config: { ...r.config, eval: { ...r.config.eval, protocols } } };
  });
}

/**
 * `make`'s outputs (tables or charts) for every protocol that ran, each caption naming its protocol. The main
 * protocol's keep their names; another protocol's get `_<protocol>` appended, and an output that reads the same
 * under both (by `key`, e.g. routing statistics) appears once.
 */
function perProtocol<T extends { name: string; caption: string }>(
  rows: CellRow[],
  make: (rows: CellRow[]) => T[],
  key: (t: T) => string,
): T[] {
  const [main, ...others] = protocolsOf(rows);
  if (!main) return make(rows);
  const label = (t: T, p: Protocol) => ({ ...t, caption: `${t.caption} (protocol: ${p})` });
  const first = make(asMain(rows, main));
  const seen = new Set(first.map(key));
  const rest = others.flatMap((p) =>
    make(asMain(rows, p)).filter((t) => !seen.has(key(t))).map((t) => ({ ...label(t, p), name: `${t.name}_${p}` }))
  );
  return [...first.map((t) => label(t, main)), ...rest];
}

/** A study's tables for every protocol that ran (`perProtocol`). */
export function studyTables(study: Study, rows: CellRow[]): StudyTable[] {
  return perProtocol(rows, (r) => study.tables(r), (t) => t.display.toCSV());
}

/** A study's charts for every protocol that ran (`perProtocol`). */
export function studyCharts(study: Study, rows: CellRow[]): StudyChart[] {
  return perProtocol(rows, (r) => study.charts(r), (c) => JSON.stringify(c.spec));
}
