/**
 * Routing specialisation in the report (statistics.md "Routing specialisation"; the measure is
 * src/moe/specialisation.ts): from `routing.specialisation` of cells.jsonl rows only — a chart of NMI(task;
 * expert) per method and layer against the task-shuffled null's 95th percentile, a table of the mean NMI over
 * layers with its 95 % CI over seeds and its ratio to the null, and the claim "routing specialises by task".
 * Rows written before the measure was recorded lack it and are left out (a claim on them is "not tested").
 */
import * as aq from "arquero";
import type { CellRow } from "../experiment/cell.ts";
import type { ClaimCheck, StudyChart, StudyTable } from "../experiment/study.ts";
import type { LayerSpecialisation } from "../moe/specialisation.ts";
import { barsWithReference, type CategorySort } from "./chart_specs.ts";
import { allOf, type Interval, seedMeanBootstrap, verdictOf } from "./paired.ts";

/** Which configuration a row belongs to (default: its label). */
export type RowKey = (row: CellRow) => string;
const byLabel: RowKey = (r) => r.label;

/** Significance level of the per-layer permutation test counted in the table. */
const ALPHA = 0.05;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One row's specialisation averaged over its layers; null when the row has none recorded. */
export function cellSpecialisation(row: CellRow): {
  nmi: number;
  null95: number;
  nullMean: number;
  /** nmi − null95, averaged over layers. */
  excess: number;
  layers: number;
  /** Layers whose permutation p-value is below 0.05. */
  significant: number;
} | null {
  const ls: LayerSpecialisation[] = row.routing?.specialisation ?? [];
  if (!ls.length) return null;
  return {
    nmi: mean(ls.map((l) => l.nmi)),
    null95: mean(ls.map((l) => l.null95)),
    nullMean: mean(ls.map((l) => l.nullMean)),
    excess: mean(ls.map((l) => l.nmi - l.null95)),
    layers: ls.length,
    significant: ls.filter((l) => l.p < ALPHA).length,
  };
}

/** Rows with the measure, grouped by key (one row per seed: a later row of a seed replaces an earlier one). */
function groups(rows: CellRow[], key: RowKey, order?: string[]): [string, CellRow[]][] {
  const m = new Map<string, Map<number, CellRow>>();
  for (const r of rows) {
    if (!cellSpecialisation(r)) continue;
    const k = key(r);
    if (!m.has(k)) m.set(k, new Map());
    m.get(k)!.set(r.seed, r);
  }
  const keys = [...m.keys()];
  if (order) keys.sort((a, b) => rank(order, a) - rank(order, b));
  return keys.map((k) => [k, [...m.get(k)!.values()].sort((a, b) => a.seed - b.seed)]);
}

function rank(order: string[], k: string): number {
  const i = order.indexOf(k);
  return i < 0 ? order.length : i;
}

const fmt = (x: number, d = 3) => x.toFixed(d);
const ci = (c: Interval, d = 3) => `${fmt(c.delta, d)} [${fmt(c.lo, d)}, ${fmt(c.hi, d)}]`;
const signed = (x: number, d = 3) => (Number(x.toFixed(d)) === 0 ? fmt(0, d) : x > 0 ? `+${fmt(x, d)}` : fmt(x, d));
const signedCi = (c: Interval, d = 3) => `${signed(c.delta, d)} [${signed(c.lo, d)}, ${signed(c.hi, d)}]`;

/** Per configuration: mean NMI over layers with its 95 % CI over seeds, the null, the ratio and NMI − null95. */
export function specialisationSummary(rows: CellRow[], key: RowKey = byLabel, order?: string[]) {
  return groups(rows, key, order).map(([k, rs]) => {
    const cells = rs.map((r) => cellSpecialisation(r)!);
    const nmi = seedMeanBootstrap(cells.map((c) => c.nmi));
    const excess = seedMeanBootstrap(cells.map((c) => c.excess));
    const null95 = mean(cells.map((c) => c.null95));
    return {
      key: k,
      seeds: rs.length,
      nmi,
      null95,
      nullMean: mean(cells.map((c) => c.nullMean)),
      ratio: null95 > 0 ? nmi.delta / null95 : null,
      excess,
      significant: cells.reduce((a, c) => a + c.significant, 0),
      layers: cells.reduce((a, c) => a + c.layers, 0),
      permutations: Math.max(...rs.flatMap((r) => r.routing!.specialisation!.map((l) => l.permutations))),
    };
  });
}

