/**
 * dynmole-q — DynMoLE's Tsallis entropy order q (q → 1 is Shannon; the paper's default is 1.1), and its
 * ablations at the default q: without the entropy loss, without the dense (high-entropy) branch — plain
 * top-p with a top-k floor — and plain top-2 without renormalisation. Also records router entropy over
 * training.
 */
import { barWithErrorBars, lineOverTime, lineWithBand } from "../src/report/charts.ts";
import { paretoCharts } from "../src/report/pareto.ts";
import { specialisationChart, specialisationTable } from "../src/report/specialisation.ts";
import { curveCharts, fasterClaim } from "../src/report/convergence.ts";
import { aggregateBySeed, meanStdTable, tableRows } from "../src/report/tables.ts";
import type { CellRow } from "../src/experiment/cell.ts";
import type { ClaimCheck, Study, StudyOptions } from "../src/experiment/study.ts";
import { DynMoleSchema, topPCanExceedFloor } from "../src/routers/dynmole.ts";
import { pairedClaim, pairedSeedClaim } from "../src/experiment/claims.ts";
import { BUDGET, flatten, grid, mainProtocol } from "./common.ts";

const QS = [0.5, 1, 1.1, 1.5, 2];

/**
 * The method's base config: on the embedded suite the matched budget (N 4 × r 4 on all seven projections,
 * dropout 0); on real data (`--data`) the paper's settings, DynMoLE's defaults (N 6 experts of r 24, α 48,
 * dropout 0.05, gate/up/down).
 */
function baseConfig(paper: boolean): Record<string, unknown> {
  return paper ? { method: "dynmole" } : {
    method: "dynmole",
    nExperts: BUDGET.experts,
    rank: BUDGET.totalRank / BUDGET.experts,
    targets: BUDGET.targets,
    dropout: BUDGET.dropout,
  };
}

/** The rows' DynMoLE config (the embedded grid's when the rows carry none). */
function rowsConfig(rows: CellRow[]) {
  const parsed = DynMoleSchema.safeParse(rows[0]?.config.method);
  return parsed.success ? parsed.data : DynMoleSchema.parse(baseConfig(false));
}

/** Said beside the ablations when, at the rows' N, plain top-p cannot differ from the top-k floor alone. */
function topPNote(rows: CellRow[]): string {
  const c = rowsConfig(rows);
  return topPCanExceedFloor(c, c.nExperts)
    ? ""
    : `; at N = ${c.nExperts}, top-p ${c.topP} never adds an expert beyond the top-${c.keepTopK} floor (the top ` +
      `${c.keepTopK + 1} always hold ≥ ${c.keepTopK + 1}/${c.nExperts} of the mass), so "no hybrid routing" and ` +
      `"top-2 only" route identically`;
}

/** Row labels of full DynMoLE at the default q and of its entropy-loss ablation. */
const FULL = "DynMoLE q=1.1";
const NO_LOSS = "DynMoLE no entropy loss";

function methods(paper = false) {
  const BASE = baseConfig(paper);
  return [
    ...QS.map((q) => ({ label: `DynMoLE q=${q}`, group: { variant: "full", q }, method: { ...BASE, q } })),
    {
      label: NO_LOSS,
      group: { variant: "no entropy loss", q: 1.1 },
      method: { ...BASE, entropyCoef: 0 },
    },
    {
      label: "DynMoLE no hybrid (top-p + top-2 floor)",
      group: { variant: "no hybrid routing", q: 1.1 },
      method: { ...BASE, entropyThreshold: 1 },
    },
    {
      label: "DynMoLE top-2 only",
      group: { variant: "top-2 only", q: 1.1 },
      method: { ...BASE, entropyThreshold: 1, topP: 0 },
    },
  ];
}

/** A configuration's name without the method ("q=1.1", "no entropy loss"). */
const configOf = (r: { label: string }) => r.label.replace(/^DynMoLE /, "");
const CONFIGS = methods().map(configOf);

function flat(rows: CellRow[]) {
  const protocol = mainProtocol(rows);
  return rows.map((r) => flatten(r, protocol));
}

