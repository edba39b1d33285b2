/**
 * Convergence from the cells' validation curves (`CellRow.curve`, src/train/curve.ts): "steps to 90 % of
 * final" per seed, the "converges faster" claim (paired by seed), and learning-curve charts (mean over seeds
 * with a 95 % CI band).
 *
 * Steps to a fraction f (0.9) of final: with a₀ the accuracy at step 0 (before training) and a_T at the last
 * logged step, the first logged step whose accuracy reaches a₀ + f·(a_T − a₀). It is measured on the curve's
 * grid (every k updates, plus the last), so it is a multiple of k or the last step; a noisy early spike counts
 * (first crossing). A curve that does not rise (a_T ≤ a₀), or has fewer than two points, never converges to
 * anything: null, and a paired comparison drops that seed.
 */
import type { CellRow } from "../experiment/cell.ts";
import { pairedSeedClaim } from "../experiment/claims.ts";
import type { ClaimCheck, StudyChart } from "../experiment/study.ts";
import { type CategorySort, lineWithBand } from "./chart_specs.ts";
import { seedMeanBootstrap } from "./paired.ts";
import type { Row } from "./tables.ts";

type Curve = readonly { step: number; valAccuracy: number }[];

/** The first logged step at which accuracy reaches a₀ + fraction·(a_T − a₀); null if the curve does not rise. */
export function stepsToFraction(curve: Curve | undefined, fraction = 0.9): number | null {
  if (!curve || curve.length < 2) return null;
  const points = [...curve].sort((a, b) => a.step - b.step);
  const a0 = points[0].valAccuracy;
  const aT = points[points.length - 1].valAccuracy;
  if (!Number.isFinite(a0) || !Number.isFinite(aT) || !(aT > a0)) return null;
  const target = a0 + fraction * (aT - a0);
  // The last point reaches the target (aT ≥ target), so a step is always found; 1e-12 absorbs rounding.
  return points.find((p) => p.valAccuracy >= target - 1e-12)!.step;
}

/** Steps to 90 % of final for one row (null: no curve, or it does not rise). */
export const stepsTo90 = (row: CellRow): number | null => stepsToFraction(row.curve, 0.9);

export type CurveMetric = "valAccuracy" | "valLoss";

/**
 * Per series and logged step: the mean over seeds of `metric` (accuracy in %, loss in nats) and its 95 %
 * percentile-bootstrap CI over seeds (`seedMeanBootstrap`: 2000 resamples, fixed RNG seed; with one seed the
 * band is the line). `series` names a row's line (null: leave the row out).
 */
export function curveSummary(rows: CellRow[], series: (row: CellRow) => string | null, metric: CurveMetric): Row[] {
  const scale = metric === "valAccuracy" ? 100 : 1;
  const groups = new Map<string, { series: string; step: number; values: number[] }>();
  for (const row of rows) {
    const name = series(row);
    if (name === null || !row.curve) continue;
    for (const p of row.curve) {
      const v = p[metric];
      if (!Number.isFinite(v)) continue;
      const key = JSON.stringify([name, p.step]);
      const g = groups.get(key) ?? { series: name, step: p.step, values: [] };
      g.values.push(v * scale);
      groups.set(key, g);
    }
  }
  return [...groups.values()].map((g) => {
    const ci = seedMeanBootstrap(g.values);
    return { series: g.series, step: g.step, mean: ci.delta, lo: ci.lo, hi: ci.hi, seeds: g.values.length };
  });
}

export interface CurveChartOptions {
  rows: CellRow[];
  series: (row: CellRow) => string | null;
  metric: CurveMetric;
  title: string;
  subtitle?: string;
  /** Legend title (default "method"). */
  seriesTitle?: string;
  /** Legend order (default: natural). */
  order?: CategorySort;
}

