/**
 * Tables from result rows (arquero): aggregate the per-seed cells of `results/<study>/cells.jsonl` into one
 * row per config with mean and sample std, format them as "mean ± std", and write them out as CSV (raw
 * numbers, for machines) and aligned GitHub Markdown (formatted, for people), atomically.
 *
 * Field names may be dotted paths into nested rows ("config.method", "metrics.avg_acc"); the output columns
 * keep the name as given.
 */
import * as aq from "arquero";
import { join } from "node:path";
import { ConfigError, DataError } from "../errors.ts";
import { atomicWrite } from "../util/fs.ts";

export type Row = Record<string, unknown>;
export type ColumnTable = aq.ColumnTable;

/** `row[path]` if that key exists, else the value at the dotted path ("a.b.c"), else undefined. */
export function getField(row: Row, path: string): unknown {
  if (path in row) return row[path];
  let v: unknown = row;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Row)[key];
  }
  return v;
}

/** The table's rows as plain objects (e.g. to feed a chart builder). */
export function tableRows(table: ColumnTable): Row[] {
  return table.objects() as Row[];
}

/** A group key must compare by value: objects and arrays become their JSON text. */
function groupValue(v: unknown, i: number, field: string): unknown {
  if (v === undefined) throw new DataError(`row ${i}: missing group field "${field}"`);
  return v !== null && typeof v === "object" ? JSON.stringify(v) : v;
}

function metricValue(v: unknown, i: number, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new DataError(`row ${i}: metric "${field}" must be a finite number, got ${JSON.stringify(v) ?? "undefined"}`);
  }
  return v;
}

/**
 * One row per group (in order of first appearance) with `<m>_mean`, `<m>_std` (sample std, n − 1; 0 when
 * n = 1) for each metric, and `n`, the number of rows (seeds) in the group. Column order: groupBy…, then
 * `<m>_mean`, `<m>_std` per metric, then `n`. A missing group field or a non-finite metric is a DataError.
 */
export function aggregateBySeed(rows: Row[], groupBy: string[], metrics: string[]): ColumnTable {
  const names = [...groupBy, ...metrics.flatMap((m) => [`${m}_mean`, `${m}_std`]), "n"];
  if (new Set(names).size !== names.length) throw new ConfigError(`aggregateBySeed: duplicate column in ${names}`);
  const flat = rows.map((r, i) => {
    const o: Row = {};
    for (const g of groupBy) o[g] = groupValue(getField(r, g), i, g);
    for (const m of metrics) o[m] = metricValue(getField(r, m), i, m);
    return o;
  });
  if (flat.length === 0) return aq.table(Object.fromEntries(names.map((c) => [c, []])));
  const rollups: Record<string, unknown> = {};
  for (const m of metrics) {
    rollups[`${m}_mean`] = aq.op.mean(m);
    rollups[`${m}_std`] = aq.op.stdev(m);
  }
  rollups.n = aq.op.count();
  const base = aq.from(flat, [...groupBy, ...metrics]);
  // deno-lint-ignore no-explicit-any
  const grouped = (groupBy.length ? base.groupby(groupBy) : base).rollup(rollups as any);
  // arquero's stdev is undefined for a single value; one seed has no spread.
  const zeroStd = Object.fromEntries(
    metrics.map((m) => [`${m}_std`, aq.escape((d: Row) => (d[`${m}_std`] as number | undefined) ?? 0)]),
  );
  return grouped.derive(zeroStd).select(names);
}

/** -0.0 → 0.0: a value that rounds to zero shows no sign. */
function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

/** "71.3 ± 1.2". A non-finite mean gives "—"; a non-finite std gives the mean alone. */
export function formatMeanStd(mean: number, std: number, digits = 1): string {
  if (!Number.isFinite(mean)) return "—";
  if (!Number.isFinite(std)) return fixed(mean, digits);
  return `${fixed(mean, digits)} ± ${fixed(std, digits)}`;
}

export interface MeanStdOptions {
  /** Fraction digits, for all metrics or per metric (default 1). */
  digits?: number | Record<string, number>;
  /** Display header per field name (group fields and metrics); unlisted fields keep their name. */
  labels?: Record<string, string>;
  /** Keep the `n` (seeds) column when the table has one (default true). */
  n?: boolean;
}

/**
 * A display table from `aggregateBySeed`'s output: group columns as they are, then one "mean ± std" string
 * column per metric, then `n`. Headers come from `labels`.
 */
