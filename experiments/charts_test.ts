/** The studies' own chart specs, rendered from rows of their grids: what a reader sees on the axes. */
import { renderSvg } from "../src/report/charts.ts";
import { assert, assertEquals } from "../src/testing/asserts.ts";
import { fakeRow } from "../src/testing/rows.ts";
import { adamoleThreshold } from "./adamole_threshold.ts";

const textNodes = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

Deno.test("adamole-threshold: the τ_max axis names the settings as run (0, 1/2N, …, 1), not rounded decimals", async () => {
  // One row per configuration of the study's grid, as the runner writes them (accuracy and routing are stand-ins).
  const grid = adamoleThreshold.cells({ quick: true, seeds: [0], data: null, base: null });
  const rows = grid.map((c, i) =>
    fakeRow(c.label, 0, { boolq: [1, i % 2, 0, 1] }, { group: c.group, routing: { meanActive: 4 - i / 4, entropy: 1 } })
  );
  assert(rows.length > 0, "the grid has rows");
  const chart = adamoleThreshold.charts(rows).find((c) => c.name === "threshold")!;
  const texts = textNodes(await renderSvg(chart.spec));
  const axis = texts.slice(0, texts.indexOf("maximum threshold τ_max"));
  assertEquals(axis, ["0", "1/2N", "1/N", "3/2N", "2/N", "1"]);
});
