/**
 * The ratios that matter, from measured rows (pure functions): each method's cost over plain LoRA at equal
 * total rank, sparse top-k over dense (soft) routing, tfjs over PyTorch, and the issue's target verdicts.
 */
import type { LayerCase } from "./layer.ts";
import type { LayerRow } from "./measure.ts";
import { caseKey, shapeKey } from "./presets.ts";
import { geomean } from "./stats.ts";
import type { StepResult } from "./step.ts";
import { DISPATCH, type TorchTiming } from "./torch.ts";

/** Targets of issue 9. */
/** Issue 15's targets: method overhead over LoRA per step method, and the ratios to PyTorch CPU. */
export const TARGETS = {
  stepOverLora: { topk: 1.2, adamole: 1.25, dynmole: 1.4, "moa-soft": 1.3, "moa-sparse": 1.3 } as Record<
    string,
    number
  >,
  stepOverTorch: 1.0,
  layerOverTorch: { geomean: 1.5, worst: 2.0 },
  /** Peak resident memory of loading a sharded BF16 checkpoint, × its float32 parameter bytes. */
  loadPeak: 1.3,
};

/** The same shape without top-k: where a method meets its LoRA baseline. */
function baseShape(c: Pick<LayerCase, "tokens" | "d" | "experts" | "rank">): string {
  return `${c.tokens}/${c.d}/${c.experts}/${c.rank}`;
}

export interface RatioRow {
  backend: string;
  method: string;
  tokens: number;
  d: number;
  experts: number;
  rank: number;
  topk: number | null;
  ratio: number;
}

/** Each non-LoRA row's median over the LoRA row of the same backend and shape (LoRA rank = N·r). */
export function overLora(rows: readonly LayerRow[]): RatioRow[] {
  const lora = new Map(rows.filter((r) => r.method === "lora").map((r) => [`${r.backend}|${baseShape(r)}`, r]));
  return rows.flatMap((r) => {
    const base = lora.get(`${r.backend}|${baseShape(r)}`);
    if (r.method === "lora" || !base) return [];
    const { backend, method, tokens, d, experts, rank, topk } = r;
    return [{ backend, method, tokens, d, experts, rank, topk, ratio: r.timing.median / base.timing.median }];
  });
}

/** Sparse top-k rows over the dense (soft) row of the same backend and shape. */
export function sparseOverDense(rows: readonly LayerRow[]): RatioRow[] {
  const soft = new Map(rows.filter((r) => r.method === "soft").map((r) => [`${r.backend}|${baseShape(r)}`, r]));
  return rows.flatMap((r) => {
    const dense = soft.get(`${r.backend}|${baseShape(r)}`);
    if (r.method !== "topk" || !dense) return [];
    const { backend, method, tokens, d, experts, rank, topk } = r;
    return [{ backend, method, tokens, d, experts, rank, topk, ratio: r.timing.median / dense.timing.median }];
  });
}

export interface RatioSummary {
  backend: string;
  method: string;
  geomean: number;
  min: number;
  max: number;
  n: number;
}

/** Geometric mean and range of ratios per (backend, method). */
export function summarizeRatios(ratios: readonly RatioRow[]): RatioSummary[] {
  const groups = Map.groupBy(ratios, (r) => `${r.backend}|${r.method}`);
  return [...groups.values()].map((g) => ({
    backend: g[0].backend,
    method: g[0].method,
    geomean: geomean(g.map((r) => r.ratio)),
    min: Math.min(...g.map((r) => r.ratio)),
    max: Math.max(...g.map((r) => r.ratio)),
    n: g.length,
  }));
}

/** Torch timing of a tfjs row's case, by case key. */
export function torchIndex(timings: readonly TorchTiming[]): Map<string, TorchTiming> {
  return new Map(timings.map((t) => [t.id, t]));
}

/** The reference's id of a case (the bench's case key). */
export function torchId(c: LayerCase | (Omit<LayerCase, "method"> & { method: string })): string {
  return caseKey(c as LayerCase);
}

/** tfjs median / torch median per row (NaN where torch did not run the case). */
export function overTorch(rows: readonly LayerRow[], torch: Map<string, TorchTiming>): number[] {
  return rows.map((r) => {
    const t = torch.get(torchId(r));
    return t ? r.timing.median / t.median : NaN;
  });
}

export interface DispatchRow {
  experts: number;
  shape: string;
  /** torch: dense-masked top-k, sparse-dispatch top-k, dense soft routing (ms). */
  masked: number;
  dispatch: number;
  soft: number;
}

/** Torch's sparse dispatch against its dense-masked top-k and soft routing, per expert count. */
export function dispatchRows(cases: readonly LayerCase[], torch: Map<string, TorchTiming>): DispatchRow[] {
  return cases.filter((c) => c.method === "topk").flatMap((c) => {
    const masked = torch.get(torchId(c));
    const dispatch = torch.get(torchId({ ...c, method: DISPATCH }));
    const soft = torch.get(torchId({ ...c, method: "soft", topk: null }));
    if (!masked || !dispatch || !soft) return [];
    return [{
      experts: c.experts,
      shape: shapeKey(c),
      masked: masked.median,
      dispatch: dispatch.median,
      soft: soft.median,
    }];
  }).sort((a, b) => a.experts - b.experts);
}

