/**
 * The layer benchmark on the current backend: cases that share a shape (tokens, d, experts, rank) are built
 * together and timed in interleaved rounds, then each gets one untimed pass under `tf.profile` for its peak
 * tensor bytes.
 *
 * Peak memory is tfjs's own count — the bytes of live tensors, high-water mark over the step's kernels —
 * which on cpu/blas/wasm is host (JS or wasm heap) memory and on webgpu is GPU buffers in use (its buffer
 * pool may hold more). It includes the layer's parameters and the input (`baseMiB`).
 */
import * as tf from "@tensorflow/tfjs";
import {
  type BenchLayer,
  buildLayer,
  type LayerCase,
  layerInput,
  layerPeakBytes,
  layerStep,
  layerVars,
} from "./layer.ts";
import { timeInterleaved, type Timing, type TimingPlan } from "./stats.ts";

export interface LayerRow extends LayerCase {
  backend: string;
  timing: Timing;
  /** Peak tensor MiB during one step (tfjs count). */
  peakMiB: number;
  /** The layer's own tensor MiB before the step: base weight, adapters, router, input. */
  baseMiB: number;
}

const MiB = 2 ** 20;

/** Cases grouped by shape without top-k, in first-appearance order. */
export function groupByShape(cases: readonly LayerCase[]): LayerCase[][] {
  const groups = new Map<string, LayerCase[]>();
  for (const c of cases) {
    const key = `${c.tokens}/${c.d}/${c.experts}/${c.rank}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()];
}

/** Bytes of the layer's own tensors and its input. */
function ownBytes(layer: BenchLayer, x: tf.Tensor): number {
  return 4 * (layer.weight.size + x.size + layerVars(layer).reduce((n, v) => n + v.size, 0));
}

/** Time and profile one group of same-shape cases. */
async function measureGroup(backend: string, group: LayerCase[], plan: TimingPlan): Promise<LayerRow[]> {
  const x = layerInput(group[0]);
  const layers = group.map((c) => buildLayer(c));
  try {
    const timings = await timeInterleaved(layers.map((l) => () => layerStep(l, x)), plan);
    const rows: LayerRow[] = [];
    for (const [i, c] of group.entries()) {
      // Other layers of the group are live too: count this layer's own bytes plus the step's growth.
      const mem = await layerPeakBytes(layers[i], x);
      const own = ownBytes(layers[i], x);
      rows.push({
        ...c,
        backend,
        timing: timings[i],
        peakMiB: (own + mem.peak - mem.before) / MiB,
        baseMiB: own / MiB,
      });
    }
    return rows;
  } finally {
    for (const l of layers) l.dispose();
    x.dispose();
  }
}

/** Every case on the current backend; `afterGroup` runs after each shape's group (progress, the reference). */
export async function measureLayers(
  backend: string,
  cases: readonly LayerCase[],
  plan: TimingPlan,
  afterGroup: (done: number, total: number, rows: LayerRow[]) => Promise<void> = () => Promise.resolve(),
): Promise<LayerRow[]> {
  const rows: LayerRow[] = [];
  const groups = groupByShape(cases);
  const before = tf.memory().numTensors;
  for (const [i, group] of groups.entries()) {
    const got = await measureGroup(backend, group, plan);
    rows.push(...got);
    await afterGroup(i + 1, groups.length, got);
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) console.warn(`[bench] ${backend}: ${leaked} tensors still live after the layer bench`);
  return rows;
}
