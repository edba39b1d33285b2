/**
 * adamole-threshold — AdaMoLE's threshold sensitivity (AdaMoLE Tables 3–4): sweep τ_max from 0 (every expert
 * active: dense softmax routing) to 1, with the learned threshold network and with a fixed τ = τ_max, and
 * record accuracy and the mean number of active experts per token.
 */
import { lineWithBand } from "../src/report/charts.ts";
import { aggregateBySeed, meanStdTable, tableRows } from "../src/report/tables.ts";
import type { CellRow } from "../src/experiment/cell.ts";
import type { ClaimCheck, Study, StudyOptions } from "../src/experiment/study.ts";
import { BUDGET, flatten, grid, mainProtocol, orderClaim, seedStats } from "./common.ts";

const N = BUDGET.experts;
/** τ_max values as the paper names them (in units of 1/N). */
const TAUS: [string, number][] = [["0", 0], ["1/2N", 1 / (2 * N)], ["1/N", 1 / N], ["3/2N", 3 / (2 * N)], [
  "2/N",
  2 / N,
], [
  "1",
  1,
]];
const FIXED = new Set(["1/2N", "1/N", "3/2N", "2/N"]);

function methods() {
  const base = {
    method: "adamole",
    nExperts: N,
    rank: BUDGET.totalRank / N,
    targets: BUDGET.targets,
    dropout: BUDGET.dropout,
  };
  return TAUS.flatMap(([name, tau]) => [
    {
      label: `AdaMoLE τmax=${name}`,
      group: { tauMax: tau, tau: name, threshold: "learned" },
      method: { ...base, maxThreshold: tau },
    },
    ...(FIXED.has(name)
      ? [{
        label: `AdaMoLE fixed τ=${name}`,
        group: { tauMax: tau, tau: name, threshold: "fixed" },
        method: { ...base, maxThreshold: tau, constThreshold: true },
      }]
      : []),
  ]);
}

function flat(rows: CellRow[]) {
  const protocol = mainProtocol(rows);
  return rows.map((r) => flatten(r, protocol));
}

export const adamoleThreshold: Study = {
  name: "adamole-threshold",
  title: "AdaMoLE threshold sensitivity: accuracy and active experts against τ_max",
  question: "How does AdaMoLE's maximum threshold τ_max trade accuracy against the number of active experts, " +
    "and does learning the threshold beat a fixed one?",
  cells: (opts: StudyOptions) => grid(opts, methods()),
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
      caption: `Accuracy and active experts (of ${N}) per token, mean ± std over seeds`,
    }];
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
    return [{
      name: "threshold",
      caption: "Accuracy (solid, ±1 std band) and active experts per token (dashed, right axis) against τ_max",
      spec: lineWithBand({
        data,
        x: "tauMax",
        y: "accuracy",
        yErr: "accuracyStd",
        color: "threshold",
        xType: "quantitative",
        y2: "active",
        y2Title: "active experts per token",
        title: "AdaMoLE: accuracy and active experts against τ_max",
        subtitle: `N = ${N} experts · τ_max = 0 activates every expert · protocol: ${mainProtocol(rows)}`,
        xTitle: "maximum threshold τ_max",
        yTitle: "accuracy (%)",
        points: true,
      }),
    }];
  },
  papers: {
    table: "AdaMoLE Table 3–4 (Llama-2-7B, N = 8): CSQA 78.95 [6.59 active] at 0–1/(2N), 78.71 [3.46] at 0–1/N, " +
      "77.15 [1.26] at 0–3/(2N), 74.45 [0.33] at 0–2/N, 31.94 at 0–1.",
    claims: (rows) => thresholdClaims(rows),
  },
};

/** Per-seed values of `field` for the learned threshold at τ_max = `tau`. */
function learned(rows: Record<string, unknown>[], tau: string, field: string): number[] {
  return rows.filter((r) => r.tau === tau && r.threshold === "learned").map((r) => r[field] as number);
}

export function thresholdClaims(rows: CellRow[]): ClaimCheck[] {
  const f = flat(rows);
  const active = TAUS.map(([t]) => seedStats(learned(f, t, "activeExperts"))?.mean ?? null);
  const monotone = active.every((a, i) =>
    i === 0 || a === null || active[i - 1] === null || a <= active[i - 1]! + 1e-9
  );
  return [
    {
      claim: "A smaller τ_max activates more experts",
      source: "AdaMoLE Table 4",
      holds: active.some((a) => a === null) ? null : monotone,
      evidence: TAUS.map(([t], i) => `${t}: ${active[i]?.toFixed(2) ?? "–"}`).join(", "),
    },
    orderClaim(
      "τ_max far above 1/N collapses accuracy (τ_max = 1 worse than 1/N)",
      "AdaMoLE Table 3",
      { name: "τ_max=1", values: learned(f, "1", "average") },
      { name: "1/N", values: learned(f, "1/N", "average") },
      { lower: true },
    ),
  ];
}
