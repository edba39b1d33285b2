import * as aq from "arquero";
import { ConfigError, DataError } from "../errors.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "../testing/asserts.ts";
import {
  aggregateBySeed,
  formatMeanStd,
  getField,
  meanStdTable,
  toCSV,
  toHTML,
  toMarkdown,
  writeTable,
} from "./tables.ts";

// Cells as a study writes them: nested config and metrics, one row per (config, seed).
const CELLS = [
  { config: { method: "mole", k: 2 }, seed: 0, metrics: { acc: 70, loss: 0.5 } },
  { config: { method: "lora", k: 1 }, seed: 0, metrics: { acc: 65.5, loss: 0.75 } },
  { config: { method: "mole", k: 2 }, seed: 1, metrics: { acc: 72, loss: 0.25 } },
  { config: { method: "mole", k: 2 }, seed: 2, metrics: { acc: 74, loss: 0.75 } },
];

Deno.test("getField reads flat keys first, then dotted paths", () => {
  assertEquals(getField({ "a.b": 1, a: { b: 2 } }, "a.b"), 1);
  assertEquals(getField({ a: { b: { c: 3 } } }, "a.b.c"), 3);
  assertEquals(getField({ a: 1 }, "a.b"), undefined);
});

Deno.test("aggregateBySeed: mean, sample std (n−1) and n per group, hand-checked", () => {
  const t = aggregateBySeed(CELLS, ["config.method"], ["metrics.acc", "metrics.loss"]);
  assertEquals(t.columnNames(), [
    "config.method",
    "metrics.acc_mean",
    "metrics.acc_std",
    "metrics.loss_mean",
    "metrics.loss_std",
    "n",
  ]);
  const [mole, lora] = t.objects() as Record<string, number | string>[];
  assertEquals(t.numRows(), 2);
  // mole acc 70, 72, 74: mean 72, squared deviations 4 + 0 + 4 = 8, / (3 − 1) = 4, std 2.
  assertEquals(mole["config.method"], "mole"); // groups in order of first appearance
  assertAlmostEquals(mole["metrics.acc_mean"] as number, 72);
  assertAlmostEquals(mole["metrics.acc_std"] as number, 2);
  // mole loss 0.5, 0.25, 0.75: mean 0.5, deviations² 0 + 1/16 + 1/16 = 1/8, / 2 = 1/16, std 0.25.
  assertAlmostEquals(mole["metrics.loss_mean"] as number, 0.5);
  assertAlmostEquals(mole["metrics.loss_std"] as number, 0.25);
  assertEquals(mole.n, 3);
  // one seed: std 0 (not NaN or undefined)
  assertEquals(lora, {
    "config.method": "lora",
    "metrics.acc_mean": 65.5,
    "metrics.acc_std": 0,
    "metrics.loss_mean": 0.75,
    "metrics.loss_std": 0,
    n: 1,
  });
});

Deno.test("aggregateBySeed groups by several fields, and by object values as JSON", () => {
  const rows = [
    { m: "a", e: [4, 8], x: 1 },
    { m: "a", e: [4, 8], x: 3 },
    { m: "a", e: [8, 8], x: 5 },
  ];
  const t = aggregateBySeed(rows, ["m", "e"], ["x"]);
  assertEquals(t.objects(), [
    { m: "a", e: "[4,8]", x_mean: 2, x_std: Math.SQRT2, n: 2 },
    { m: "a", e: "[8,8]", x_mean: 5, x_std: 0, n: 1 },
  ]);
});

Deno.test("aggregateBySeed with no group fields gives one row; with no rows, an empty table", () => {
  const all = aggregateBySeed(CELLS, [], ["metrics.acc"]);
  assertEquals(all.numRows(), 1);
  assertAlmostEquals(all.get("metrics.acc_mean", 0) as number, 281.5 / 4);
  assertEquals(all.get("n", 0), 4);
  const empty = aggregateBySeed([], ["m"], ["acc"]);
  assertEquals(empty.columnNames(), ["m", "acc_mean", "acc_std", "n"]);
  assertEquals(empty.numRows(), 0);
});

Deno.test("aggregateBySeed rejects a missing group field or a non-finite metric, naming row and field", () => {
  assertThrows(
    () => aggregateBySeed([{ acc: 1 }], ["method"], ["acc"]),
    DataError,
    'row 0: missing group field "method"',
  );
  assertThrows(
    () => aggregateBySeed([{ m: "a", acc: 1 }, { m: "a", acc: null }], ["m"], ["acc"]),
    DataError,
    'row 1: metric "acc" must be a finite number, got null',
  );
  assertThrows(() => aggregateBySeed([{ m: "a" }], ["m"], ["acc"]), DataError, "got undefined");
  assertThrows(() => aggregateBySeed([{ n: 1, x: 1 }], ["n"], ["x"]), ConfigError, "duplicate column");
});

Deno.test("formatMeanStd rounds both numbers and drops the sign of a rounded zero", () => {
  assertEquals(formatMeanStd(71.25, 1.23, 1), "71.3 ± 1.2");
  assertEquals(formatMeanStd(0.5, 0.25, 2), "0.50 ± 0.25");
  assertEquals(formatMeanStd(-0.04, 0.01, 1), "0.0 ± 0.0");
  assertEquals(formatMeanStd(-1.25, 0, 0), "-1 ± 0");
  assertEquals(formatMeanStd(NaN, 1, 1), "—");
  assertEquals(formatMeanStd(3, NaN, 1), "3.0");
});

