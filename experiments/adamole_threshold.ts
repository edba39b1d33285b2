/**
 * adamole-threshold — AdaMoLE's threshold sensitivity (AdaMoLE Tables 3–4): sweep τ_max from 0 (every expert
 * active: dense softmax routing) to 1, with the learned threshold network and with a fixed τ = τ_max, and
 * record accuracy and the mean number of active experts per token.
 */
import { lineWithBand } from "../src/report/charts.ts";
import { paretoCharts } from "../src/report/pareto.ts";
import { specialisationChart, specialisationTable } from "../src/report/specialisation.ts";
import { aggregateBySeed, meanStdTable, tableRows } from "../src/report/tables.ts";
import type { CellRow } from "../src/experiment/cell.ts";
import type { ClaimCheck, Study, StudyOptions } from "../src/experiment/study.ts";
import { pairedClaim, pairedSeedClaim, rowsBySeed } from "../src/experiment/claims.ts";
import { allOf, formatInterval, type Verdict } from "../src/report/paired.ts";
import { AdaMoleSchema } from "../src/routers/adamole.ts";
import { BUDGET, flatten, grid, mainProtocol, seedStats } from "./common.ts";

/** τ_max values as the paper names them (in units of 1/N). */
const TAU_NAMES: [string, (n: number) => number][] = [
  ["0", () => 0],
  ["1/2N", (n) => 1 / (2 * n)],
  ["1/N", (n) => 1 / n],
  ["3/2N", (n) => 3 / (2 * n)],
  ["2/N", (n) => 2 / n],
  ["1", () => 1],
];
const FIXED = new Set(["1/2N", "1/N", "3/2N", "2/N"]);

/** The row label of the learned threshold at τ_max = `name`. */
const learnedLabel = (name: string) => `AdaMoLE τmax=${name}`;

/**
 * The grid: on the embedded suite at the matched budget (N 4 × r 4 on all seven projections, dropout 0); on real
 * data (`--data`) at the paper's settings, AdaMoLE's defaults (N 8 experts of r 4, α 16, dropout 0.05, q/k/v/o).
 */
function methods(paper = false) {
  const base = paper ? { method: "adamole" } : {
    method: "adamole",
    nExperts: BUDGET.experts,
    rank: BUDGET.totalRank / BUDGET.experts,
    targets: BUDGET.targets,
    dropout: BUDGET.dropout,
  };
  const n = AdaMoleSchema.parse(base).nExperts;
  return TAU_NAMES.flatMap(([name, of]) => [
    {
      label: learnedLabel(name),
      group: { tauMax: of(n), tau: name, threshold: "learned" },
      method: { ...base, maxThreshold: of(n) },
    },
    ...(FIXED.has(name)
      ? [{
        label: `AdaMoLE fixed τ=${name}`,
        group: { tauMax: of(n), tau: name, threshold: "fixed" },
        method: { ...base, maxThreshold: of(n), constThreshold: true },
      }]
      : []),
  ]);
}

/** The rows' expert count N (the embedded grid's when there are no rows). */
function expertsOf(rows: CellRow[]): number {
  const parsed = AdaMoleSchema.safeParse(rows[0]?.config.method);
  return parsed.success ? parsed.data.nExperts : BUDGET.experts;
}

/** "learned τ=1/N": the specialisation table's and chart's name of a configuration. */
const configOf = (r: { group: Record<string, unknown> }) => `${r.group.threshold} τ=${r.group.tau}`;
const CONFIGS = methods().map(configOf);

function flat(rows: CellRow[]) {
  const protocol = mainProtocol(rows);
  return rows.map((r) => flatten(r, protocol));
}

