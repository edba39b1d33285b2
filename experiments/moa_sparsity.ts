/**
 * moa-sparsity — Soft vs Sparse MoA (methods.md §7): accuracy, active adapter types per token and cost
 * (train time; adapter FLOPs per token, dense vs routed), plus which adapter types each task uses. Both use
 * the sparse README's adapter types (LoRA Q, K, V, O, FFN_UP, FFN_DOWN + parallel adapter; the prompt expert
 * cannot run sparsely) so only the routing differs.
 */
import { heatmap, scatter } from "../src/report/charts.ts";
import { paretoCharts } from "../src/report/pareto.ts";
import { specialisationChart, specialisationTable } from "../src/report/specialisation.ts";
import { aggregateBySeed, meanStdTable, tableRows } from "../src/report/tables.ts";
import { TASKS } from "../src/data/types.ts";
import type { CellRow } from "../src/experiment/cell.ts";
import { resolveTypes } from "../src/routers/moa.ts";
import type { ClaimCheck, Study, StudyOptions } from "../src/experiment/study.ts";
import { pairedClaim, pairedSeedClaim } from "../src/experiment/claims.ts";
import { flatten, grid, mainProtocol } from "./common.ts";

const TYPES = "sparse-readme";

const SOFT = "Soft MoA";
const SPARSE = "Sparse MoA (learned τ, τmax 0.5)";

function methods() {
  return [
    { label: SOFT, group: { variant: "soft", tauMax: 0 }, method: { method: "moa-soft", types: TYPES } },
    {
      label: SPARSE,
      group: { variant: "sparse learned", tauMax: 0.5 },
      method: { method: "moa-sparse" },
    },
    ...[0.25, 0.5, 0.75].map((t) => ({
      label: `Sparse MoA (fixed τ ${t})`,
      group: { variant: `sparse fixed ${t}`, tauMax: t },
      method: { method: "moa-sparse", maxThreshold: t, constThreshold: true },
    })),
  ];
}

const variantOf = (r: CellRow) => String(r.group.variant);
const VARIANTS = methods().map((m) => m.group.variant);

function flat(rows: CellRow[]): Record<string, unknown>[] {
  const protocol = mainProtocol(rows);
  return rows.map((r) => ({
    ...flatten(r, protocol),
    denseMFlops: r.cost.adapterFlops.dense / 1e6,
    routedMFlops: r.cost.adapterFlops.routed / 1e6,
  }));
}

export const moaSparsity: Study = {
  name: "moa-sparsity",
  title: "MoA: soft vs sparse routing over heterogeneous adapters",
  question: "Does Sparse MoA keep Soft MoA's accuracy while activating fewer adapters, at what cost, and which " +
    "adapter types does each task lean on?",
  cells: (opts: StudyOptions) => grid(opts, methods()),
  reference: SOFT,
  tables(rows) {
    const metrics = ["average", "activeExperts", "trainSec", "denseMFlops", "routedMFlops"];
    const raw = aggregateBySeed(flat(rows), ["variant"], metrics);
    const display = meanStdTable(raw, ["variant"], metrics, {
      digits: { average: 1, activeExperts: 2, trainSec: 1, denseMFlops: 3, routedMFlops: 3 },
      labels: {
        average: "accuracy (%)",
        activeExperts: "active types / token",
        trainSec: "train s",
        denseMFlops: "adapter MFLOP/token (dense)",
        routedMFlops: "adapter MFLOP/token (routed)",
      },
    });
    return [
      { name: "table", raw, display, caption: "Accuracy, active adapter types (of 7), cost; mean ± std" },
      ...specialisationTable(rows, { key: variantOf, column: "variant", order: VARIANTS }),
    ];
  },
  charts(rows) {
    const raw = aggregateBySeed(flat(rows), ["variant"], ["average", "activeExperts"]);
    const points = tableRows(raw).map((r) => ({
      variant: r.variant,
      accuracy: r.average_mean,
      accuracyStd: r.average_std,
      active: r.activeExperts_mean,
    }));
    // Mean type weight per task, over layers and seeds, for the learned sparse variant (soft if absent).
    const types = resolveTypes(TYPES);
    const pick = rows.filter((r) => r.group.variant === "sparse learned").length ? "sparse learned" : "soft";
    const usage: { task: string; type: string; weight: number }[] = [];
    for (const task of TASKS) {
      const per = rows.filter((r) => r.group.variant === pick).map((r) => r.routing?.byTask[task]).filter((x) => x);
      if (!per.length) continue;
      types.forEach((type, i) => {
        const w = per.map((layers) => layers!.reduce((a, l) => a + (l.weight[i] ?? 0), 0) / layers!.length);
        usage.push({ task, type, weight: w.reduce((a, b) => a + b, 0) / w.length });
      });
    }
    return [
      {
        name: "accuracy_vs_active",
        caption: "Accuracy against active adapter types per token (error bars ±1 std)",
        spec: scatter({
          data: points,
          x: "active",
          y: "accuracy",
          yErr: "accuracyStd",
          color: "variant",
          label: "variant",
          title: "MoA: accuracy against active adapters",
          subtitle: `${types.length} adapter types · protocol: ${mainProtocol(rows)}`,
          xTitle: "active adapter types per token",
          yTitle: "accuracy (%)",
        }),
      },
      {
        name: "usage_heatmap",
        caption: `Mean routing weight of each adapter type per task (${pick} MoA, averaged over layers and seeds)`,
        spec: heatmap({
          data: usage,
          x: "type",
          y: "task",
          value: "weight",
          valueTitle: "mean weight",
          xSort: types,
          ySort: [...TASKS],
          domain: [0, 1],
          title: "Which adapter types each task uses",
          subtitle: `${pick} MoA · sigmoid weight × kept`,
          xTitle: "adapter type",
          yTitle: "task",
        }),
      },
      ...specialisationChart(rows, {
        key: variantOf,
        order: VARIANTS,
        xTitle: "variant",
        title: "Does the adapter-type routing specialise by task?",
      }),
      ...paretoCharts(rows, mainProtocol(rows), variantOf),
    ];
  },
  papers: {
    table: "MoA (arXiv 2506.05928): heterogeneous MoA beats homogeneous MoE-LoRA; Sparse MoA loses only negligibly " +
      "against Soft MoA while activating fewer adapters. No numbers were available to us.",
    claims: (rows) => moaClaims(rows),
  },
};

export function moaClaims(rows: CellRow[]): ClaimCheck[] {
  const protocol = mainProtocol(rows);
  const names: [string, string] = ["sparse", "soft"];
  return [
    pairedClaim(rows, protocol, {
      claim: "Sparse MoA ≈ Soft MoA in accuracy (within 1 point)",
      source: "MoA abstract",
      a: SPARSE,
      b: SOFT,
      direction: "within",
      margin: 1,
      names,
    }),
    pairedSeedClaim(rows, {
      claim: "Sparse MoA activates fewer adapters than Soft MoA",
      source: "MoA abstract",
      a: SPARSE,
      b: SOFT,
      direction: "less",
      value: (r) => flatten(r, protocol).activeExperts as number,
      names,
      digits: 2,
    }),
  ];
}
