import type { CellRow } from "../experiment/cell.ts";
import type { LayerSpecialisation } from "../moe/specialisation.ts";
import { assert, assertEquals } from "../testing/asserts.ts";
import { compileSpec, renderPng, renderSvg } from "./charts.ts";
import {
  cellSpecialisation,
  specialisationChart,
  specialisationClaim,
  specialisationSummary,
  specialisationTable,
} from "./specialisation.ts";
import { tableRows, toMarkdown } from "./tables.ts";

function layer(layer: number, nmi: number, null95: number, p = 0.001): LayerSpecialisation {
  return {
    layer,
    nExperts: 4,
    examples: 320,
    nmi,
    nullMean: null95 / 2,
    null95,
    ratio: nmi / null95,
    p,
    permutations: 1000,
  };
}

/** A minimal row: only the fields the specialisation report reads. */
function row(label: string, seed: number, spec?: LayerSpecialisation[]): CellRow {
  return {
    label,
    seed,
    routing: spec === undefined
      ? null
      : { sites: {}, layers: [], byTask: {}, ...(spec.length ? { specialisation: spec } : {}) },
  } as unknown as CellRow;
}

const ROWS = [
  ...[1, 2, 3].map((s) => row("AdaMoLE", s, [layer(0, 0.2 + s / 100, 0.02), layer(1, 0.1 + s / 100, 0.02)])),
  ...[1, 2, 3].map((s) => row("Soft MoA", s, [layer(0, 0.01 + s / 1000, 0.02, 0.6), layer(1, 0.012, 0.02, 0.5)])),
  ...[1, 2, 3].map((s) => row("LoRA", s)), // no routing
  row("old", 1, []), // routed, written before the measure was recorded
];

Deno.test("cellSpecialisation averages over layers; rows without the measure give null", () => {
  const c = cellSpecialisation(ROWS[0])!;
  assertEquals(c.layers, 2);
  assert(Math.abs(c.nmi - (0.21 + 0.11) / 2) < 1e-12);
  assert(Math.abs(c.excess - (0.21 + 0.11 - 0.04) / 2) < 1e-12);
  assertEquals(c.significant, 2);
  assertEquals(cellSpecialisation(ROWS[6]), null);
  assertEquals(cellSpecialisation(ROWS.at(-1)!), null);
});

Deno.test("summary and table: mean NMI with its CI over seeds, null95, ratio, layers with p < 0.05", () => {
  const s = specialisationSummary(ROWS, undefined, ["Soft MoA", "AdaMoLE"]);
  assertEquals(s.map((x) => x.key), ["Soft MoA", "AdaMoLE"]);
  const ada = s[1];
  assertEquals(ada.seeds, 3);
  assert(Math.abs(ada.nmi.delta - 0.17) < 1e-12);
  assert(ada.nmi.lo <= ada.nmi.delta && ada.nmi.delta <= ada.nmi.hi);
  assert(Math.abs(ada.ratio! - 0.17 / 0.02) < 1e-9);
  assertEquals([ada.significant, ada.layers], [6, 6]);
  const [t] = specialisationTable(ROWS, { order: ["AdaMoLE", "Soft MoA"] });
  assertEquals(t.name, "specialisation");
  assertEquals(tableRows(t.raw).map((r) => r.method), ["AdaMoLE", "Soft MoA"]);
  const md = toMarkdown(t.display);
  assert(md.includes("0.170 ["), md);
  assert(md.includes("6/6") && md.includes("0/6"), md);
  assertEquals(specialisationTable([ROWS[6], ROWS.at(-1)!]), []);
});

Deno.test("chart: bars per method and layer with CI and the null tick; compiles without warnings and renders", async () => {
  const [c] = specialisationChart(ROWS, { order: ["AdaMoLE", "Soft MoA"] });
  assertEquals(compileSpec(c.spec).warnings, []);
  const values = (c.spec as { data: { values: Record<string, unknown>[] } }).data.values;
  assertEquals(values.map((v) => `${v.config}/${v.layer}`), [
    "AdaMoLE/layer 0",
    "AdaMoLE/layer 1",
    "Soft MoA/layer 0",
    "Soft MoA/layer 1",
  ]);
  const svg = await renderSvg(c.spec);
  assert(svg.includes("AdaMoLE") && svg.includes("null"));
  assert((await renderPng(svg, 1)).length > 1000);
  assertEquals(specialisationChart([ROWS[6]]), []);
});

Deno.test("claim: holds when every method's CI of NMI − null95 is above 0; contradicted or not tested otherwise", () => {
  const opts = { claim: "routing specialises", source: "test" };
  const holds = specialisationClaim(ROWS, ["AdaMoLE"], opts);
  assertEquals(holds.verdict, "holds");
  assert(holds.interval!.lo > 0);
  assert(holds.evidence.includes("AdaMoLE 0.170 vs null95 0.020"), holds.evidence);
  const both = specialisationClaim(ROWS, ["AdaMoLE", "Soft MoA"], opts);
  assertEquals(both.verdict, "contradicted"); // Soft MoA sits below its null on every seed
  assert(both.interval!.hi < 0);
  assertEquals(specialisationClaim(ROWS, ["AdaMoLE", "MoLE top-2"], opts).verdict, "undecided");
  assertEquals(specialisationClaim(ROWS, ["MoLE top-2"], opts).evidence, "not tested: not run");
  const old = specialisationClaim(ROWS, ["old"], opts);
  assertEquals([old.verdict, old.evidence], [null, "not tested: rows lack routing.specialisation; rerun"]);
});
