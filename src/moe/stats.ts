/**
 * Routing diagnostics: per site, the mean number of active experts per token, the router's normalised
 * entropy, each expert's load (share of tokens that use it) and mean weight. Computed from a forward
 * pass's stored routings, over real (unpadded) tokens only.
 */
import * as tf from "@tensorflow/tfjs";
import { normalizedShannon } from "../routers/losses.ts";
import type { Routing } from "../routers/types.ts";
import { tokenMean } from "./ops.ts";

export interface SiteStats {
  nExperts: number;
  /** Mean active experts per token. */
  meanActive: number;
  /** Mean normalised Shannon entropy of the router's scores (rescaled to sum 1 for sigmoid routers). */
  entropy: number;
  /** [N] share of tokens for which each expert is active. */
  load: number[];
  /** [N] mean routing weight of each expert. */
  weight: number[];
  /** Mean threshold τ over tokens, where the method has one. */
  threshold?: number;
}

/**
 * Host-side statistics of one routing (reads the tensors asynchronously — webgpu under Deno has no
 * synchronous readback; call outside training steps).
 */
export async function siteStats(r: Routing, mask: tf.Tensor1D | null): Promise<SiteStats> {
  const [meanActive, entropy, load, weight, threshold] = tf.tidy(() => {
    const normed = r.p.div(r.p.sum(1, true).add(1e-12)) as tf.Tensor2D;
    return [
      tokenMean(r.active.sum(1), mask),
      tokenMean(normalizedShannon(normed), mask),
      tokenMean(r.active, mask),
      tokenMean(r.g, mask),
      r.threshold ? tokenMean(r.threshold, mask) : tf.scalar(NaN),
    ];
  });
  const out: SiteStats = {
    nExperts: r.p.shape[1],
    meanActive: (await meanActive.data())[0],
    entropy: (await entropy.data())[0],
    load: Array.from(await load.data()),
    weight: Array.from(await weight.data()),
  };
  const th = (await threshold.data())[0];
  if (!Number.isNaN(th)) out.threshold = th;
  tf.dispose([meanActive, entropy, load, weight, threshold]);
  return out;
}

/** Stats for every stored routing, by site name; disposes the routings. */
export async function collectStats(
  routings: Map<string, Routing>,
  mask: tf.Tensor1D | null,
): Promise<Record<string, SiteStats>> {
  const out: Record<string, SiteStats> = {};
  for (const [name, r] of routings) {
    out[name] = await siteStats(r, mask);
    disposeRouting(r);
  }
  routings.clear();
  return out;
}

/** Dispose a routing's tensors (those kept by a forward with `routings` set). */
export function disposeRouting(r: Routing): void {
  for (const t of [r.g, r.p, r.active, r.threshold, r.entropy]) t?.dispose();
}

/** Decoder layer of a site named `model.layers.<i>.…` (0 when the name has none). */
export function siteLayer(name: string): number {
  return Number(/layers\.(\d+)\./.exec(name)?.[1] ?? 0);
}

/** Per-example routing sums of one batch, per layer (see `exampleRouting`). */
export interface ExampleRoutingBatch {
  /** Layer i's columns: offset … offset + nExperts of each row. */
  layers: { layer: number; nExperts: number; offset: number }[];
  /** Row width Σ nExperts. */
  width: number;
  /** [B · width] row-major. */
  data: Float32Array;
}

/**
 * Per-example routing sums for the specialisation measure (specialisation.ts), for `batch` right-padded rows
 * of S tokens (T = batch · S): per layer, the mean over the layer's routed sites with the layer's largest N of
 * the per-token weights g renormalised to sum 1 (all-zero rows stay zero), summed over each row's real tokens.
 * Tensor ops only (a masked sum over the sequence axis); the [B, ΣN] result is read back once. Leaves the
 * routings in place (call before `collectStats`, which disposes them); null when nothing is routed.
 */
export async function exampleRouting(
  routings: Map<string, Routing>,
  mask: tf.Tensor1D | null,
  batch: number,
): Promise<ExampleRoutingBatch | null> {
  const byLayer = new Map<number, Routing[]>();
  for (const [name, r] of routings) byLayer.set(siteLayer(name), [...(byLayer.get(siteLayer(name)) ?? []), r]);
  if (byLayer.size === 0) return null;
  const layers: ExampleRoutingBatch["layers"] = [];
  let width = 0;
  const sums = tf.tidy(() => {
    const parts = [...byLayer].sort((a, b) => a[0] - b[0]).map(([layer, rs]) => {
      const n = Math.max(...rs.map((r) => r.g.shape[1]));
      const same = rs.filter((r) => r.g.shape[1] === n);
      let acc: tf.Tensor2D | null = null;
      for (const r of same) {
        const total = r.g.sum(1, true);
        const normed = r.g.div(total.maximum(1e-30)) as tf.Tensor2D; // rows of zeros stay zero
        acc = acc ? acc.add(normed) : normed;
      }
      let perToken = acc!.div(same.length) as tf.Tensor2D; // [T, N]
      if (mask) perToken = perToken.mul(mask.expandDims(1));
      layers.push({ layer, nExperts: n, offset: width });
      width += n;
      return perToken.reshape([batch, -1, n]).sum(1) as tf.Tensor2D; // [B, N]
    });
    return tf.concat(parts, 1);
  });
  const data = (await sums.data()) as Float32Array;
  sums.dispose();
  return { layers, width, data };
}
