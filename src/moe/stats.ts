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