export function meanStdTable(
  table: ColumnTable,
  groupBy: string[],
  metrics: string[],
  opts: MeanStdOptions = {},
): ColumnTable {
  const have = new Set(table.columnNames());
  const need = [...groupBy, ...metrics.flatMap((m) => [`${m}_mean`, `${m}_std`])];
  const missing = need.filter((c) => !have.has(c));
  if (missing.length) throw new ConfigError(`meanStdTable: table has no column ${missing.join(", ")}`);
  const label = (f: string) => opts.labels?.[f] ?? f;
  const digits = (m: string) => typeof opts.digits === "number" ? opts.digits : opts.digits?.[m] ?? 1;
  const withN = (opts.n ?? true) && have.has("n");
  const headers = [...groupBy.map(label), ...metrics.map(label), ...(withN ? ["n"] : [])];
  if (new Set(headers).size !== headers.length) throw new ConfigError(`meanStdTable: duplicate header in ${headers}`);
  const cols: Record<string, unknown[]> = Object.fromEntries(headers.map((h) => [h, []]));
  for (const r of tableRows(table)) {
    for (const g of groupBy) cols[label(g)].push(r[g]);
    for (const m of metrics) {
      cols[label(m)].push(formatMeanStd(r[`${m}_mean`] as number, r[`${m}_std`] as number, digits(m)));
    }
    if (withN) cols.n.push(r.n);
  }
  return aq.table(cols);
}

const NUMERIC_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?%?( ± [-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?%?)?$/i;

/** True when every non-empty value reads as a number (a number, or text such as "71.3 ± 1.2"). */
function isNumericColumn(values: unknown[]): boolean {
  const present = values.filter((v) => v !== null && v !== undefined && v !== "");
  return present.length > 0 &&
    present.every((v) => typeof v === "number" || (typeof v === "string" && (NUMERIC_TEXT.test(v) || v === "—")));
}

/** Fraction digits needed to show a number exactly, capped at `max`. */
function decimalsOf(x: number, max: number): number {
  for (let d = 0; d < max; d++) if (Math.abs(Number(x.toFixed(d)) - x) < 1e-12 * Math.max(1, Math.abs(x))) return d;
  return max;
}

/** Cell texts of one column: numbers share one number of fraction digits (at most `maxDigits`). */
function columnTexts(values: unknown[], maxDigits: number): string[] {
  const nums = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const d = Math.max(0, ...nums.map((x) => decimalsOf(x, maxDigits)));
  return values.map((v) => {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Number.isFinite(v) ? fixed(v, d) : String(v);
    return String(v).replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
  });
}

/**
 * A GitHub Markdown table with padded, aligned columns: numeric columns (numbers or "mean ± std" text)
 * right-aligned, the rest left-aligned. Numbers in a column share one precision, at most `maxDigits`
 * fraction digits (default 4). Ends with a newline.
 */
export function toMarkdown(table: ColumnTable, opts: { maxDigits?: number } = {}): string {
  const names = table.columnNames();
  const cols = names.map((name) => {
    const values = table.array(name) as unknown[];
    const texts = columnTexts(Array.from(values), opts.maxDigits ?? 4);
    const head = name.replace(/\|/g, "\\|");
    const width = Math.max(3, head.length, ...texts.map((t) => t.length));
    return { head, texts, width, right: isNumericColumn(Array.from(values)) };
  });
  const pad = (s: string, w: number, right: boolean) => right ? s.padStart(w) : s.padEnd(w);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const out = [
    line(cols.map((c) => pad(c.head, c.width, c.right))),
    line(cols.map((c) => c.right ? "-".repeat(c.width - 1) + ":" : ":" + "-".repeat(c.width - 1))),
  ];
  for (let i = 0; i < table.numRows(); i++) out.push(line(cols.map((c) => pad(c.texts[i], c.width, c.right))));
  return out.join("\n") + "\n";
}

/** CSV of the raw values (full precision numbers, not formatted strings). Ends with a newline. */
export function toCSV(table: ColumnTable): string {
  const csv = table.toCSV();
  return csv.endsWith("\n") ? csv : csv + "\n";
}

/** An HTML <table> for notebooks: numeric columns (and "mean ± std" text) right-aligned, ≤ 4 fraction digits. */
export function toHTML(table: ColumnTable): string {
  const align: Record<string, "l" | "r"> = {};
  for (const c of table.columnNames()) align[c] = isNumericColumn(Array.from(table.array(c) as unknown[])) ? "r" : "l";
  return table.toHTML({ maxdigits: 4, null: () => "", align });
}

/** A file-name stem: letters, digits, '_', '-', '.', not starting with '.'. */
export function checkName(name: string, what = "name"): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name)) {
    throw new ConfigError(`${what} "${name}" must use only letters, digits, '_', '-', '.' (no '/')`);
  }
  return name;
}

/** Write `<dir>/<name>.csv` (raw table) and `<dir>/<name>.md` (display table), each atomically. */
export async function writeTable(
  dir: string,
  name: string,
  rawTable: ColumnTable,
  displayTable: ColumnTable,
): Promise<{ csv: string; md: string }> {
  checkName(name, "table name");
  const csv = join(dir, `${name}.csv`);
  const md = join(dir, `${name}.md`);
  await atomicWrite(csv, toCSV(rawTable));
  await atomicWrite(md, toMarkdown(displayTable));
  return { csv, md };
}
