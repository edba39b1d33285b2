/**
 * Accuracy–cost trade-offs: which configurations are on the Pareto frontier (no other is at least as accurate and at
 * most as costly, and strictly better in one), drawn against trainable parameters and against training time.
 */
import type * as vl from "vega-lite";
import type { CellRow } from "../experiment/cell.ts";
import type { StudyChart } from "../experiment/study.ts";
import type { Protocol } from "../train/evaluate.ts";
import { scatter } from "./chart_specs.ts";

/** For each point, whether it is on the frontier: lower `cost` and higher `value` are better. */
export function paretoFront(points: readonly { cost: number; value: number }[]): boolean[] {
  return points.map((p, i) =>
    !points.some((q, j) => j !== i && q.cost <= p.cost && q.value >= p.value && (q.cost < p.cost || q.value > p.value))
  );
}

export interface ParetoPoint {
  config: string;
  accuracy: number;
  params: number;
  trainSec: number;
  tokensPerSec: number;
}

/** Mean accuracy (%), trainable parameters, train seconds and tokens/s per configuration (over its seeds). */
export function paretoPoints(rows: CellRow[], protocol: Protocol, keyOf: (r: CellRow) => string): ParetoPoint[] {
  const groups = Map.groupBy(rows.filter((r) => r.results[protocol]), keyOf);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [...groups].map(([config, rs]) => ({
    config,
    accuracy: mean(rs.map((r) => r.results[protocol]!.average * 100)),
    params: mean(rs.map((r) => r.cost.trainableParams)),
    trainSec: mean(rs.map((r) => r.cost.trainMs / 1000)),
    tokensPerSec: mean(rs.map((r) => r.cost.tokensPerSec)),
  }));
}

const ON = "on the frontier";
const OFF = "dominated";

/** Accuracy against one cost, frontier points joined by a staircase, dominated points greyed. */
function paretoSpec(
  points: ParetoPoint[],
  cost: "params" | "trainSec",
  title: string,
  xTitle: string,
  subtitle: string,
): vl.TopLevelSpec {
  const front = paretoFront(points.map((p) => ({ cost: p[cost], value: p.accuracy })));
  const data = points.map((p, i) => ({ ...p, frontier: front[i] ? ON : OFF }));
  const base = scatter({
    data,
    x: cost,
    y: "accuracy",
    color: "frontier",
    colorTitle: "",
    colorSort: [ON, OFF],
    label: "config",
    title,
    subtitle,
    xTitle,
    yTitle: "accuracy (%)",
  }) as vl.TopLevelSpec & { layer: unknown[] };
  const line = {
    data: { values: data.filter((d) => d.frontier === ON).sort((a, b) => a[cost] - b[cost]) },
    mark: { type: "line", interpolate: "step-after", color: "#888", strokeDash: [4, 3] },
    encoding: {
      x: { field: cost, type: "quantitative" },
      y: { field: "accuracy", type: "quantitative" },
    },
  };
  return { ...base, layer: [line, ...base.layer] } as vl.TopLevelSpec;
}

/** The two Pareto charts of a study's rows: accuracy against trainable parameters and against training time. */
export function paretoCharts(rows: CellRow[], protocol: Protocol, keyOf: (r: CellRow) => string): StudyChart[] {
  const points = paretoPoints(rows, protocol, keyOf);
  if (points.length < 2) return [];
  const sub = `mean over seeds · protocol: ${protocol} · dashed: the frontier (nothing else is as accurate for less)`;
  return [
    {
      name: "pareto_params",
      caption: "Accuracy against trainable parameters: the Pareto frontier and the dominated configurations",
      spec: paretoSpec(points, "params", "Accuracy vs trainable parameters", "trainable parameters", sub),
    },
    {
      name: "pareto_time",
      caption: "Accuracy against training time per cell: the Pareto frontier and the dominated configurations",
      spec: paretoSpec(points, "trainSec", "Accuracy vs training time", "training seconds per cell", sub),
    },
  ];
}
