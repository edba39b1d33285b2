/**
 * results/REPORT.md: every study that has results — its question, its tables and charts, the papers' own
 * numbers (clearly theirs), and whether each paper's qualitative claim holds on our runs.
 */
import { join, relative } from "node:path";
import type { CellRow } from "../experiment/cell.ts";
import { CELLS_FILE, readRows, resolveGrid } from "../experiment/runner.ts";
import { claimVerdict, type Study, type StudyOptions } from "../experiment/study.ts";
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

function manifestLine(m: Record<string, unknown> | null): string {
  if (!m) return "";
  const backend = m.backend as { name?: string; detail?: string } | string | undefined;
  const b = typeof backend === "string" ? backend : `${backend?.name ?? "?"}`;
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
      manifestLine(manifest)
    }`,
    "",
  );
  for (const t of study.tables(rows)) out.push(`**${t.caption}**`, "", toMarkdown(t.display), "");
  for (const c of study.charts(rows)) {
    const png = relative(reportDir, join(dir, `${c.name}.png`));
    out.push(`![${c.caption}](${png})`, "", `_${c.caption}._`, "");
  }
  if (study.papers) {
    if (study.papers.table) out.push("**The papers' reported numbers (theirs, not ours):** " + study.papers.table, "");
    const claims = study.papers.claims(rows);
    if (claims.length) {
      out.push(
        "| paper's claim | source | holds on our runs? | our evidence (mean ± std over seeds) |",
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

/** Load each study's rows (those of its current grid) from `<out>/<study>/cells.jsonl`. */
export async function loadStudies(studies: Study[], out: string, opts: StudyOptions): Promise<StudyReport[]> {
  const reports: StudyReport[] = [];
  for (const study of studies) {
    const dir = join(out, study.name);
    const all = await readRows(join(dir, CELLS_FILE));
    // Prefer rows of the full grid; fall back to whatever is on disk (e.g. a --quick run).
    const hashes = new Set((await resolveGrid(study, opts)).map((c) => c.hash));
    const ofGrid = all.filter((row) => hashes.has(row.hash));
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