/** The specialisation table of a study (none when no row has the measure). */
export function specialisationTable(
  rows: CellRow[],
  opts: { key?: RowKey; column?: string; order?: string[]; name?: string } = {},
): StudyTable[] {
  const summary = specialisationSummary(rows, opts.key ?? byLabel, opts.order);
  if (!summary.length) return [];
  const column = opts.column ?? "method";
  const raw = aq.from(summary.map((s) => ({
    [column]: s.key,
    seeds: s.seeds,
    nmi_mean: s.nmi.delta,
    nmi_lo: s.nmi.lo,
    nmi_hi: s.nmi.hi,
    null_mean: s.nullMean,
    null95: s.null95,
    ratio: s.ratio,
    excess_mean: s.excess.delta,
    excess_lo: s.excess.lo,
    excess_hi: s.excess.hi,
    layers_p05: s.significant,
    layers: s.layers,
  })));
  const display = aq.from(summary.map((s) => ({
    [column]: s.key,
    "NMI (95 % CI)": ci(s.nmi),
    "null 95th pct": fmt(s.null95),
    "NMI / null95": s.ratio === null ? "—" : s.ratio.toFixed(1),
    "NMI − null95 (95 % CI)": signedCi(s.excess),
    "layers p < 0.05": `${s.significant}/${s.layers}`,
    seeds: String(s.seeds),
  })));
  return [{
    name: opts.name ?? "specialisation",
    raw,
    display,
    caption: "Routing specialisation: NMI between task and expert weight (I(T; E) / log N, mean over layers), " +
      `95 % CI over seeds, against the 95th percentile of a task-shuffled null (${
        Math.max(...summary.map((s) => s.permutations))
      } permutations per layer)`,
  }];
}

/** A chart of NMI per configuration and layer, CI over seeds, with the null's 95th percentile as a tick. */
export function specialisationChart(
  rows: CellRow[],
  opts: { key?: RowKey; order?: string[]; xTitle?: string; title?: string; name?: string; sort?: CategorySort } = {},
): StudyChart[] {
  const data: Record<string, unknown>[] = [];
  for (const [k, rs] of groups(rows, opts.key ?? byLabel, opts.order)) {
    const layers = [...new Set(rs.flatMap((r) => r.routing!.specialisation!.map((l) => l.layer)))].sort((a, b) =>
      a - b
    );
    for (const layer of layers) {
      const ls = rs.map((r) => r.routing!.specialisation!.find((l) => l.layer === layer)).filter((l) => l);
      const c = seedMeanBootstrap(ls.map((l) => l!.nmi));
      data.push({
        config: k,
        layer: `layer ${layer}`,
        nmi: c.delta,
        lo: c.lo,
        hi: c.hi,
        null95: mean(ls.map((l) => l!.null95)),
        seeds: ls.length,
      });
    }
  }
  if (!data.length) return [];
  const seeds = Math.max(...data.map((d) => d.seeds as number));
  return [{
    name: opts.name ?? "specialisation",
    caption: "Routing specialisation per layer: NMI(task; expert weight) / log N, mean over seeds with 95 % " +
      "bootstrap CI; black tick: 95th percentile of the task-shuffled null",
    spec: barsWithReference({
      data,
      x: "config",
      y: "nmi",
      yLo: "lo",
      yHi: "hi",
      ref: "null95",
      refTitle: "null 95th pct",
      color: "layer",
      colorTitle: "layer",
      sort: opts.sort ?? opts.order ?? null,
      title: opts.title ?? "Does routing specialise by task?",
      subtitle: `NMI between task and expert weight · ${seeds} seed${seeds === 1 ? "" : "s"} · ` +
        "black tick: task-shuffled null (95th pct)",
      xTitle: opts.xTitle ?? "method",
      yTitle: "NMI(task; expert) / log N",
    }),
  }];
}

/**
 * "Routing specialises by task": for each configuration, the 95 % CI over seeds of (NMI − null95), averaged
 * over layers, must exclude 0 above. Holds when it does for every one, contradicted when any lies below 0.
 */
export function specialisationClaim(
  rows: CellRow[],
  labels: string[],
  opts: { claim: string; source: string; key?: RowKey },
): ClaimCheck {
  const { claim, source } = opts;
  const summary = specialisationSummary(rows, opts.key ?? byLabel, labels).filter((s) => labels.includes(s.key));
  if (!summary.length) {
    const run = rows.some((r) => labels.includes((opts.key ?? byLabel)(r)));
    return {
      claim,
      source,
      verdict: null,
      evidence: run ? "not tested: rows lack routing.specialisation; rerun" : "not tested: not run",
    };
  }
  const missing = labels.filter((l) => !summary.some((s) => s.key === l));
  const worst = summary.reduce((a, s) => (s.excess.lo < a.excess.lo ? s : a));
  const parts = summary.map((s) =>
    `${s.key} ${fmt(s.nmi.delta)} vs null95 ${fmt(s.null95)}: Δ ${signedCi(s.excess)} (${s.seeds} seed${
      s.seeds === 1 ? "" : "s"
    })`
  );
  return {
    claim,
    source,
    // A label not run cannot hold: the claim is at best undecided until every one is in.
    verdict: allOf([...summary.map((s) => verdictOf(s.excess, "greater")), ...missing.map(() => "undecided" as const)]),
    interval: worst.excess,
    evidence: `NMI − null95, mean over layers (95 % CI over seeds): ${parts.join("; ")}${
      missing.length ? `; not run: ${missing.join(", ")}` : ""
    }`,
  };
}
