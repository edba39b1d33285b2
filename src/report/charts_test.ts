import type * as vl from "vega-lite";
import { ConfigError } from "../errors.ts";
import { assert, assertAlmostEquals, assertEquals, assertNotEquals, assertRejects } from "../testing/asserts.ts";
import {
  barWithErrorBars,
  categories,
  compileSpec,
  fieldRef,
  heatmap,
  labelAngle,
  lineOverTime,
  lineWithBand,
  renderPng,
  renderSvg,
  renumberIds,
  scatter,
  writeChart,
} from "./charts.ts";

const METHODS = [
  { method: "LoRA", task: "boolq", acc: 62.1, std: 1.3, active: 1 },
  { method: "MoLE", task: "boolq", acc: 66.4, std: 0.9, active: 2 },
  { method: "AdaMoLE", task: "boolq", acc: 67.8, std: 1.1, active: 2.6 },
  { method: "LoRA", task: "piqa", acc: 55.1, std: 2.3, active: 1 },
  { method: "MoLE", task: "piqa", acc: 58.4, std: 1.9, active: 2 },
  { method: "AdaMoLE", task: "piqa", acc: 60.2, std: 0.6, active: 3.1 },
];
const SWEEP = [0.1, 0.2, 0.3, 0.5].flatMap((tau, i) =>
  ["AdaMoLE", "MoLE"].map((method, j) => ({ tau, method, acc: 60 + 2 * i - 3 * j, std: 1, active: 8 - i - j }))
);
const STEPS = Array.from(
  { length: 40 },
  (_, s) => ["k=2", "k=4"].map((config, j) => ({ step: 10 * s, config, entropy: 2 - 0.3 * j - 0.02 * s })),
).flat();
const USAGE = ["boolq", "piqa"].flatMap((task, i) =>
  ["e0", "e1", "e2", "e10"].map((expert, e) => ({ task, expert, share: ((i + 1) * (e + 1)) % 5 / 5 }))
);

/** One row per builder: name, spec, texts the SVG must show. Adding a builder = adding a row. */
const CASES: { name: string; spec: vl.TopLevelSpec; texts: string[] }[] = [
  {
    name: "barWithErrorBars",
    spec: barWithErrorBars({
      data: METHODS.filter((r) => r.task === "boolq"),
      x: "method",
      y: "acc",
      yErr: "std",
      title: "Average accuracy per method",
      xTitle: "method",
      yTitle: "accuracy (%)",
    }),
    texts: ["Average accuracy per method", "method", "accuracy (%)", "AdaMoLE"],
  },
  {
    name: "barWithErrorBars grouped",
    spec: barWithErrorBars({
      data: METHODS,
      x: "task",
      y: "acc",
      yErr: "std",
      color: "method",
      colorTitle: "method",
      title: "Accuracy per task",
      xTitle: "task",
      yTitle: "accuracy (%)",
    }),
    texts: ["Accuracy per task", "task", "accuracy (%)", "method", "piqa"],
  },
  {
    name: "lineWithBand",
    spec: lineWithBand({
      data: SWEEP,
      x: "tau",
      y: "acc",
      yErr: "std",
      color: "method",
      title: "Accuracy vs threshold",
      xTitle: "threshold τ",
      yTitle: "accuracy (%)",
      y2: "active",
      y2Title: "active experts",
    }),
    texts: ["Accuracy vs threshold", "threshold τ", "accuracy (%)", "active experts (dashed)", "AdaMoLE", "MoLE"],
  },
  {
    name: "lineWithBand single series",
    spec: lineWithBand({
      data: SWEEP.filter((r) => r.method === "MoLE"),
      x: "tau",
      y: "acc",
      title: "MoLE vs q",
      xTitle: "q",
      yTitle: "accuracy (%)",
      xType: "ordinal",
    }),
    texts: ["MoLE vs q", "q", "accuracy (%)"],
  },
  {
    name: "scatter",
    spec: scatter({
      data: METHODS,
      x: "active",
      y: "acc",
      yErr: "std",
      color: "method",
      label: "task",
      title: "Accuracy vs active adapters",
      xTitle: "active adapters per token",
      yTitle: "accuracy (%)",
    }),
    texts: ["Accuracy vs active adapters", "active adapters per token", "accuracy (%)", "boolq"],
  },
  {
    name: "heatmap",
    spec: heatmap({
      data: USAGE,
      x: "expert",
      y: "task",
      value: "share",
      title: "Expert usage by task",
      xTitle: "expert",
      yTitle: "task",
      valueTitle: "share of tokens",
    }),
    texts: ["Expert usage by task", "expert", "task", "share of tokens", "0.80"],
  },
  {
    name: "lineOverTime",
    spec: lineOverTime({
      data: STEPS,
      x: "step",
      y: "entropy",
      color: "config",
      smooth: 5,
      title: "Router entropy over training",
      xTitle: "training step",
      yTitle: "entropy (nats)",
    }),
    texts: ["Router entropy over training", "training step", "entropy (nats)", "k=4"],
  },
];