Deno.test("meanStdTable: labelled headers, 'mean ± std' text, per-metric digits, n kept", () => {
  const t = aggregateBySeed(CELLS, ["config.method"], ["metrics.acc", "metrics.loss"]);
  const d = meanStdTable(t, ["config.method"], ["metrics.acc", "metrics.loss"], {
    digits: { "metrics.loss": 2 },
    labels: { "config.method": "method", "metrics.acc": "accuracy (%)" },
  });
  assertEquals(d.columnNames(), ["method", "accuracy (%)", "metrics.loss", "n"]);
  assertEquals(d.objects(), [
    { method: "mole", "accuracy (%)": "72.0 ± 2.0", "metrics.loss": "0.50 ± 0.25", n: 3 },
    { method: "lora", "accuracy (%)": "65.5 ± 0.0", "metrics.loss": "0.75 ± 0.00", n: 1 },
  ]);
  assertEquals(meanStdTable(t, ["config.method"], ["metrics.acc"], { n: false }).columnNames(), [
    "config.method",
    "metrics.acc",
  ]);
});

Deno.test("meanStdTable names a missing column and rejects duplicate headers", () => {
  const t = aggregateBySeed(CELLS, ["config.method"], ["metrics.acc"]);
  assertThrows(() => meanStdTable(t, ["config.method"], ["acc"]), ConfigError, "no column acc_mean, acc_std");
  assertThrows(
    () => meanStdTable(t, ["config.method"], ["metrics.acc"], { labels: { "metrics.acc": "config.method" } }),
    ConfigError,
    "duplicate header",
  );
});

Deno.test("toMarkdown pads columns, right-aligns numbers and 'mean ± std' text, shares precision per column", () => {
  const t = aggregateBySeed(CELLS, ["config.method"], ["metrics.acc"]);
  assertEquals(
    toMarkdown(t),
    [
      "| config.method | metrics.acc_mean | metrics.acc_std |   n |",
      "| :------------ | ---------------: | --------------: | --: |",
      "| mole          |             72.0 |               2 |   3 |",
      "| lora          |             65.5 |               0 |   1 |",
      "",
    ].join("\n"),
  );
  const d = meanStdTable(t, ["config.method"], ["metrics.acc"], { labels: { "config.method": "method" } });
  assertEquals(
    toMarkdown(d),
    [
      "| method | metrics.acc |   n |",
      "| :----- | ----------: | --: |",
      "| mole   |  72.0 ± 2.0 |   3 |",
      "| lora   |  65.5 ± 0.0 |   1 |",
      "",
    ].join("\n"),
  );
});

Deno.test("toMarkdown escapes pipes and newlines, shows null as empty, caps fraction digits", () => {
  const t = aq.table({ name: ["a|b", "c\nd", null], x: [1 / 3, 2, null] });
  assertEquals(
    toMarkdown(t),
    [
      "| name |      x |",
      "| :--- | -----: |",
      "| a\\|b | 0.3333 |",
      "| c d  | 2.0000 |",
      "|      |        |",
      "",
    ].join("\n"),
  );
});

Deno.test("toCSV keeps raw full-precision numbers, not formatted strings", () => {
  const t = aggregateBySeed(CELLS, ["config.method"], ["metrics.loss"]);
  const rows = [{ m: "a", v: 1 }, { m: "a", v: 2 }];
  assertEquals(toCSV(aggregateBySeed(rows, ["m"], ["v"])), "m,v_mean,v_std,n\na,1.5,0.7071067811865476,2\n");
  assertEquals(toCSV(t).split("\n")[0], "config.method,metrics.loss_mean,metrics.loss_std,n");
});

Deno.test("toHTML right-aligns numeric and 'mean ± std' columns and escapes text", () => {
  const html = toHTML(aq.table({ name: ["<b>"], acc: ["71.3 ± 1.2"], n: [3] }));
  assert(html.startsWith("<table>"), html);
  assert(html.includes('<th style="text-align: left;">name</th>'), html);
  assert(html.includes('<td style="text-align: right;">71.3 ± 1.2</td>'), html);
  assert(html.includes('<td style="text-align: right;">3</td>'), html);
  assert(html.includes("&lt;b&gt;"), html);
});

Deno.test("writeTable writes exactly name.csv (raw) and name.md (display), no temp files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mole_tables_" });
  try {
    const raw = aggregateBySeed(CELLS, ["config.method"], ["metrics.acc"]);
    const display = meanStdTable(raw, ["config.method"], ["metrics.acc"]);
    const out = await writeTable(`${dir}/sub`, "table", raw, display);
    assertEquals(out, { csv: `${dir}/sub/table.csv`, md: `${dir}/sub/table.md` });
    const names = [];
    for await (const e of Deno.readDir(`${dir}/sub`)) names.push(e.name);
    assertEquals(names.sort(), ["table.csv", "table.md"]);
    assertEquals(await Deno.readTextFile(out.csv), toCSV(raw));
    assertEquals(await Deno.readTextFile(out.md), toMarkdown(display));
    assert((await Deno.readTextFile(out.md)).includes("72.0 ± 2.0"));
    await writeTable(`${dir}/sub`, "table", raw, display); // overwrite in place
    await assertRejects(() => writeTable(dir, "../escape", raw, display), ConfigError, 'table name "../escape"');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