/** A learning-curve chart (one line per series, shaded 95 % CI over seeds), or null when no row has a curve. */
export function curveChart(o: CurveChartOptions) {
  const data = curveSummary(o.rows, o.series, o.metric);
  if (data.length === 0) return null;
  const seeds = Math.max(...data.map((d) => d.seeds as number));
  const present = new Set(data.map((d) => d.series));
  const order = Array.isArray(o.order) ? o.order.filter((s) => present.has(s as string)) : o.order;
  return lineWithBand({
    data,
    x: "step",
    y: "mean",
    yLo: "lo",
    yHi: "hi",
    color: "series",
    colorTitle: o.seriesTitle ?? "method",
    colorSort: order,
    points: true,
    title: o.title,
    subtitle: `${o.subtitle ? `${o.subtitle} · ` : ""}mean of ${seeds} seed${seeds === 1 ? "" : "s"}, ` +
      "band: 95 % bootstrap CI over seeds",
    xTitle: "training step (updates)",
    yTitle: o.metric === "valAccuracy" ? "validation accuracy (%)" : "validation answer loss (nats)",
  });
}

export interface FasterClaimSpec {
  claim: string;
  source: string;
  /** Row labels: the claim is that `a` converges faster (fewer steps to 90 % of final) than `b`. */
  a: string;
  b: string;
  names?: [string, string];
}

/**
 * "A converges faster than B": steps to 90 % of final per seed, paired by seed, Δ = A − B in steps with its
 * 95 % bootstrap CI over seeds (`pairedSeedClaim`); holds when the CI lies below 0. Seeds where either curve
 * does not rise are dropped (the evidence says how many).
 */
export function fasterClaim(rows: CellRow[], spec: FasterClaimSpec): ClaimCheck {
  const { claim, source } = spec;
  const arms = rows.filter((r) => r.label === spec.a || r.label === spec.b);
  if (arms.length > 0 && !arms.some((r) => r.curve)) {
    return { claim, source, verdict: null, evidence: "not tested: the rows have no validation curve (eval.curve)" };
  }
  const c = pairedSeedClaim(rows, { ...spec, direction: "less", value: stepsTo90, digits: 0 });
  const flat = arms.filter((r) => r.curve && stepsTo90(r) === null).length;
  const note = flat ? `; ${flat} run${flat === 1 ? "" : "s"} whose curve does not rise left out` : "";
  return c.verdict === null ? c : { ...c, evidence: `steps to 90 % of final: ${c.evidence}${note}` };
}

export interface CurveChartsOptions {
  /** Chart name prefix ("learning_curve" → learning_curve.png, learning_curve_loss.png). */
  name: string;
  /** What the lines are, for titles and captions ("method", "configuration"). */
  seriesTitle: string;
  series: (row: CellRow) => string | null;
  order?: CategorySort;
  /** Title prefix ("DynMoLE: q"). */
  title: string;
  /** Also chart the validation answer loss (default true). */
  loss?: boolean;
}

/** The study charts of the validation curves: accuracy (and loss) against training step; none without curves. */
export function curveCharts(rows: CellRow[], o: CurveChartsOptions): StudyChart[] {
  const cfg = rows.find((r) => r.curve)?.config.eval.curve;
  const subtitle = cfg ? `every ${cfg.every} updates · ≤ ${cfg.limitPerTask ?? "all"} validation records per task` : "";
  const band = "shaded: 95 % bootstrap CI over seeds";
  const charts: StudyChart[] = [];
  const acc = curveChart({ ...o, rows, metric: "valAccuracy", subtitle, title: `${o.title}: validation accuracy` });
  if (acc) {
    charts.push({
      name: o.name,
      spec: acc,
      caption: `Validation accuracy (score protocol, macro average) during training, one line per ${o.seriesTitle}, ` +
        `mean over seeds; ${band}`,
    });
  }
  const loss = o.loss === false ? null : curveChart({
    ...o,
    rows,
    metric: "valLoss",
    subtitle,
    title: `${o.title}: validation answer loss`,
  });
  if (loss) {
    charts.push({
      name: `${o.name}_loss`,
      spec: loss,
      caption: `Validation answer cross-entropy (nats) during training, one line per ${o.seriesTitle}, mean over ` +
        `seeds; ${band}`,
    });
  }
  return charts;
}
