/** The studies' own chart specs, rendered from committed rows: what a reader sees on the axes. */
import { renderSvg } from "../src/report/charts.ts";
import { readRows } from "../src/experiment/runner.ts";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { adamoleThreshold } from "./adamole_threshold.ts";

const textNodes = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

Deno.test("adamole-threshold: the τ_max axis names the settings as run (0, 1/2N, …, 1), not rounded decimals", async () => {
  const rows = await readRows(new URL("../results/adamole-threshold/cells.jsonl", import.meta.url).pathname);
  assert(rows.length > 0, "committed rows");
  const chart = adamoleThreshold.charts(rows).find((c) => c.name === "threshold")!;
  const texts = textNodes(await renderSvg(chart.spec));
  const axis = texts.slice(0, texts.indexOf("maximum threshold τ_max"));
  assertEquals(axis, ["0", "1/2N", "1/N", "3/2N", "2/N", "1"]);
});
