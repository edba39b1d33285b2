import { Buffer } from "node:buffer";
import { assert, assertEquals } from "../testing/asserts.ts";
import { barWithErrorBars, VEGA_LITE_SCHEMA } from "./charts.ts";
import {
  displayChart,
  displayTable,
  forVegaLiteV5,
  JUPYTER_DISPLAY,
  VEGA_LITE_MIME,
  VEGA_LITE_V5_SCHEMA,
} from "./display.ts";
import { aggregateBySeed, meanStdTable, tableRows, toHTML, toMarkdown } from "./tables.ts";

const ROWS = [{ m: "lora", acc: 60 }, { m: "lora", acc: 62 }, { m: "mole", acc: 66 }];

Deno.test("the display symbol is the one the Deno kernel looks for", () => {
  assertEquals(JUPYTER_DISPLAY, Symbol.for("Jupyter.display"));
  assertEquals(VEGA_LITE_MIME, "application/vnd.vegalite.v5+json");
});

Deno.test("displayTable: html, markdown and plain text of the table", () => {
  const t = meanStdTable(aggregateBySeed(ROWS, ["m"], ["acc"]), ["m"], ["acc"], { labels: { acc: "accuracy (%)" } });
  const bundle = displayTable(t)[JUPYTER_DISPLAY]();
  assertEquals(Object.keys(bundle).sort(), ["text/html", "text/markdown", "text/plain"]);
  assertEquals(bundle["text/html"], toHTML(t));
  assertEquals(bundle["text/markdown"], toMarkdown(t));
  assertEquals(bundle["text/plain"], toMarkdown(t));
  assert(
    (bundle["text/markdown"] as string).includes("| lora |   61.0 ± 1.4 |   2 |"),
    bundle["text/markdown"] as string,
  );
});

Deno.test("displayChart: vega-lite v5 spec with inline data, SVG, base64 PNG, plain-text title", async () => {
  const spec = barWithErrorBars({
    data: tableRows(aggregateBySeed(ROWS, ["m"], ["acc"])),
    x: "m",
    y: "acc_mean",
    yErr: "acc_std",
    title: "Accuracy per method",
    xTitle: "method",
    yTitle: "accuracy (%)",
  });
  const bundle = (await displayChart(spec))[JUPYTER_DISPLAY]();
  assertEquals(Object.keys(bundle).sort(), [VEGA_LITE_MIME, "image/png", "image/svg+xml", "text/plain"].sort());
  const vl = bundle[VEGA_LITE_MIME] as Record<string, unknown>;
  assertEquals(vl.$schema, VEGA_LITE_V5_SCHEMA);
  assertEquals(vl, forVegaLiteV5(spec) as unknown as Record<string, unknown>);
  assertEquals((vl.data as { values: unknown[] }).values.length, 2);
  assertEquals((spec as { $schema?: string }).$schema, VEGA_LITE_SCHEMA); // the caller's spec is not changed
  const svg = bundle["image/svg+xml"] as string;
  assert(svg.startsWith("<svg") && svg.includes(">Accuracy per method</text>"));
  const png = Buffer.from(bundle["image/png"] as string, "base64");
  assertEquals([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  const svgWidth = Number(/width="(\d+)"/.exec(svg)![1]);
  assertEquals(png.readUInt32BE(16), svgWidth * 2);
  assertEquals(bundle["text/plain"], "chart: Accuracy per method");
});
