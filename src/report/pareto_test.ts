import { assertEquals } from "../testing/asserts.ts";
import { fakeRow } from "../testing/rows.ts";
import { renderSvg } from "./charts.ts";
import { paretoCharts, paretoFront } from "./pareto.ts";

Deno.test("paretoFront: a point is dominated when another is as accurate for no more cost, better in one", () => {
  const pts = [
    { cost: 1, value: 50 }, // cheapest: on the frontier
    { cost: 2, value: 60 }, // more accurate for more: on
    { cost: 3, value: 55 }, // dominated by (2, 60)
    { cost: 2, value: 60 }, // a tie with the second: neither dominates the other
    { cost: 4, value: 70 }, // on
    { cost: 5, value: 70 }, // dominated by (4, 70): same accuracy, more cost
  ];
  assertEquals(paretoFront(pts), [true, true, false, true, true, false]);
  assertEquals(paretoFront([]), []);
});

Deno.test("paretoCharts: accuracy against parameters and time, rendered with the frontier and the dominated", async () => {
  const rows = ["A", "B", "C"].flatMap((label, i) =>
    [0, 1].map((seed) => fakeRow(label, seed, { boolq: [1, i % 2, 0, 1] }))
  );
  const charts = paretoCharts(rows, "score", (r) => r.label);
  assertEquals(charts.map((c) => c.name), ["pareto_params", "pareto_time"]);
  for (const c of charts) {
    const svg = await renderSvg(c.spec);
    for (const text of ["on the frontier", "A", "B", "C"]) assertEquals(svg.includes(`>${text}<`), true, text);
  }
  assertEquals(paretoCharts(rows.slice(0, 2), "score", (r) => r.label), [], "one configuration: no trade-off");
});
