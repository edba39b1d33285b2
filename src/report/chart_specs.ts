/**
 * Chart builders: small functions from result rows to readable vega-lite 6 specs with the data inline.
 *
 * Every chart gets a title, axis titles (callers put units in them: "accuracy (%)"), 12–16 px text in
 * DejaVu Sans, the colour-blind-safe "tableau10" category scheme, and categories in natural order
 * ("e2" before "e10") unless the caller gives an order. Field names may contain dots ("metrics.acc"):
 * they name a column, not a nested path.
 */
import type * as vl from "vega-lite";
import type { Row } from "./tables.ts";

/** Category order: natural ascending (default), descending, first appearance in the data (null), or explicit. */
export type CategorySort = "ascending" | "descending" | null | (string | number)[];

export const FONT_FAMILY = "DejaVu Sans";
export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const COLORS = ["#4e79a7", "#f28e2b"]; // the first two tableau10 colours
const LO = "__lo";
const HI = "__hi";

export const CHART_CONFIG = {
  font: FONT_FAMILY,
  title: { fontSize: 16, subtitleFontSize: 12, anchor: "start", offset: 12 },
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 8, labelLimit: 200, gridColor: "#e8e8e8" },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 240 },
  range: { category: { scheme: "tableau10" } },
  view: { stroke: null },
};

interface Common {
  data: Row[];
  title: string;
  subtitle?: string;
  /** Plot width in px (default 520). */
  width?: number;
  /** Plot height in px (default 300). */
  height?: number;
}

/** Escape a column name for a vega-lite `field` (dots and brackets would otherwise mean nesting). */
export function fieldRef(name: string): string {
  return name.replace(/[.[\]\\]/g, (c) => `\\${c}`);
}

/** A vega expression reading column `name` of the current datum. */
function datum(name: string): string {
  return `datum[${JSON.stringify(name)}]`;
}

function naturalCompare(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), "en", { numeric: true });
}

/** The distinct values of `field` in the order `sort` asks for. */
export function categories(data: Row[], field: string, sort: CategorySort = "ascending"): (string | number)[] {
  if (Array.isArray(sort)) return sort;
  const seen = [...new Set(data.map((r) => r[field]))].filter((v) => v !== undefined && v !== null) as (
    | string
    | number
  )[];
  if (sort === null) return seen;
  seen.sort(naturalCompare);
  return sort === "descending" ? seen.reverse() : seen;
}

/** Approximate width (px) of an axis label in 12 px DejaVu Sans: narrow, capital, digit and other glyphs. */
function labelWidth(label: unknown): number {
  const glyph = (ch: string) => /[ijlt.,:;'|!fr\s-]/.test(ch) ? 4 : /[A-Z]/.test(ch) ? 8.5 : /\d/.test(ch) ? 7.6 : 7.2;
  return [...String(label)].reduce((w, ch) => w + glyph(ch), 0);
}

/** 0 when every label fits within its own band of an axis `width` wide, else slanted. */
export function labelAngle(labels: unknown[], width: number): number {
  if (labels.length === 0) return 0;
  const band = width / labels.length;
  return Math.max(...labels.map(labelWidth)) + 4 <= band ? 0 : -40;
}

function frame(o: Common, body: Record<string, unknown>, size?: { width: number; height: number }): vl.TopLevelSpec {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: o.subtitle ? { text: o.title, subtitle: o.subtitle } : o.title,
    width: o.width ?? size?.width ?? 520,
    height: o.height ?? size?.height ?? 300,
    background: "white",
    padding: 8,
    data: { values: o.data },
    ...body,
    config: CHART_CONFIG,
  } as vl.TopLevelSpec;
}

function colorEncoding(o: Common, color: string, title: string | undefined, sort: CategorySort | undefined) {
  return { field: fieldRef(color), type: "nominal", title: title ?? color, sort: categories(o.data, color, sort) };
}

function errorTransform(y: string, yErr: string) {
  return [
    { calculate: `${datum(y)} - ${datum(yErr)}`, as: LO },
    { calculate: `${datum(y)} + ${datum(yErr)}`, as: HI },
  ];
}

