/**
 * The bench's charts: per-backend sweeps (ms against tokens, d or experts, one line per method), method/LoRA
 * ratio bars, training-step throughput, sparse vs dense routing, and the soak's memory. Adds the one chart
 * shape the report builders lack: median lines with an asymmetric interquartile band, on log axes.
 */
import type * as vl from "vega-lite";
import {
  barWithErrorBars,
  categories,
  CHART_CONFIG,
  fieldRef,
  lineWithBand,
  VEGA_LITE_SCHEMA,
  writeChart,
} from "../src/report/charts.ts";
import type { Row } from "../src/report/tables.ts";
import type { LayerRow } from "./measure.ts";
import type { BenchResults } from "./output.ts";
import { AXES, type GridShape } from "./presets.ts";
import { dispatchRows, overLora, summarizeRatios, torchId } from "./ratios.ts";

export interface IqrLineOptions {
  data: Row[];
  title: string;
  subtitle?: string;
  x: string;
  y: string;
  /** Band from `lo` to `hi` (e.g. the quartiles). */
  lo: string;
  hi: string;
  color: string;
  xTitle: string;
  yTitle: string;
  colorTitle?: string;
  xLog?: boolean;
  yLog?: boolean;
}

/** Median lines with a q1–q3 band per series; log axes for quantities spanning decades. */
export function iqrLines(o: IqrLineOptions): vl.TopLevelSpec {
  const xs = categories(o.data, o.x);
  const x = {
    field: fieldRef(o.x),
    type: "quantitative",
    title: o.xTitle,
    scale: o.xLog ? { type: "log" } : { zero: false },
    axis: { values: xs },
  };
  const yScale = o.yLog ? { type: "log" } : { zero: false };
  const color = {
    field: fieldRef(o.color),
    type: "nominal",
    title: o.colorTitle ?? o.color,
    sort: categories(o.data, o.color, null),
    legend: { symbolOpacity: 1, symbolStrokeWidth: 2 },
  };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: o.subtitle ? { text: o.title, subtitle: o.subtitle } : o.title,
    width: 520,
    height: 300,
    background: "white",
    padding: 8,
    data: { values: o.data },
    layer: [
      {
        mark: { type: "area", opacity: 0.2 },
        encoding: {
          x,
          y: { field: fieldRef(o.lo), type: "quantitative", title: o.yTitle, scale: yScale },
          y2: { field: fieldRef(o.hi) },
          color,
        },
      },
      {
        mark: { type: "line", strokeWidth: 2, point: true },
        encoding: { x, y: { field: fieldRef(o.y), type: "quantitative", title: o.yTitle, scale: yScale }, color },
      },
    ],
    config: CHART_CONFIG,
  } as vl.TopLevelSpec;
}

/** Rows at a backend's centre except along `axis` (for a sweep chart). */
function sweepRows(rows: readonly LayerRow[], center: GridShape, axis: typeof AXES[number]): LayerRow[] {
  return rows.filter((x) =>
    AXES.every((a) => a === axis || a === "topk" || x[a] === center[a]) &&
    (axis === "topk" || x.topk === null || x.topk === center.topk)
  );
}

/** Write every chart the results support into `dir`; returns the file names. */
/** One throughput chart per step-bench model shape. */
const STEP_CHARTS = [
  ["embedded", "step_tokens_per_s", "Training step throughput, embedded-default model"],
  ["real-vocab", "step_real_vocab_tokens_per_s", "Training step throughput, real-format shape (vocabulary 32,001)"],
] as const;