export const adamoleThreshold: Study = {
  name: "adamole-threshold",
  title: "AdaMoLE threshold sensitivity: accuracy and active experts against τ_max",
  question: "How does AdaMoLE's maximum threshold τ_max trade accuracy against the number of active experts, " +
    "and does learning the threshold beat a fixed one?",
  cells: (opts: StudyOptions) => grid(opts, methods(opts.data !== null)),
  reference: learnedLabel("1/N"),
  tables(rows) {
    const raw = aggregateBySeed(flat(rows), ["tau", "tauMax", "threshold"], ["average", "activeExperts"]);
    const display = meanStdTable(raw, ["tau", "threshold"], ["average", "activeExperts"], {
      digits: { average: 1, activeExperts: 2 },
      labels: { tau: "τ_max", average: "accuracy (%)", activeExperts: "active experts / token" },
    });
    return [{
      name: "table",
      raw,
      display,
      caption: `Accuracy and active experts (of ${expertsOf(rows)}) per token, mean ± std over seeds`,
    }, ...specialisationTable(rows, { key: configOf, column: "threshold τ_max", order: CONFIGS })];
  },
  charts(rows) {
    const raw = aggregateBySeed(flat(rows), ["tauMax", "threshold"], ["average", "activeExperts"]);
    const data = tableRows(raw).map((r) => ({
      tauMax: r.tauMax,
      threshold: r.threshold,
      accuracy: r.average_mean,
      accuracyStd: r.average_std,
      active: r.activeExperts_mean,
    }));
    return [
      {
        name: "threshold",
        caption: "Accuracy (solid, ±1 std band) and active experts per token (dashed, right axis) against τ_max",
        spec: lineWithBand({
          data,
          x: "tauMax",
          y: "accuracy",
          yErr: "accuracyStd",
          color: "threshold",
          xType: "quantitative",
          // the settings as run, not rounded decimals (0.125 would read "0.1")
          xLabels: TAU_NAMES.map(([label, of]) => ({ value: of(expertsOf(rows)), label })),
          y2: "active",
          y2Title: "active experts per token",
          title: "AdaMoLE: accuracy and active experts against τ_max",
          subtitle: `N = ${expertsOf(rows)} experts (1/N = ${
            1 / expertsOf(rows)
          }) · τ_max = 0 activates every expert · protocol: ${mainProtocol(rows)}`,
          xTitle: "maximum threshold τ_max",
          yTitle: "accuracy (%)",
          points: true,
        }),
      },
      ...specialisationChart(rows, { key: configOf, order: CONFIGS, xTitle: "threshold, τ_max" }),
      ...paretoCharts(
        rows,
        mainProtocol(rows),
        configOf,
      ),
    ];
  },
  papers: {
    table: "AdaMoLE Table 3–4 (Llama-2-7B, N = 8): CSQA 78.95 [6.59 active] at 0–1/(2N), 78.71 [3.46] at 0–1/N, " +
      "77.15 [1.26] at 0–3/(2N), 74.45 [0.33] at 0–2/N, 31.94 at 0–1.",
    claims: (rows) => thresholdClaims(rows),
  },
};

/**
 * "A smaller τ_max activates more experts": the endpoints (τ_max = 0 vs 1) must differ (paired bootstrap over
 * seeds of active experts per token), and no adjacent step may reverse (a larger τ_max with clearly more
 * active experts contradicts it). Adjacent levels may tie (e.g. every expert active at both).
 */
function monotoneClaim(rows: CellRow[]): ClaimCheck {
  const claim = "A smaller τ_max activates more experts";
  const source = "AdaMoLE Table 4";
  const protocol = mainProtocol(rows);
  const names = TAU_NAMES.map(([t]) => t);
  if (names.some((t) => rowsBySeed(rows, learnedLabel(t)).size === 0)) {
    return { claim, source, verdict: null, evidence: "not tested: not run (some τ_max missing)" };
  }
  const active = (r: CellRow) => flatten(r, protocol).activeExperts as number;
  const contrast = (a: string, b: string) =>
    pairedSeedClaim(rows, {
      claim,
      source,
      a: learnedLabel(a),
      b: learnedLabel(b),
      direction: "greater",
      value: active,
      names: [a, b],
    });
  const ends = contrast(names[0], names.at(-1)!);
  const steps = names.slice(1).map((t, i) => ({ from: names[i], to: t, check: contrast(names[i], t) }));
  const reversed = steps.filter((s) => s.check.verdict === "contradicted");
  const verdict: Verdict | null = ends.verdict === null
    ? null
    : allOf([ends.verdict, ...(reversed.length ? ["contradicted" as const] : [])]);
  const means = TAU_NAMES.map(([t]) => {
    const xs = [...rowsBySeed(rows, learnedLabel(t)).values()].map(active);
    return `${t}: ${seedStats(xs)!.mean.toFixed(2)}`;
  });
  return {
    claim,
    source,
    verdict,
    interval: ends.interval,
    evidence: `active experts ${means.join(", ")}; τ_max ${names[0]} − ${names.at(-1)}: ${
      ends.interval ? formatInterval(ends.interval, 2, 1) : "–"
    }; ${
      reversed.length
        ? `reversed at ${
          reversed.map((s) => `${s.from}→${s.to} ${formatInterval(s.check.interval!, 2, 1)}`).join(", ")
        }`
        : "no adjacent step reverses"
    }`,
  };
}

export function thresholdClaims(rows: CellRow[]): ClaimCheck[] {
  return [
    monotoneClaim(rows),
    pairedClaim(rows, mainProtocol(rows), {
      claim: "τ_max far above 1/N collapses accuracy (τ_max = 1 worse than 1/N)",
      source: "AdaMoLE Table 3",
      a: learnedLabel("1"),
      b: learnedLabel("1/N"),
      direction: "less",
      names: ["τ_max=1", "1/N"],
    }),
  ];
}