export const dynmoleQ: Study = {
  name: "dynmole-q",
  title: "DynMoLE: Tsallis entropy order q and ablations",
  question: "How sensitive is DynMoLE to the entropy order q, and what do its entropy loss and hybrid " +
    "(dense-when-uncertain) routing each contribute?",
  cells: (opts: StudyOptions) => grid(opts, methods(opts.data !== null)),
  reference: FULL,
  tables(rows) {
    const raw = aggregateBySeed(flat(rows), ["variant", "q"], ["average", "activeExperts", "routerEntropy"]);
    const display = meanStdTable(raw, ["variant", "q"], ["average", "activeExperts", "routerEntropy"], {
      digits: { average: 1, activeExperts: 2, routerEntropy: 3 },
      labels: { average: "accuracy (%)", activeExperts: "active experts / token", routerEntropy: "router entropy" },
    });
    return [{
      name: "table",
      raw,
      display,
      caption: `Accuracy, active experts and normalised router entropy, mean ± std${topPNote(rows)}`,
    }, ...specialisationTable(rows, { key: configOf, column: "configuration", order: CONFIGS })];
  },
  charts(rows) {
    const f = flat(rows);
    const q = tableRows(aggregateBySeed(f.filter((r) => r.variant === "full"), ["q"], ["average"])).map((r) => ({
      q: r.q,
      accuracy: r.average_mean,
      std: r.average_std,
    }));
    const ablation = tableRows(aggregateBySeed(f.filter((r) => r.q === 1.1), ["variant"], ["average"])).map((r) => ({
      variant: r.variant,
      accuracy: r.average_mean,
      std: r.average_std,
    }));
    // Router entropy over training: mean over seeds at each logged step, one line per configuration.
    const byKey = new Map<string, { step: number; entropy: number; config: string }[]>();
    for (const row of rows) {
      for (const h of row.history) {
        if (h.entropy === undefined) continue;
        const key = `${row.label}|${h.step}`;
        byKey.set(key, [...(byKey.get(key) ?? []), { step: h.step, entropy: h.entropy, config: row.label }]);
      }
    }
    const entropy = [...byKey.values()].map((xs) => ({
      step: xs[0].step,
      config: xs[0].config,
      entropy: xs.reduce((a, x) => a + x.entropy, 0) / xs.length,
    }));
    const protocol = mainProtocol(rows);
    return [
      {
        name: "q_accuracy",
        caption: "Accuracy against the entropy order q (q = 1: Shannon; ±1 std band over seeds)",
        spec: lineWithBand({
          data: q,
          x: "q",
          y: "accuracy",
          yErr: "std",
          xType: "quantitative",
          points: true,
          title: "DynMoLE: accuracy against the Tsallis order q",
          subtitle: `N = ${rowsConfig(rows).nExperts} experts · protocol: ${protocol}`,
          xTitle: "entropy order q",
          yTitle: "accuracy (%)",
        }),
      },
      {
        name: "ablations",
        caption: `DynMoLE at q = 1.1 against its ablations (±1 std over seeds)${topPNote(rows)}`,
        spec: barWithErrorBars({
          data: ablation,
          x: "variant",
          y: "accuracy",
          yErr: "std",
          title: "DynMoLE ablations at q = 1.1",
          subtitle: `protocol: ${protocol}`,
          xTitle: "variant",
          yTitle: "accuracy (%)",
        }),
      },
      {
        name: "entropy_training",
        caption: "Normalised router entropy on a fixed probe batch during training (mean over seeds)",
        spec: lineOverTime({
          data: entropy,
          x: "step",
          y: "entropy",
          color: "config",
          title: "Router entropy over training",
          subtitle: "mean normalised Shannon entropy of the routers' distributions, all sites",
          xTitle: "training step",
          yTitle: "normalised entropy",
        }),
      },
      ...specialisationChart(rows, { key: configOf, order: CONFIGS, xTitle: "configuration" }),
      ...paretoCharts(rows, mainProtocol(rows), configOf),
      ...curveCharts(rows, {
        name: "learning_curve_q",
        seriesTitle: "q",
        series: (r) => (r.group.variant === "full" ? configOf(r) : null),
        order: CONFIGS,
        title: "DynMoLE by q",
        loss: false,
      }),
      ...curveCharts(rows, {
        name: "learning_curve_ablations",
        seriesTitle: "configuration",
        series: (r) => (r.group.q === 1.1 ? String(r.group.variant) : null),
        order: ["full", "no entropy loss", "no hybrid routing", "top-2 only"],
        title: "DynMoLE ablations at q = 1.1",
      }),
    ];
  },
  papers: {
    table: "DynMoLE abstract: +9.6 % over LoRA and +2.3 % over MoLA on commonsense reasoning; the entropy loss " +
      "improves stability and convergence. No per-q table was available to us.",
    claims: (rows) => dynmoleClaims(rows),
  },
};

export function dynmoleClaims(rows: CellRow[]): ClaimCheck[] {
  const protocol = mainProtocol(rows);
  const names: [string, string] = ["full", "without the loss"];
  return [
    pairedClaim(rows, protocol, {
      claim: "The Tsallis entropy loss helps (full DynMoLE beats it without the loss)",
      source: "DynMoLE abstract",
      a: FULL,
      b: NO_LOSS,
      direction: "greater",
      names,
    }),
    pairedSeedClaim(rows, {
      claim: "The entropy loss sharpens the router (lower entropy than without it)",
      source: "methods.md §6 (both aux terms minimise)",
      a: FULL,
      b: NO_LOSS,
      direction: "less",
      value: (r) => flatten(r, protocol).routerEntropy as number,
      names,
      digits: 3,
    }),
    fasterClaim(rows, {
      claim: "The entropy loss speeds convergence (fewer steps to 90 % of final validation accuracy than without it)",
      source: "DynMoLE abstract (the loss guides convergence)",
      a: FULL,
      b: NO_LOSS,
      names,
    }),
    fasterClaim(rows, {
      claim: "Hybrid routing speeds convergence (fewer steps to 90 % of final validation accuracy than top-2 only)",
      source: "DynMoLE abstract (hybrid routing: faster convergence)",
      a: FULL,
      b: "DynMoLE top-2 only",
      names: ["full", "top-2 only"],
    }),
  ];
}