export async function writeCharts(dir: string, r: BenchResults, steps: Row[], sparsity: Row[]) {
  const charts: string[] = [];
  const add = async (name: string, spec: Parameters<typeof writeChart>[2]) => {
    await writeChart(dir, name, spec);
    charts.push(`${name}.vl.json`, `${name}.svg`, `${name}.png`);
  };
  for (const backend of new Set(r.layer.map((x) => x.backend))) {
    const center = r.centers[backend];
    if (!center) continue;
    for (const axis of ["tokens", "d", "experts"] as const) {
      const rows = sweepRows(r.layer.filter((x) => x.backend === backend), center, axis);
      if (new Set(rows.map((x) => x[axis])).size < 2) continue;
      const fixed = AXES.filter((a) => a !== axis).map((a) => `${a} ${center[a]}`).join(", ");
      await add(
        `layer_${backend}_${axis}`,
        iqrLines({
          data: rows.map((x) => ({
            [axis]: x[axis],
            method: x.method,
            ms: x.timing.median,
            q1: x.timing.q1,
            q3: x.timing.q3,
          })),
          title: `MoE-LoRA layer forward+backward on ${backend}`,
          subtitle: `median ms with interquartile band; ${fixed}; LoRA at rank experts×r`,
          x: axis,
          y: "ms",
          lo: "q1",
          hi: "q3",
          color: "method",
          xTitle: axis === "d" ? "d (model width)" : axis,
          yTitle: "ms per step (log)",
          xLog: true,
          yLog: true,
        }),
      );
    }
  }
  const ratios = summarizeRatios(overLora(r.layer));
  if (ratios.length) {
    const std = (b: string, m: string) => {
      const xs = overLora(r.layer).filter((x) => x.backend === b && x.method === m).map((x) => x.ratio);
      const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
      return xs.length > 1 ? Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / (xs.length - 1)) : 0;
    };
    await add(
      "layer_over_lora",
      barWithErrorBars({
        data: ratios.map((s) => ({ ...s, err: std(s.backend, s.method) })),
        title: "Layer cost over plain LoRA at equal total rank",
        subtitle: "geometric mean over the shapes measured; error bars ± std over shapes",
        x: "method",
        y: "geomean",
        yErr: "err",
        color: "backend",
        xTitle: "method",
        yTitle: "time / LoRA time (×)",
        sort: null,
      }),
    );
  }
  for (const [model, file, title] of STEP_CHARTS) {
    const rows = steps.filter((s) => s.model === model);
    if (!rows.length) continue;
    const tokens = (s: Row, ms: number) => (s.tokens_per_s as number) * (s.ms_median as number) / ms;
    const torchRows = rows.filter((s) => s.torch_cpu_ms !== null && (s.backend === rows[0].backend)).map((s) => ({
      method: s.method,
      backend: "torch CPU",
      tokens_per_s: tokens(s, s.torch_cpu_ms as number),
      err: (tokens(s, s.torch_cpu_q1 as number) - tokens(s, s.torch_cpu_q3 as number)) / 2,
    }));
    await add(
      file,
      barWithErrorBars({
        data: [
          ...rows.map((s) => ({
            ...s,
            err: ((s.tokens_per_s_q3 as number) - (s.tokens_per_s_q1 as number)) / 2,
          })),
          ...torchRows,
        ],
        title,
        subtitle: "all 7 projections at total rank 16 (MoE: 8 experts × r 2); torch CPU = the PyTorch eager step " +
          "timed in the same rounds; error bars ± half the IQR",
        x: "method",
        y: "tokens_per_s",
        yErr: "err",
        color: "backend",
        xTitle: "method",
        yTitle: "tokens / s",
        sort: null,
      }),
    );
  }
  const torch = r.torchCpu ? dispatchRows(r.sparsity, r.torchCpu.timings) : [];
  const sparseLines = [
    ...r.layer.filter((x) => r.sparsity.some((c) => torchId(c) === torchId(x))).map((x) => ({
      series: `${x.backend} ${x.method === "soft" ? "soft (dense)" : `top-${x.topk} (masked)`}`,
      experts: x.experts,
      ms: x.timing.median,
      q1: x.timing.q1,
      q3: x.timing.q3,
    })),
    ...torch.flatMap((t) => [
      { series: "torch top-k (masked)", experts: t.experts, ms: t.masked, q1: t.masked, q3: t.masked },
      { series: "torch top-k (dispatch)", experts: t.experts, ms: t.dispatch, q1: t.dispatch, q3: t.dispatch },
      { series: "torch soft (dense)", experts: t.experts, ms: t.soft, q1: t.soft, q3: t.soft },
    ]),
  ];
  if (sparsity.length && new Set(sparseLines.map((x) => x.experts)).size > 1) {
    await add(
      "sparsity",
      iqrLines({
        data: sparseLines,
        title: "Sparse vs dense routing cost",
        subtitle: "layer forward+backward; masked = every expert computed, g = 0 off the top-k",
        x: "experts",
        y: "ms",
        lo: "q1",
        hi: "q3",
        color: "series",
        xTitle: "experts N (rank r each)",
        yTitle: "ms per step (log)",
        xLog: true,
        yLog: true,
      }),
    );
  }
  if (r.soak && r.soak.samples.length > 1) {
    await add(
      "soak",
      lineWithBand({
        data: r.soak.samples.map((s) => ({ ...s, mib: s.numBytes / 2 ** 20 })),
        title: `Memory over ${r.soak.samples.at(-1)!.step} training steps (${r.soak.backend}, ${r.soak.method})`,
        subtitle: "live tfjs tensors (solid) and their MiB (dashed)",
        x: "step",
        y: "numTensors",
        y2: "mib",
        y2Title: "tensor MiB",
        xTitle: "training step",
        yTitle: "live tensors",
        points: false,
      }),
    );
  }
  return charts;
}