const textNodes = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
const svgSize = (svg: string) => {
  const m = /^<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg);
  assert(m, "svg has width and height");
  return { width: Number(m[1]), height: Number(m[2]) };
};
/** Width and height from a PNG's IHDR chunk (bytes 16–23, big-endian). */
const pngSize = (png: Uint8Array) => {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: v.getUint32(16), height: v.getUint32(20) };
};
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

for (const c of CASES) {
  Deno.test(`${c.name}: the spec compiles with vega-lite without warnings`, () => {
    assertEquals(compileSpec(c.spec).warnings, []);
  });
  Deno.test(`${c.name}: title and axis titles render as <text>`, async () => {
    const texts = textNodes(await renderSvg(c.spec));
    for (const t of c.texts) assert(texts.includes(t), `"${t}" missing from ${JSON.stringify(texts)}`);
  });
}

Deno.test("every builder: inline data, tableau10, DejaVu Sans, a title, width 480–640", () => {
  for (const { name, spec } of CASES) {
    const s = spec as unknown as Record<string, unknown> & {
      config: { font: string; range: { category: { scheme: string } } };
    };
    assertEquals((s.data as { values: unknown[] }).values.length > 0, true, name);
    assertEquals(s.config.font, "DejaVu Sans", name);
    assertEquals(s.config.range.category.scheme, "tableau10", name);
    assert(typeof s.title === "string" && s.title.length > 0, name);
    if (name !== "heatmap") assert((s.width as number) >= 480 && (s.width as number) <= 640, name);
  }
});

Deno.test("renderPng: PNG signature, width and height = SVG size × scale (IHDR)", async () => {
  const svg = await renderSvg(CASES[0].spec);
  const { width, height } = svgSize(svg);
  for (const scale of [1, 2]) {
    const png = await renderPng(svg, scale);
    assertEquals([...png.subarray(0, 8)], PNG_SIGNATURE);
    assertEquals(pngSize(png), { width: width * scale, height: height * scale });
  }
  assertEquals(pngSize(await renderPng(svg)).width, width * 2); // default scale 2
  await assertRejects(() => renderPng(svg, 0), ConfigError, "scale must be in (0, 16]");
});

Deno.test("renderPng draws text: blanking only the title's glyphs changes the PNG (fonts are loaded)", async () => {
  const svg = await renderSvg(CASES[0].spec);
  const title = ">Average accuracy per method</text>";
  assert(svg.includes(title));
  const blank = svg.replace(title, "></text>");
  assertEquals(svgSize(blank), svgSize(svg)); // same layout, only the glyphs differ
  assertNotEquals([...await renderPng(svg, 1)], [...await renderPng(blank, 1)]);
});