function quantScale(domain?: [number, number], zero?: boolean, type?: string) {
  const s: Record<string, unknown> = {};
  if (domain) s.domain = domain;
  if (zero !== undefined) s.zero = zero;
  if (type && type !== "linear") s.type = type;
  return s;
}

/** A bar chart's axes: categories along x in `sort` order (labels slant when crowded), the quantity on y. */
function barAxes(o: BarCommon) {
  const xs = categories(o.data, o.x, o.sort);
  const x = {
    field: fieldRef(o.x),
    type: "nominal",
    title: o.xTitle,
    sort: xs,
    axis: { labelAngle: labelAngle(xs, o.width ?? 520) },
  };
  const yScale = quantScale(o.yDomain);
  return { x, y: { field: fieldRef(o.y), type: "quantitative", title: o.yTitle, scale: yScale }, yScale };
}

/** What every bar chart takes: categories along x, a quantity on y, an optional colour grouping. */
interface BarCommon extends Common {
  x: string;
  y: string;
  /** Optional grouping field: grouped bars side by side, one colour each. */
  color?: string;
  xTitle: string;
  yTitle: string;
  colorTitle?: string;
  sort?: CategorySort;
  colorSort?: CategorySort;
  yDomain?: [number, number];
}

export interface BarOptions extends BarCommon {
  /** Half-height of the error bar (e.g. the std column). */
  yErr: string;
}

/** Mean bars with ±err error bars (e.g. average accuracy per method, optionally grouped by a second field). */
export function barWithErrorBars(o: BarOptions): vl.TopLevelSpec {
  const { x, y, yScale } = barAxes(o);
  const group = o.color
    ? {
      color: colorEncoding(o, o.color, o.colorTitle, o.colorSort),
      xOffset: { field: fieldRef(o.color), sort: categories(o.data, o.color, o.colorSort) },
    }
    : {};
  const tooltip = [
    { field: fieldRef(o.x), type: "nominal", title: o.xTitle },
    ...(o.color ? [{ field: fieldRef(o.color), type: "nominal", title: o.colorTitle ?? o.color }] : []),
    { field: fieldRef(o.y), type: "quantitative", format: ".3~f", title: o.yTitle },
    { field: fieldRef(o.yErr), type: "quantitative", format: ".3~f", title: "± err" },
  ];
  return frame(o, {
    transform: errorTransform(o.y, o.yErr),
    layer: [
      { mark: { type: "bar", color: COLORS[0], clip: true }, encoding: { x, y, ...group, tooltip } },
      {
        mark: { type: "errorbar", ticks: true, size: 14, color: "black", thickness: 1.5, clip: true },
        encoding: {
          x,
          y: { field: LO, type: "quantitative", title: o.yTitle, scale: yScale },
          y2: { field: HI },
          ...(o.color ? { xOffset: group.xOffset } : {}),
        },
      },
    ],
  });
}

export interface LineBandOptions extends Common {
  x: string;
  y: string;
  /** Half-width of the shaded band (e.g. std over seeds). */
  yErr?: string;
  /** Or the band's own lower and upper columns (an asymmetric interval, e.g. a bootstrap CI); needs both. */
  yLo?: string;
  yHi?: string;
  /** One line per value of this field (e.g. method or config). */
  color?: string;
  xTitle: string;
  yTitle: string;
  colorTitle?: string;
  colorSort?: CategorySort;
  /** "quantitative" (default) or "ordinal" x. */
  xType?: "quantitative" | "ordinal";
  xScale?: "linear" | "log" | "sqrt";
  /** Quantitative x: ticks at exactly these values, labelled as given (e.g. "1/2N" at 0.125) instead of rounded. */
  xLabels?: { value: number; label: string }[];
  /** Dots on the data points (default true). */
  points?: boolean;
  yDomain?: [number, number];
  /** A second y field drawn dashed on an independent right axis (e.g. active experts). */
  y2?: string;
  y2Title?: string;
}

/** A vega label expression: each tick value's given label (matched to 1e-9), else the default text. */
function labelExpr(labels: { value: number; label: string }[]): string {
  return labels.reduceRight(
    (rest, l) => `abs(datum.value - ${l.value}) < 1e-9 ? ${JSON.stringify(l.label)} : ${rest}`,
    "datum.label",
  );
}

