/**
 * Charts: vega-lite 6 spec → vega 6 view (headless) → SVG → PNG with @resvg/resvg-wasm.
 *
 * resvg-wasm has no system fonts: without font buffers every text node silently vanishes from the PNG. The
 * DejaVu fonts come from the `dejavu-fonts-ttf` npm package, so output does not depend on the machine; the
 * wasm module and fonts are loaded once, lazily (~100 ms). Chart builders live in `chart_specs.ts`.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import * as vega from "vega";
import * as vl from "vega-lite";
import { ConfigError } from "../errors.ts";
import { atomicWrite, atomicWriteJson } from "../util/fs.ts";
import { checkName } from "./tables.ts";

import { FONT_FAMILY } from "./chart_specs.ts";

export * from "./chart_specs.ts";

const FONT_FILES = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf"];

/** Compile a vega-lite spec to vega, collecting vega-lite's warnings instead of printing them. */
export function compileSpec(spec: vl.TopLevelSpec): { vega: vega.Spec; warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    level: () => logger,
    debug: () => logger,
    info: () => logger,
    warn: (...a: unknown[]) => (warnings.push(a.map(String).join(" ")), logger),
    error: (...a: unknown[]) => (warnings.push(`error: ${a.map(String).join(" ")}`), logger),
  };
  // deno-lint-ignore no-explicit-any
  const out = vl.compile(spec, { logger: logger as any });
  return { vega: out.spec as vega.Spec, warnings };
}

/** Render a vega-lite spec to an SVG string (headless; compile warnings go to console.warn). */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const { vega: vg, warnings } = compileSpec(spec);
  for (const w of warnings) console.warn(`[charts] vega-lite: ${w}`);
  const view = new vega.View(vega.parse(vg), { renderer: "none" });
  try {
    return renumberIds(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/**
 * vega numbers clip paths and gradients with process-wide counters (`clip7`, `gradient_3`), so the same chart
 * rendered twice in one process differed. Renumbering each document's ids in order of appearance makes the SVG a
 * function of the spec alone (rebuilt outputs compare equal, byte for byte).
 */
export function renumberIds(svg: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\bid="([A-Za-z_-]+?)(\d+)"/g)) {
    if (!ids.has(m[1] + m[2])) ids.set(m[1] + m[2], `${m[1]}${ids.size}`);
  }
  if (!ids.size) return svg;
  return svg.replace(/(\bid="|url\(#|href="#)([A-Za-z_-]+?\d+)(?=[")])/g, (all, lead: string, id: string) => {
    const to = ids.get(id);
    return to === undefined ? all : lead + to;
  });
}

let fontsReady: Promise<Uint8Array[]> | null = null;

/** Initialise the resvg wasm module and read the fonts, once per process. */
function resvgFonts(): Promise<Uint8Array[]> {
  fontsReady ??= (async () => {
    const require = createRequire(import.meta.url);
    await initWasm(await Deno.readFile(require.resolve("@resvg/resvg-wasm/index_bg.wasm")));
    return await Promise.all(FONT_FILES.map((f) => Deno.readFile(require.resolve(`dejavu-fonts-ttf/ttf/${f}`))));
  })();
  fontsReady.catch(() => (fontsReady = null)); // a failed load may be retried
  return fontsReady;
}

/** Rasterise an SVG to PNG bytes at `scale` × its size, on white, with the DejaVu fonts. */
export async function renderPng(svg: string, scale = 2): Promise<Uint8Array> {
  if (!(scale > 0 && scale <= 16)) throw new ConfigError(`renderPng: scale must be in (0, 16], got ${scale}`);
  const fontBuffers = await resvgFonts();
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: scale },
    font: { fontBuffers, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
  });
  try {
    const image = resvg.render();
    try {
      return image.asPng();
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

/** True when some `data` object in the spec points at a URL (a written spec must carry its data inline). */
function hasUrlData(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasUrlData);
  if (node === null || typeof node !== "object") return false;
  const o = node as Record<string, unknown>;
  const data = o.data as Record<string, unknown> | undefined;
  if (data && typeof data === "object" && "url" in data) return true;
  return Object.values(o).some(hasUrlData);
}

/** Write `<name>.vl.json` (the spec, data inline), `<name>.svg` and `<name>.png` into `dir`, each atomically. */
export async function writeChart(
  dir: string,
  name: string,
  spec: vl.TopLevelSpec,
  scale = 2,
): Promise<{ spec: string; svg: string; png: string }> {
  checkName(name, "chart name");
  if (hasUrlData(spec)) throw new ConfigError(`chart "${name}": data must be inline (data.values), not a url`);
  const svg = await renderSvg(spec);
  const png = await renderPng(svg, scale);
  const paths = { spec: join(dir, `${name}.vl.json`), svg: join(dir, `${name}.svg`), png: join(dir, `${name}.png`) };
  await atomicWriteJson(paths.spec, spec);
  await atomicWrite(paths.svg, svg);
  await atomicWrite(paths.png, png);
  return paths;
}
