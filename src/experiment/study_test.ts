import * as aq from "arquero";
import { assertEquals } from "../testing/asserts.ts";
import type { CellRow } from "./cell.ts";
import { protocolsOf, type Study, studyTables } from "./study.ts";

/** Rows evaluated with `protocols`; each protocol's average is its own number, so tables tell them apart. */
function rows(protocols: string[]): CellRow[] {
  const results = Object.fromEntries(protocols.map((p, i) => [p, { average: 0.5 + i / 10 }]));
  return [{ config: { eval: { protocols } }, results } as unknown as CellRow];
}

/** A study with one protocol-dependent table and one that reads the same under any protocol. */
const study = {
  tables: (rs: CellRow[]) => {
    const p = rs[0].config.eval.protocols[0] as "score" | "generate";
    const acc = aq.from([{ average: rs[0].results[p]!.average }]);
    const routing = aq.from([{ experts: 2 }]);
    return [
      { name: "table", raw: acc, display: acc, caption: "Accuracy" },
      { name: "routing", raw: routing, display: routing, caption: "Routing" },
    ];
  },
} as unknown as Study;

Deno.test("studyTables: every protocol that ran, named in the caption; protocol-independent tables once", () => {
  assertEquals(protocolsOf(rows(["generate", "score"])), ["generate", "score"]);
  const got = studyTables(study, rows(["generate", "score"]));
  assertEquals(got.map((t) => [t.name, t.caption, t.display.objects()[0]]), [
    ["table", "Accuracy (protocol: generate)", { average: 0.5 }],
    ["routing", "Routing (protocol: generate)", { experts: 2 }],
    ["table_score", "Accuracy (protocol: score)", { average: 0.6 }],
  ]);
  assertEquals(studyTables(study, rows(["score"])).map((t) => t.caption), [
    "Accuracy (protocol: score)",
    "Routing (protocol: score)",
  ]);
});