/** Lines with a ±err band (e.g. accuracy vs threshold), optionally a dashed second metric on a right axis. */
export function lineWithBand(o: LineBandOptions): vl.TopLevelSpec {
  const xType = o.xType ?? "quantitative";
  const xVals = categories(o.data, o.x);
  const xAxis = o.xLabels
    ? { values: o.xLabels.map((l) => l.value), labelExpr: labelExpr(o.xLabels) }
    : xVals.length <= 12
    ? { values: xVals, format: ".6~g" } // the values as they are (0.125, not a rounded "0.1")
    : null;
  const x = {
    field: fieldRef(o.x),
    type: xType,
    title: o.xTitle,
    ...(xType === "quantitative" ? { scale: quantScale(undefined, false, o.xScale) } : { sort: xVals }),
    ...(xType === "quantitative" && xAxis ? { axis: xAxis } : {}),
  };
  // Band and lines share one legend; its symbols must not take the band's faint opacity.
  const legend = { symbolOpacity: 1, symbolStrokeWidth: 2 };
  const color = o.color ? { color: { ...colorEncoding(o, o.color, o.colorTitle, o.colorSort), legend } } : {};
  const yScale = quantScale(o.yDomain, false);
  const y = { field: fieldRef(o.y), type: "quantitative", title: o.yTitle, scale: yScale };
  const line = {
    mark: { type: "line", strokeWidth: 2, point: o.points ?? true, ...(o.color ? {} : { color: COLORS[0] }) },
    encoding: { x, y, ...color },
  };
  const bounds = o.yErr
    ? { transform: errorTransform(o.y, o.yErr), lo: LO, hi: HI }
    : o.yLo && o.yHi
    ? { transform: [], lo: fieldRef(o.yLo), hi: fieldRef(o.yHi) }
    : null;
  const band = bounds
    ? [{
      ...(bounds.transform.length ? { transform: bounds.transform } : {}),
      mark: { type: "area", opacity: 0.2, ...(o.color ? {} : { color: COLORS[0] }) },
      encoding: {
        x,
        y: { field: bounds.lo, type: "quantitative", title: o.yTitle, scale: yScale },
        y2: { field: bounds.hi },
        ...color,
      },
    }]
    : [];
  if (!o.y2) return frame(o, { layer: [...band, line] });
  const second = {
    mark: {
      type: "line",
      strokeWidth: 2,
      strokeDash: [6, 4],
      point: o.points ?? true,
      ...(o.color ? {} : { color: COLORS[1] }),
    },
    encoding: {
      x,
      y: {
        field: fieldRef(o.y2),
        type: "quantitative",
        title: `${o.y2Title ?? o.y2} (dashed)`,
        scale: { zero: false },
        axis: { orient: "right", grid: false },
      },
      ...color,
    },
  };
  return frame(o, { layer: [{ layer: [...band, line] }, second], resolve: { scale: { y: "independent" } } });
}

export interface ScatterOptions extends Common {
  x: string;
  y: string;
  color?: string;
  colorTitle?: string;
  colorSort?: CategorySort;
  /** Text beside each point (e.g. the config name). */
  label?: string;
  xErr?: string;
  yErr?: string;
  xTitle: string;
  yTitle: string;
  xZero?: boolean;
  yZero?: boolean;
  xScale?: "linear" | "log" | "sqrt";
}