Deno.test("a tiny bar chart puts bars and axis labels where the numbers say", async () => {
  const spec = barWithErrorBars({
    data: [{ m: "a", y: 10, e: 0 }, { m: "b", y: 20, e: 0 }, { m: "c", y: 30, e: 0 }],
    x: "m",
    y: "y",
    yErr: "e",
    title: "tiny",
    xTitle: "m",
    yTitle: "y (units)",
    height: 200,
  });
  const svg = await renderSvg(spec);
  // y-axis labels: 0 at the bottom of the 200 px plot, the max value 30 at the top (+4 px: 12 px labels
  // are shifted down by a third of their size to centre them on the tick).
  const labels = new Map(
    [...svg.matchAll(/<text text-anchor="end" transform="translate\(-?[\d.]+,([-\d.]+)\)"[^>]*>([^<]*)<\/text>/g)]
      .map((m) => [m[2], Number(m[1])]),
  );
  assertEquals(labels.get("0"), 204);
  assertEquals(labels.get("30"), 4);
  assertAlmostEquals(labels.get("15")!, 104, 1e-9);
  // bar heights 10/30, 20/30, 30/30 of 200 px
  const bars = [...svg.matchAll(/role-mark layer_0_marks[^]*?<\/g>/g)][0][0];
  const heights = [...bars.matchAll(/d="M[-\d.]+,([-\d.]+)h[-\d.]+v([-\d.]+)h/g)].map((m) => Number(m[2]));
  assertEquals(heights.length, 3);
  for (const [h, want] of heights.map((h, i) => [h, (200 * (i + 1)) / 3])) assertAlmostEquals(h, want, 1e-9);
});

Deno.test("dotted column names are columns, not nested paths", async () => {
  const spec = barWithErrorBars({
    data: [{ "config.method": "a", "acc.mean": 10, "acc.std": 1 }, {
      "config.method": "b",
      "acc.mean": 20,
      "acc.std": 2,
    }],
    x: "config.method",
    y: "acc.mean",
    yErr: "acc.std",
    title: "dots",
    xTitle: "method",
    yTitle: "accuracy (%)",
  });
  assertEquals(compileSpec(spec).warnings, []);
  const svg = await renderSvg(spec);
  assert(svg.includes(`aria-label="method: b; accuracy (%): 20;`), "bar b has its value");
  assertEquals(fieldRef("a.b[0]"), "a\\.b\\[0\\]");
});

Deno.test("categories: natural order by default, descending, data order (null), or explicit", () => {
  const rows = [{ e: "e10" }, { e: "e2" }, { e: "e1" }, { e: "e2" }];
  assertEquals(categories(rows, "e"), ["e1", "e2", "e10"]);
  assertEquals(categories(rows, "e", "descending"), ["e10", "e2", "e1"]);
  assertEquals(categories(rows, "e", null), ["e10", "e2", "e1"]);
  assertEquals(categories(rows, "e", ["e2", "e1"]), ["e2", "e1"]);
  assertEquals(categories([{ k: 10 }, { k: 2 }], "k"), [2, 10]);
  assertEquals(labelAngle(["LoRA", "MoLE"], 520), 0);
  assertEquals(labelAngle(Array.from({ length: 30 }, (_, i) => `method-${i}`), 520), -40);
  // Few labels but a long one in a narrow band (the MoA usage heatmap's axis): slanted.
  assertEquals(labelAngle(["Q", "K", "V", "O", "FFN_UP", "FFN_DOWN", "ADAPTER"], 7 * 44), -40);
  assertEquals(labelAngle(["LoRA", "MoLE top-2", "MoLA 2-6", "AdaMoLE", "DynMoLE", "Soft MoA", "Sparse MoA"], 520), 0);
});

Deno.test("heatmap prints values only when asked or when the grid is small; dark cells get white text", () => {
  const layers = (s: vl.TopLevelSpec) => (s as { layer: { mark: { type: string } }[] }).layer.map((l) => l.mark.type);
  const base = {
    data: USAGE,
    x: "expert",
    y: "task",
    value: "share",
    title: "t",
    xTitle: "x",
    yTitle: "y",
    valueTitle: "v",
  };
  assertEquals(layers(heatmap(base)), ["rect", "text"]);
  assertEquals(layers(heatmap({ ...base, labels: false })), ["rect"]);
  const text = (heatmap(base) as unknown as { layer: { encoding: { color: unknown } }[] }).layer[1];
  // shares run 0.2 … 0.8, so the midpoint is 0.5
  assertEquals(text.encoding.color, { condition: { test: 'datum["share"] > 0.5', value: "white" }, value: "black" });
});

Deno.test("writeChart writes exactly name.vl.json (data inline), name.svg and name.png; no temp files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mole_charts_" });
  try {
    const spec = CASES[0].spec;
    const out = await writeChart(dir, "accuracy", spec);
    assertEquals(out, { spec: `${dir}/accuracy.vl.json`, svg: `${dir}/accuracy.svg`, png: `${dir}/accuracy.png` });
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names.sort(), ["accuracy.png", "accuracy.svg", "accuracy.vl.json"]);
    assertEquals(JSON.parse(await Deno.readTextFile(out.spec)), JSON.parse(JSON.stringify(spec)));
    assert((await Deno.readTextFile(out.svg)).startsWith("<svg"));
    assertEquals([...(await Deno.readFile(out.png)).subarray(0, 8)], PNG_SIGNATURE);
    await assertRejects(() => writeChart(dir, "a/b", spec), ConfigError, 'chart name "a/b"');
    const urlSpec = { ...spec, data: { url: "cells.json" } } as vl.TopLevelSpec;
    await assertRejects(() => writeChart(dir, "url", urlSpec), ConfigError, "data must be inline");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lineWithBand xLabels: ticks at exactly the given values, labelled as given (no rounded decimals)", async () => {
  const taus = [["0", 0], ["1/2N", 0.125], ["1/N", 0.25], ["3/2N", 0.375], ["2/N", 0.5], ["1", 1]] as const;
  const opts = {
    data: taus.map(([, tau], i) => ({ tau, acc: 40 + i, std: 1, active: 4 - i / 2 })),
    x: "tau",
    y: "acc",
    yErr: "std",
    y2: "active",
    xLabels: taus.map(([label, value]) => ({ value, label })),
    title: "Accuracy vs τ_max",
    xTitle: "maximum threshold τ_max",
    yTitle: "accuracy (%)",
  };
  const spec = lineWithBand(opts);
  assertEquals(compileSpec(spec).warnings, []);
  const texts = textNodes(await renderSvg(spec));
  for (const [label] of taus) assert(texts.includes(label), `tick label ${label} in ${texts.join(" | ")}`);
  for (const rounded of ["0.1", "0.3", "0.4", "0.13", "0.38"]) assert(!texts.includes(rounded), `no "${rounded}" tick`);
  // without labels, the data's own x values are the ticks, printed exactly
  const plain = textNodes(await renderSvg(lineWithBand({ ...opts, xLabels: undefined })));
  for (const v of ["0", "0.125", "0.25", "0.375", "0.5", "1"]) {
    assert(plain.includes(v), `tick ${v} in ${plain.join(" | ")}`);
  }
});

