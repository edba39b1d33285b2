/**
 * results/REPORT.md: every study that has results — its question, its tables and charts, the papers' own
 * numbers (clearly theirs), and whether each paper's qualitative claim holds on our runs.
 */
import { join, relative } from "node:path";
import type { CellRow } from "../experiment/cell.ts";
import { CELLS_FILE, readRows, resolveGrid, rowsForGrid } from "../experiment/runner.ts";
import { claimVerdict, type Study, studyCharts, type StudyOptions, studyTables } from "../experiment/study.ts";
import { contrastMarkdown, type ContrastRow, contrastTable, powerLine } from "../experiment/claims.ts";
import type { Protocol } from "../train/evaluate.ts";
import { atomicWrite, exists, removeStaleTemps } from "../util/fs.ts";
import { toMarkdown } from "./tables.ts";

export interface StudyReport {
  study: Study;
  rows: CellRow[];
  dir: string;
}

function escapeCell(s: string): string {
  return s.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/**
 * The backend the rows were trained on. Each row records its own (`env.backend`), and only rows say it for
 * sure: a manifest's `backend` is the writing process's, absent when a `--report` rebuild initialised none
 * (the committed manifests lack it), and a name or `{ name, … }` otherwise.
 */
function backendOf(m: Record<string, unknown>, rows: CellRow[]): string {
  const ofRows = [...new Set(rows.map((r) => r.env?.backend).filter((b): b is string => Boolean(b)))];
  if (ofRows.length) return ofRows.join(", ");
  if (Array.isArray(m.rowBackends) && m.rowBackends.length) return m.rowBackends.join(", ");
  const backend = m.backend as { name?: string } | string | null | undefined;
  return (typeof backend === "string" ? backend : backend?.name) ?? "?";
}

/** The study header's provenance line: commit, backend, versions, when written. */
export function manifestLine(m: Record<string, unknown> | null, rows: CellRow[] = []): string {
  if (!m) return "";
  const b = backendOf(m, rows);
  const v = m.versions as { deno?: string; tfjs?: string } | undefined;
  return `Commit \`${String(m.commit ?? "unknown").slice(0, 12)}\` · backend ${b} · Deno ${v?.deno ?? "?"} · ` +
    `tfjs ${v?.tfjs ?? "?"} · written ${m.written ?? "?"}`;
}

/** The markdown section of one study. */
export async function studySection(r: StudyReport, reportDir: string): Promise<string> {
  const { study, rows, dir } = r;
  const out: string[] = [`## ${study.title}`, "", `_Study \`${study.name}\`._ ${study.question}`, ""];
  if (rows.length === 0) {
    out.push(`Not run yet: \`deno task experiment ${study.name}\`.`, "");
    return out.join("\n");
  }
  const manifestPath = join(dir, "manifest.json");
  const manifest = (await exists(manifestPath)) ? JSON.parse(await Deno.readTextFile(manifestPath)) : null;
  const seeds = new Set(rows.map((x) => x.seed)).size;
  const protocols = [...new Set(rows.flatMap((x) => x.config.eval.protocols))].join(", ");
  out.push(
    `${rows.length} runs, ${seeds} seed${seeds === 1 ? "" : "s"} each configuration · protocol: ${protocols}. ${
      manifestLine(manifest, rows)
    }`,
    "",
  );
  for (const t of studyTables(study, rows)) out.push(`**${t.caption}**`, "", toMarkdown(t.display), "");
  for (const c of studyCharts(study, rows)) {
    const png = relative(reportDir, join(dir, `${c.name}.png`));
    out.push(`![${c.caption}](${png})`, "", `_${c.caption}._`, "");
  }
  const contrast = studyContrast(study, rows);
  if (contrast) {
    out.push(`**${contrast.caption}**`, "", contrastMarkdown(contrast.table, contrast.reference), "");
    out.push(powerLine(contrast.table), "");
  }
  if (study.papers) {
    if (study.papers.table) out.push("**The papers' reported numbers (theirs, not ours):** " + study.papers.table, "");
    const claims = study.papers.claims(rows);
    if (claims.length) {
      out.push(
        "| paper's claim | source | verdict (95 % CI) | our evidence: Δ [95 % CI], paired bootstrap over seeds and items |",
        "| --- | --- | --- | --- |",
      );
      for (const c of claims) {
        out.push(
          `| ${escapeCell(c.claim)} | ${escapeCell(c.source)} | ${claimVerdict(c)} | ${escapeCell(c.evidence)} |`,
        );
      }
      out.push("");
    }
  }
  return out.join("\n");
}

/** Each configuration − the study's reference with its paired CI, or null when the reference has no rows. */
export function studyContrast(
  study: Study,
  rows: CellRow[],
): { caption: string; reference: string; table: ContrastRow[] } | null {
  const labels = [...new Set(rows.map((x) => x.label))];
  if (!study.reference || !labels.includes(study.reference)) return null;
  const protocol = (rows[0].config.eval.protocols[0] ?? "score") as Protocol;
  return {
    caption:
      `Each configuration − ${study.reference}: average accuracy, Δ in points with its paired bootstrap 95 % CI ` +
      `(seeds, then items; protocol: ${protocol})`,
    reference: study.reference,
    table: contrastTable(rows, protocol, study.reference, labels),
  };
}

/** Load each study's rows (those of its current grid) from `<out>/<study>/cells.jsonl`. */
export async function loadStudies(studies: Study[], out: string, opts: StudyOptions): Promise<StudyReport[]> {
  const reports: StudyReport[] = [];
  for (const study of studies) {
    const dir = join(out, study.name);
    const all = await readRows(join(dir, CELLS_FILE));
    // Prefer rows of the full grid (every finished seed); fall back to whatever is on disk (e.g. a --quick run).
    const ofGrid = rowsForGrid(all, await resolveGrid(study, opts));
    reports.push({ study, rows: ofGrid.length ? ofGrid : all, dir });
  }
  return reports;
}

/** Write REPORT.md under `out`; returns its path. */
export async function writeReport(reports: StudyReport[], out: string, intro: string): Promise<string> {
  const parts = [`# MoLE Lab — results report`, "", intro, ""];
  for (const r of reports) parts.push(await studySection(r, out));
  const path = join(out, "REPORT.md");
  await removeStaleTemps(out); // REPORT.md.<hex>.tmp a killed run left
  await atomicWrite(path, parts.join("\n").replace(/\n{3,}/g, "\n\n") + "\n");
  return path;
}