/** Points (e.g. accuracy vs active adapters), colour and shape by group for colour-blind readers. */
export function scatter(o: ScatterOptions): vl.TopLevelSpec {
  const x = {
    field: fieldRef(o.x),
    type: "quantitative",
    title: o.xTitle,
    scale: quantScale(undefined, o.xZero ?? false, o.xScale),
  };
  const y = {
    field: fieldRef(o.y),
    type: "quantitative",
    title: o.yTitle,
    scale: quantScale(undefined, o.yZero ?? false),
  };
  const group = o.color
    ? {
      color: colorEncoding(o, o.color, o.colorTitle, o.colorSort),
      shape: colorEncoding(o, o.color, o.colorTitle, o.colorSort),
    }
    : {};
  const layers: Record<string, unknown>[] = [{
    mark: { type: "point", filled: true, size: 90, opacity: 0.9, ...(o.color ? {} : { color: COLORS[0] }) },
    encoding: { x, y, ...group },
  }];
  if (o.yErr) {
    layers.push({
      transform: errorTransform(o.y, o.yErr),
      mark: { type: "errorbar", ticks: true, color: "#555" },
      encoding: { x, y: { field: LO, type: "quantitative", title: o.yTitle, scale: y.scale }, y2: { field: HI } },
    });
  }
  if (o.xErr) {
    layers.push({
      transform: errorTransform(o.x, o.xErr),
      mark: { type: "errorbar", ticks: true, color: "#555" },
      encoding: { y, x: { field: LO, type: "quantitative", title: o.xTitle, scale: x.scale }, x2: { field: HI } },
    });
  }
  if (o.label) {
    layers.push({
      mark: { type: "text", align: "left", dx: 8, dy: -8, fontSize: 11, color: "#333" },
      encoding: { x, y, text: { field: fieldRef(o.label) } },
    });
  }
  return frame(o, { layer: layers });
}

export interface HeatmapOptions extends Common {
  x: string;
  y: string;
  value: string;
  xTitle: string;
  yTitle: string;
  valueTitle: string;
  xSort?: CategorySort;
  ySort?: CategorySort;
  /** Print the value in each cell (default: when there are at most 120 cells). */
  labels?: boolean;
  /** Fraction digits of the cell labels (default 2). */
  digits?: number;
  /** A sequential vega scheme (default "blues", single hue: colour-blind safe). */
  scheme?: string;
  domain?: [number, number];
}

/**
 * A grid of coloured cells (e.g. expert usage by task, token × expert routing weight). Rows with the same
 * (x, y) overlap, so give repeated tokens distinct names ("3:the").
 */
export function heatmap(o: HeatmapOptions): vl.TopLevelSpec {
  const xs = categories(o.data, o.x, o.xSort);
  const ys = categories(o.data, o.y, o.ySort);
  const size = {
    width: Math.min(640, Math.max(200, xs.length * 44)),
    height: Math.min(480, Math.max(90, ys.length * 30)),
  };
  const x = {
    field: fieldRef(o.x),
    type: "ordinal",
    title: o.xTitle,
    sort: xs,
    axis: { labelAngle: labelAngle(xs, o.width ?? size.width), ticks: false, domain: false },
  };
  const y = { field: fieldRef(o.y), type: "ordinal", title: o.yTitle, sort: ys, axis: { ticks: false, domain: false } };
  const values = o.data.map((r) => r[o.value]).filter((v): v is number => typeof v === "number");
  const [lo, hi] = o.domain ?? (values.length ? [Math.min(...values), Math.max(...values)] : [0, 0]);
  const layers: Record<string, unknown>[] = [{
    mark: { type: "rect", stroke: "white", strokeWidth: 1 },
    encoding: {
      x,
      y,
      color: {
        field: fieldRef(o.value),
        type: "quantitative",
        title: o.valueTitle,
        scale: { scheme: o.scheme ?? "blues", ...(o.domain ? { domain: o.domain } : {}) },
      },
      tooltip: [
        { field: x.field, type: "ordinal", title: o.xTitle },
        { field: y.field, type: "ordinal", title: o.yTitle },
        { field: fieldRef(o.value), type: "quantitative", format: ".3~f", title: o.valueTitle },
      ],
    },
  }];
  if (o.labels ?? xs.length * ys.length <= 120) {
    layers.push({
      mark: { type: "text", fontSize: 11 },
      encoding: {
        x,
        y,
        text: { field: fieldRef(o.value), type: "quantitative", format: `.${o.digits ?? 2}f` },
        color: { condition: { test: `${datum(o.value)} > ${(lo + hi) / 2}`, value: "white" }, value: "black" },
      },
    });
  }
  return frame(o, { layer: layers }, size);
}

export interface LineOverTimeOptions extends Common {
  /** The step (or time) field. */
  x: string;
  y: string;
  /** One line per value (e.g. config name). */
  color?: string;
  colorTitle?: string;
  colorSort?: CategorySort;
  xTitle: string;
  yTitle: string;
  /** Trailing moving-average window in points; the raw line stays, faint, behind (default 1: off). */
  smooth?: number;
  yScale?: "linear" | "log";
  yDomain?: [number, number];
}

