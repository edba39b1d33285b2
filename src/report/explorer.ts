/**
 * results/index.html: the results explorer, one self-contained page (no server, no network; opens from file://)
 * that `deno task report` writes beside REPORT.md. Per study: its question, interactive charts (vega-lite through
 * vega-embed, inlined from the locked npm packages: tooltips with every field of a point — method or
 * configuration, seed, CI — and a legend that filters the series it colours), sortable tables, the claim verdicts
 * with their CIs, and links to the study's cells.jsonl and manifest.json.
 */
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import type * as vl from "vega-lite";
import { claimVerdict, studyCharts, studyTables } from "../experiment/study.ts";
import { atomicWrite } from "../util/fs.ts";
import { studyContrast, type StudyReport } from "./report.ts";
import { contrastCells, powerLine } from "../experiment/claims.ts";

const require = createRequire(import.meta.url);

/**
 * The browser builds, in load order (vega-embed's UMD expects the globals `vega` and `vegaLite`): each package's
 * minified file beside its resolved entry point in `build/` (the packages' exports hide the path itself).
 */
const BUNDLES: [string, string][] = [
  ["vega", "vega.min.js"],
  ["vega-lite", "vega-lite.min.js"],
  ["vega-embed", "vega-embed.min.js"],
];

interface PageStudy {
  name: string;
  title: string;
  question: string;
  runs: number;
  links: { cells: string; manifest: string };
  charts: { name: string; caption: string; spec: unknown }[];
  tables: { name: string; caption: string; columns: string[]; rows: unknown[][] }[];
  claims: { claim: string; source: string; verdict: string; evidence: string }[];
}

/** The colour field of a unit spec's encoding, if it is a field. */
function colorField(unit: Record<string, unknown>): string | null {
  const enc = unit.encoding as Record<string, { field?: unknown }> | undefined;
  const f = enc?.color?.field;
  return typeof f === "string" ? f : null;
}

/**
 * A written chart made explorable: every mark shows its datum as a tooltip, and the first layer coloured by a field
 * gets a legend-bound point selection that fades the other series.
 */
export function interactive(spec: vl.TopLevelSpec): vl.TopLevelSpec {
  const s = structuredClone(spec) as unknown as Record<string, unknown>;
  const config = (s.config ?? {}) as Record<string, unknown>;
  s.config = { ...config, mark: { ...(config.mark as object ?? {}), tooltip: { content: "data" } } };
  const units: Record<string, unknown>[] = [];
  const walk = (node: Record<string, unknown>) => {
    if (Array.isArray(node.layer)) { for (const l of node.layer) walk(l as Record<string, unknown>); }
    else if (node.mark) units.push(node);
  };
  walk(s);
  const target = units.find((u) => colorField(u) && !(u as { params?: unknown }).params);
  if (target) {
    const field = colorField(target)!;
    target.params = [{ name: "legendPick", select: { type: "point", fields: [field] }, bind: "legend" }];
    const enc = target.encoding as Record<string, unknown>;
    enc.opacity = { condition: { param: "legendPick", value: 1 }, value: 0.15 };
  }
  return s as unknown as vl.TopLevelSpec;
}

function pageStudy(r: StudyReport, out: string): PageStudy {
  const { study, rows, dir } = r;
  const rel = (f: string) => relative(out, join(dir, f)).replaceAll("\\", "/");
  const contrast = rows.length ? studyContrast(study, rows) : null;
  return {
    name: study.name,
    title: study.title,
    question: study.question,
    runs: rows.length,
    links: { cells: rel("cells.jsonl"), manifest: rel("manifest.json") },
    charts: rows.length
      ? studyCharts(study, rows).map((c) => ({ name: c.name, caption: c.caption, spec: interactive(c.spec) }))
      : [],
    tables: rows.length
      ? studyTables(study, rows).map((t) => ({
        name: t.name,
        caption: t.caption,
        columns: t.display.columnNames(),
        rows: (t.display.objects() as Record<string, unknown>[]).map((o) => t.display.columnNames().map((c) => o[c])),
      })).concat(
        contrast
          ? [{
            name: "contrast",
            caption: `${contrast.caption}. ${powerLine(contrast.table).replaceAll("**", "")}`,
            ...contrastCells(contrast.table, contrast.reference),
          }]
          : [],
      )
      : [],
    claims: rows.length && study.papers
      ? study.papers.claims(rows).map((c) => ({
        claim: c.claim,
        source: c.source,
        verdict: claimVerdict(c),
        evidence: c.evidence,
      }))
      : [],
  };
}