/** Smallest N from which sparse dispatch beats dense soft routing at every larger N measured (null: never). */
export function dispatchBreakEven(rows: readonly DispatchRow[]): number | null {
  let from: number | null = null;
  for (const r of rows) {
    if (r.dispatch < r.soft) from ??= r.experts;
    else from = null;
  }
  return from;
}

export interface Verdict {
  target: string;
  value: string;
  met: boolean | null;
  note: string;
}

/** "met" / "NOT met (why)" / "not measured (why)". */
export function verdictText(v: Verdict): string {
  if (v.met === null) return `not measured (${v.note})`;
  return v.met ? `met${v.note ? ` (${v.note})` : ""}` : `NOT met (${v.note})`;
}

/** Method overhead: each MoE method's training step over plain LoRA's at equal total rank, on one backend. */
export function stepVerdicts(backend: string, steps: readonly StepResult[]): Verdict[] {
  const lora = steps.find((s) => s.method === "lora");
  return Object.entries(TARGETS.stepOverLora).flatMap(([method, limit]): Verdict[] => {
    const target = `${backend}: ${method} step ≤ ${limit}× LoRA at equal total rank`;
    const moe = steps.find((s) => s.method === method);
    if (!moe) return [];
    if (!lora) return [{ target, value: "—", met: null, note: "lora was not run" }];
    const ratio = moe.timing.median / lora.timing.median;
    const met = ratio <= limit;
    const note = met ? "" : `${moe.timing.median.toFixed(0)} ms vs LoRA ${lora.timing.median.toFixed(0)} ms`;
    return [{ target, value: `${ratio.toFixed(2)}×`, met, note }];
  });
}

/** Our training step against the PyTorch reference's (timed in the same rounds): ≤ 1.0× for every method. */
export function stepTorchVerdict(backend: string, steps: readonly StepResult[]): Verdict {
  const target = `${backend}: training step ≤ ${
    TARGETS.stepOverTorch.toFixed(1)
  }× PyTorch CPU for LoRA and every MoE method`;
  const both = steps.filter((s) => s.torch);
  if (!both.length) return { target, value: "—", met: null, note: "PyTorch step reference not run" };
  const ratios = both.map((s) => ({ method: s.method, r: s.timing.median / s.torch!.median }));
  const worst = ratios.reduce((a, b) => (b.r > a.r ? b : a));
  const over = ratios.filter((x) => x.r > TARGETS.stepOverTorch);
  return {
    target,
    value: `worst ${worst.r.toFixed(2)}× (${worst.method})`,
    met: over.length === 0,
    note: over.length
      ? `${over.length}/${ratios.length} over: ${over.map((x) => `${x.method} ${x.r.toFixed(2)}×`).join(", ")}`
      : "",
  };
}

/** blas within 1.5× of PyTorch CPU on the layer benchmark (geomean over the cases both ran), no case over 2×. */
export function blasTorchVerdict(rows: readonly LayerRow[], torch: Map<string, TorchTiming> | null): Verdict {
  const { geomean: gLimit, worst: wLimit } = TARGETS.layerOverTorch;
  const target = `blas layer fwd+bwd within ${gLimit}× of PyTorch CPU (geomean over cases), no case over ${wLimit}×`;
  if (!torch) return { target, value: "—", met: null, note: "PyTorch not available" };
  const blas = rows.filter((r) => r.backend === "blas");
  const ratios = overTorch(blas, torch).filter((x) => Number.isFinite(x));
  if (ratios.length === 0) return { target, value: "—", met: null, note: "no blas rows with a torch timing" };
  const g = geomean(ratios);
  const over = ratios.filter((x) => x > wLimit).length;
  const worst = Math.max(...ratios);
  const detail = `${over}/${ratios.length} cases over ${wLimit}×, worst ${worst.toFixed(2)}×`;
  return { target, value: `${g.toFixed(2)}×`, met: g <= gLimit && over === 0, note: detail };
}

/** Memory flat over the soak: the same live tensors and bytes after step 1 and after the last step. */
export function soakVerdict(
  samples: readonly { step: number; numTensors: number; numBytes: number }[],
): Verdict {
  const first = samples[0];
  const last = samples.at(-1);
  const target = last ? `memory flat over ${last.step} training steps` : "memory flat over a training soak";
  if (!first || !last || first === last) return { target, value: "—", met: null, note: "soak not run" };
  const dT = last.numTensors - first.numTensors;
  const dB = last.numBytes - first.numBytes;
  return {
    target,
    value: `tensors ${first.numTensors} → ${last.numTensors}, bytes ${first.numBytes} → ${last.numBytes}`,
    met: dT === 0 && dB === 0,
    note: dT === 0 && dB === 0 ? "" : `${dT} tensors and ${dB} bytes more after step ${last.step} than after step 1`,
  };
}

/** Loading a sharded BF16 checkpoint peaks at ≤ 1.3× its float32 parameter bytes (the sharded layout is the target). */
export function loadVerdict(rows: readonly { layout: string; peakRatio: number; peakBytes: number }[]): Verdict {
  const target = `loading a sharded BF16 checkpoint peaks ≤ ${TARGETS.loadPeak}× its float32 parameter bytes`;
  const sharded = rows.find((r) => r.layout === "sharded");
  if (!sharded) return { target, value: "—", met: null, note: "load bench not run" };
  const met = sharded.peakRatio <= TARGETS.loadPeak;
  const value = `${sharded.peakRatio.toFixed(2)}×`;
  return { target, value, met, note: met ? "" : `peak ${(sharded.peakBytes / 2 ** 20).toFixed(0)} MiB` };
}