/** Metric over training steps (e.g. router entropy), one line per config, optionally smoothed. */
export function lineOverTime(o: LineOverTimeOptions): vl.TopLevelSpec {
  const x = { field: fieldRef(o.x), type: "quantitative", title: o.xTitle, scale: { zero: false } };
  const yScale = quantScale(o.yDomain, false, o.yScale);
  const legend = { symbolType: "stroke", symbolOpacity: 1, symbolStrokeWidth: 2.5 };
  const color = o.color ? { color: { ...colorEncoding(o, o.color, o.colorTitle, o.colorSort), legend } } : {};
  const fixedColor = o.color ? {} : { color: COLORS[0] };
  const k = Math.max(1, Math.floor(o.smooth ?? 1));
  const raw = {
    mark: { type: "line", strokeWidth: k > 1 ? 1 : 2, opacity: k > 1 ? 0.25 : 1, ...fixedColor },
    encoding: {
      x,
      y: { field: fieldRef(o.y), type: "quantitative", title: o.yTitle, scale: yScale },
      ...color,
    },
  };
  if (k === 1) return frame(o, { layer: [raw] });
  const smoothed = {
    transform: [{
      window: [{ op: "mean", field: fieldRef(o.y), as: "__smooth" }],
      frame: [-(k - 1), 0],
      sort: [{ field: fieldRef(o.x) }],
      ...(o.color ? { groupby: [fieldRef(o.color)] } : {}),
    }],
    mark: { type: "line", strokeWidth: 2, ...fixedColor },
    encoding: { x, y: { field: "__smooth", type: "quantitative", title: o.yTitle, scale: yScale }, ...color },
  };
  return frame(o, { layer: [raw, smoothed] });
}

export interface ReferenceBarOptions extends BarCommon {
  /** Columns of the error bar's ends (e.g. a bootstrap 95 % CI). */
  yLo: string;
  yHi: string;
  /** A reference value per bar (e.g. a null's 95th percentile), drawn as a black tick across the bar. */
  ref: string;
  refTitle: string;
}

/**
 * Bars with an interval and a reference tick each (e.g. routing specialisation per method and layer, the CI
 * over seeds, and the shuffled null's 95th percentile): a bar whose interval clears its tick beats the reference.
 */
export function barsWithReference(o: ReferenceBarOptions): vl.TopLevelSpec {
  const { x, y, yScale } = barAxes(o);
  const offset = o.color
    ? { xOffset: { field: fieldRef(o.color), sort: categories(o.data, o.color, o.colorSort) } }
    : {};
  const color = o.color ? { color: colorEncoding(o, o.color, o.colorTitle, o.colorSort) } : {};
  const tooltip = [
    { field: fieldRef(o.x), type: "nominal", title: o.xTitle },
    ...(o.color ? [{ field: fieldRef(o.color), type: "nominal", title: o.colorTitle ?? o.color }] : []),
    { field: fieldRef(o.y), type: "quantitative", format: ".3~f", title: o.yTitle },
    { field: fieldRef(o.yLo), type: "quantitative", format: ".3~f", title: "interval low" },
    { field: fieldRef(o.yHi), type: "quantitative", format: ".3~f", title: "interval high" },
    { field: fieldRef(o.ref), type: "quantitative", format: ".3~f", title: o.refTitle },
  ];
  return frame(o, {
    layer: [
      {
        mark: { type: "bar", clip: true, ...(o.color ? {} : { color: COLORS[0] }) },
        encoding: { x, y, ...color, ...offset, tooltip },
      },
      {
        mark: { type: "errorbar", ticks: true, size: 8, color: "#333", thickness: 1.5, clip: true },
        encoding: {
          x,
          y: { field: fieldRef(o.yLo), type: "quantitative", title: o.yTitle, scale: yScale },
          y2: { field: fieldRef(o.yHi) },
          ...offset,
        },
      },
      {
        mark: { type: "tick", color: "black", thickness: 2.5, clip: true },
        encoding: { x, y: { field: fieldRef(o.ref), type: "quantitative", title: o.yTitle, scale: yScale }, ...offset },
      },
    ],
  });
}
