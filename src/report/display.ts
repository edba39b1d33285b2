/**
 * Rich display in Jupyter notebooks under the Deno kernel: a cell whose value has a
 * `[Symbol.for("Jupyter.display")]()` method shows the MIME bundle that method returns.
 *
 * Charts go out as "application/vnd.vegalite.v5+json" (JupyterLab's renderer forces vega-lite mode for that
 * type; our specs use nothing newer than vega-lite 5, and `$schema` is set to the v5 URL so vega-embed does
 * not warn about a version mismatch), with "image/svg+xml" and a base64 "image/png" fallback for viewers
 * without a vega renderer (GitHub, nbconvert to HTML/PDF).
 */
import { Buffer } from "node:buffer";
import type * as vl from "vega-lite";
import { renderPng, renderSvg } from "./charts.ts";
import { type ColumnTable, toHTML, toMarkdown } from "./tables.ts";

export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;
export const VEGA_LITE_MIME = "application/vnd.vegalite.v5+json";
export const VEGA_LITE_V5_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

export type MimeBundle = Record<string, unknown>;
export interface Displayable {
  [JUPYTER_DISPLAY](): MimeBundle;
}

/** Wrap a precomputed bundle so the Deno kernel displays it. */
export function displayable(bundle: MimeBundle): Displayable {
  return { [JUPYTER_DISPLAY]: () => bundle };
}

/** A table as HTML (notebook), Markdown (aligned) and plain text (the same aligned Markdown). */
export function displayTable(table: ColumnTable): Displayable {
  const md = toMarkdown(table);
  return displayable({ "text/html": toHTML(table), "text/markdown": md, "text/plain": md });
}

/** The spec as a JupyterLab v5 renderer wants it: a copy with the v5 `$schema`. */
export function forVegaLiteV5(spec: vl.TopLevelSpec): vl.TopLevelSpec {
  return { ...spec, $schema: VEGA_LITE_V5_SCHEMA } as vl.TopLevelSpec;
}

function titleText(spec: vl.TopLevelSpec): string {
  const t = (spec as { title?: unknown }).title;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && "text" in t) return String((t as { text: unknown }).text);
  return "untitled";
}

/** A chart as interactive vega-lite, SVG and PNG (base64, at `scale` × size). */
export async function displayChart(spec: vl.TopLevelSpec, scale = 2): Promise<Displayable> {
  const svg = await renderSvg(spec);
  const png = await renderPng(svg, scale);
  return displayable({
    [VEGA_LITE_MIME]: forVegaLiteV5(spec),
    "image/svg+xml": svg,
    "image/png": Buffer.from(png).toString("base64"),
    "text/plain": `chart: ${titleText(spec)}`,
  });
}

type JupyterApi = { display(bundle: MimeBundle, opts: { raw: boolean }): Promise<void> };

/**
 * Display now (several per cell) under the Deno kernel; outside a notebook, print the text/plain form, so
 * the same code runs as a script.
 */
export async function show(d: Displayable): Promise<void> {
  const bundle = d[JUPYTER_DISPLAY]();
  const jupyter = (Deno as unknown as { jupyter?: JupyterApi }).jupyter;
  if (jupyter) await jupyter.display(bundle, { raw: true });
  else console.log(String(bundle["text/plain"] ?? bundle["text/markdown"] ?? ""));
}

/** Markdown as a displayable (the Deno kernel renders text/markdown). */
export function markdown(text: string): Displayable {
  return displayable({ "text/markdown": text, "text/plain": text });
}