Deno.test("lineWithBand yLo/yHi: the band spans the given columns (an asymmetric CI), one per colour", () => {
  const data = [0, 10, 20].flatMap((step) =>
    ["LoRA", "DynMoLE"].map((m, j) => ({ step, m, mean: 40 + step / 2 + j, lo: 38 + step / 2, hi: 45 + step / 2 }))
  );
  const spec = lineWithBand({
    data,
    x: "step",
    y: "mean",
    yLo: "lo",
    yHi: "hi",
    color: "m",
    title: "Learning curve",
    xTitle: "training step",
    yTitle: "validation accuracy (%)",
  }) as unknown as { layer: { mark: { type: string }; transform?: unknown; encoding: Record<string, unknown> }[] };
  assertEquals(compileSpec(spec as unknown as vl.TopLevelSpec).warnings, []);
  const [band, line] = spec.layer;
  assertEquals([band.mark.type, line.mark.type], ["area", "line"]);
  assertEquals(band.transform, undefined);
  assertEquals([band.encoding.y, band.encoding.y2].map((e) => (e as { field: string }).field), ["lo", "hi"]);
  assertEquals((band.encoding.color as { field: string }).field, "m");
});

Deno.test("renumberIds: clip-path and gradient ids numbered by appearance, references follow", () => {
  const svg = '<clipPath id="clip7"/><g clip-path="url(#clip7)"/><linearGradient id="gradient_3"/>' +
    '<rect fill="url(#gradient_3)"/><g clip-path="url(#clip7)"/>';
  assertEquals(
    renumberIds(svg),
    '<clipPath id="clip0"/><g clip-path="url(#clip0)"/><linearGradient id="gradient_1"/>' +
      '<rect fill="url(#gradient_1)"/><g clip-path="url(#clip0)"/>',
  );
  assertEquals(renumberIds("<svg/>"), "<svg/>");
});