/** `</script>` inside inlined code or JSON would end the script element early. */
const scriptSafe = (s: string) => s.replaceAll("</script", "<\\/script");

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #222; }
header { background: #1f3b57; color: white; padding: 14px 24px; }
header h1 { margin: 0; font-size: 22px; } header p { margin: 4px 0 0; opacity: .85; }
nav { padding: 8px 24px; border-bottom: 1px solid #ddd; position: sticky; top: 0; background: white; z-index: 2; }
nav a { margin-right: 18px; color: #1f3b57; }
section { padding: 8px 24px 28px; border-bottom: 1px solid #eee; }
.chart { display: inline-block; vertical-align: top; margin: 8px 16px 8px 0; }
.caption { font-size: 13px; color: #555; max-width: 620px; }
table { border-collapse: collapse; margin: 6px 0 18px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f5f8; cursor: pointer; user-select: none; } th:first-child, td:first-child { text-align: left; }
th.asc::after { content: " ▲"; } th.desc::after { content: " ▼"; }
.holds { color: #17623a; font-weight: 600; } .contradicted { color: #a1271b; font-weight: 600; }
.undecided { color: #7a5d00; font-weight: 600; }
`;

const SCRIPT = `
const studies = JSON.parse(document.getElementById("data").textContent);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
};
const num = (v) => { const m = String(v).match(/^[-+−]?\\d+(\\.\\d+)?/); return m ? parseFloat(m[0].replace("−", "-")) : NaN; };
function sortable(table) {
  table.querySelectorAll("th").forEach((th, col) => th.addEventListener("click", () => {
    const dir = th.classList.contains("asc") ? -1 : 1;
    table.querySelectorAll("th").forEach((h) => h.classList.remove("asc", "desc"));
    th.classList.add(dir === 1 ? "asc" : "desc");
    const body = table.tBodies[0];
    const rows = [...body.rows].sort((a, b) => {
      const [x, y] = [a.cells[col].textContent, b.cells[col].textContent];
      const [nx, ny] = [num(x), num(y)];
      return dir * (Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny);
    });
    body.append(...rows);
  }));
}
const nav = document.querySelector("nav");
const main = document.querySelector("main");
for (const s of studies) {
  nav.append(el("a", { href: "#" + s.name }, s.name));
  const sec = el("section", { id: s.name }, el("h2", {}, s.title), el("p", {}, s.question));
  const links = el("p", {}, s.runs + " runs · ", el("a", { href: s.links.cells }, "cells.jsonl"), " · ",
    el("a", { href: s.links.manifest }, "manifest.json"));
  sec.append(links);
  if (!s.runs) sec.append(el("p", {}, "Not run yet: deno task experiment " + s.name));
  for (const c of s.charts) {
    const box = el("div", { class: "chart", "data-chart": s.name + "/" + c.name });
    const view = el("div");
    box.append(view, el("div", { class: "caption" }, c.caption));
    sec.append(box);
    vegaEmbed(view, c.spec, { actions: false, renderer: "svg" }).catch((e) => console.error(s.name, c.name, e));
  }
  for (const t of s.tables) {
    sec.append(el("h3", {}, t.caption));
    const table = el("table", { "data-table": s.name + "/" + t.name });
    table.append(el("thead", {}, el("tr", {}, ...t.columns.map((c) => el("th", {}, c)))));
    table.append(el("tbody", {}, ...t.rows.map((r) => el("tr", {}, ...r.map((v) => el("td", {}, v ?? ""))))));
    sortable(table);
    sec.append(table);
  }
  if (s.claims.length) {
    sec.append(el("h3", {}, "The papers' claims on these runs"));
    const table = el("table", { "data-table": s.name + "/claims" });
    table.append(el("thead", {}, el("tr", {}, ...["claim", "source", "verdict", "evidence (Δ [95 % CI])"].map((c) => el("th", {}, c)))));
    table.append(el("tbody", {}, ...s.claims.map((c) => el("tr", {}, el("td", {}, c.claim), el("td", {}, c.source),
      el("td", { class: c.verdict.split(" ")[0] }, c.verdict), el("td", {}, c.evidence)))));
    sortable(table);
    sec.append(table);
  }
  main.append(sec);
}
`;

/** Write `<out>/index.html` for `reports`; returns its path. */
export async function writeExplorer(reports: StudyReport[], out: string, intro: string): Promise<string> {
  const studies = reports.map((r) => pageStudy(r, out));
  const bundles = await Promise.all(
    BUNDLES.map(([pkg, file]) => Deno.readTextFile(join(dirname(require.resolve(pkg)), file))),
  );
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MoLE Lab — results explorer</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style>
${bundles.map((b) => `<script>${scriptSafe(b)}</script>`).join("\n")}
</head><body>
<header><h1>MoLE Lab — results explorer</h1><p>${intro.replaceAll("<", "&lt;")}</p></header>
<nav></nav><main></main>
<script type="application/json" id="data">${scriptSafe(JSON.stringify(studies))}</script>
<script>${SCRIPT}</script>
</body></html>
`;
  const path = join(out, "index.html");
  await atomicWrite(path, html);
  return path;
}
