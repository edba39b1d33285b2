/**
 * One MoE-LoRA layer per routing method, as the benchmark and the PyTorch reference see it: a frozen base
 * linear W0 [d, d] plus adapters, trained by `loss = mean(y²) + the method's weighted aux loss` in training
 * mode with dropout 0 (so the cost measured is the routing's and the experts', not dropout's).
 *
 * Site methods come from `createSite(methodConfig(...))`. Equal total rank: plain LoRA gets rank N·r.
 * `soft` is top-k with k = N (dense softmax routing), the dense baseline of the sparse-vs-dense ratio.
 * `mola` is top-k with a per-layer N, so at the layer level it is `topk` and is not benchmarked apart.
 * MoA routes per block among adapter types; its layer here is the block router (SwiGLU, hidden 4·N) over
 * the layer input gating N separate rank-r LoRA adapters, one per type, each exactly as `LlamaModel`
 * builds a MoA site (a one-expert `LoraBank` scaled by its router column).
 */
import * as tf from "@tensorflow/tfjs";
import { normalInit } from "../src/adapters/init.ts";
import { LoraBank } from "../src/adapters/lora.ts";
import { forwardContext, type MoeLinear } from "../src/moe/moe_linear.ts";
import { createSite } from "../src/moe/site.ts";
import type { SiteMethod } from "../src/routers/method.ts";
import { type MoaConfig, MoaRouter, type MoaType } from "../src/routers/moa.ts";
import { methodConfig, METHODS, type SiteMethodConfig } from "../src/routers/registry.ts";
import { Rng } from "../src/util/rng.ts";

export const LAYER_METHODS = [
  "lora",
  "topk",
  "soft",
  "threshold",
  "adamole",
  "dynmole",
  "moa-soft",
  "moa-sparse",
] as const;
export type LayerMethod = typeof LAYER_METHODS[number];

/** Methods whose cost depends on the grid's top-k (the others run once per shape, with topk null). */
export const USES_TOPK: ReadonlySet<LayerMethod> = new Set(["topk", "dynmole"]);

/** LoRA α of every benchmarked adapter (the cost does not depend on it; the reference uses the same). */
export const ALPHA = 16;

export interface LayerShape {
  tokens: number;
  d: number;
  experts: number;
  /** Rank of each expert; plain LoRA gets experts × rank. */
  rank: number;
  /** Experts per token (topk) or DynMoLE's top-k floor; null for methods without one. */
  topk: number | null;
}

export interface LayerCase extends LayerShape {
  method: LayerMethod;
}

/** A layer under test: its trainable variables, the training loss, and its tensors for the reference. */
export interface BenchLayer {
  /** The frozen base W0 [d, d]. */
  readonly weight: tf.Tensor2D;
  /** LoRA scale α/r of every expert. */
  readonly scale: number;
  /**
   * Trainable parameters by the reference's name (A, Bt, Wg, tau_w, w1, …); a name with several variables
   * (MoA's per-type banks) is their concatenation along axis 0.
   */
  readonly params: Record<string, tf.Variable[]>;
  /** Output y [T, d] and the training loss of one forward pass in training mode. */
  forward(x: tf.Tensor2D): { y: tf.Tensor2D; loss: tf.Scalar };
  dispose(): void;
}

/** Every trainable variable of the layer. */
export function layerVars(layer: BenchLayer): tf.Variable[] {
  return Object.values(layer.params).flat();
}

/** The registry config of a site method's case (dropout 0; LoRA at equal total rank). */
export function siteConfig(c: LayerCase): SiteMethodConfig {
  const common = { rank: c.rank, alpha: ALPHA, dropout: 0 };
  const k = c.topk ?? 1;
  switch (c.method) {
    case "lora":
      return methodConfig("lora", { ...common, rank: c.rank * c.experts }) as SiteMethodConfig;
    case "topk":
      return methodConfig("topk", { ...common, nExperts: c.experts, topK: k }) as SiteMethodConfig;
    case "soft":
      return methodConfig("topk", { ...common, nExperts: c.experts, topK: c.experts }) as SiteMethodConfig;
    case "threshold":
      return methodConfig("threshold", { ...common, nExperts: c.experts }) as SiteMethodConfig;
    case "adamole":
      return methodConfig("adamole", { ...common, nExperts: c.experts }) as SiteMethodConfig;
    case "dynmole":
      return methodConfig("dynmole", { ...common, nExperts: c.experts, keepTopK: k }) as SiteMethodConfig;
    default:
      throw new Error(`${c.method} is not a site method`);
  }
}

/** True when the case makes sense (top-k ≤ N; topk given exactly for the methods that use it). */
export function validCase(c: LayerCase): boolean {
  if (USES_TOPK.has(c.method)) return c.topk !== null && c.topk <= c.experts;
  return c.topk === null;
}

/** A random [rows, cols] tensor, N(0, std²), from a seeded stream. */
function randomMatrix(rng: Rng, shape: number[], std: number): tf.Tensor {
  return normalInit(rng, shape, std);
}

/** Fill a zero-initialised B with small random values (assign does not take ownership of its argument). */
function assignRandom(v: tf.Variable, rng: Rng, std: number): void {
  const init = randomMatrix(rng, v.shape, std);
  v.assign(init);
  init.dispose();
}

/** Names of a site router's parameters in the reference. */
const ROUTER_NAMES: Record<string, string> = {
  weight: "Wg",
  "threshold.weight": "tau_w",
  "threshold.bias": "tau_b",
};

function siteLayer(c: LayerCase, weight: tf.Tensor2D, rng: Rng, bStd: number): BenchLayer {
  const cfg = siteConfig(c);
  const info = { name: "bench", layer: 0, nLayers: 1, target: "q" as const, dIn: c.d, dOut: c.d };
  const site: MoeLinear = createSite(cfg, info, { weight }, rng);
  const bank = site.bank!;
  // B starts at zero; a non-zero B makes the reference check meaningful and costs nothing more.
  assignRandom(bank.Bt, rng.fork("B"), bStd);
  const routerParams = site.router?.params ?? {};
  const method = METHODS[cfg.method] as SiteMethod;
  const params: Record<string, tf.Variable[]> = { A: [bank.A], Bt: [bank.Bt] };
  for (const [k, v] of Object.entries(routerParams)) params[ROUTER_NAMES[k]] = [v];
  return {
    weight,
    scale: bank.scale,
    params,
    forward(x) {
      const ctx = forwardContext({ training: true, seed: null });
      const y = site.forward(x, ctx);
      const aux = method.auxLoss(cfg, ctx.aux);
      const mse = y.square().mean() as tf.Scalar;
      return { y, loss: aux ? mse.add(aux.total) as tf.Scalar : mse };
    },
    dispose() {
      bank.dispose();
      tf.dispose([...Object.values(routerParams), weight]);
    },
  };
}

/** Names of the MoA router's parameters in the reference. */
const MOA_NAMES: Record<string, string> = {
  "w1.weight": "w1",
  "w1.bias": "b1",
  "w3.weight": "w3",
  "w3.bias": "b3",
  "w2.weight": "w2",
  "w2.bias": "b2",
  "threshold.weight": "tau_w",
  "threshold.bias": "tau_b",
};

function moaLayer(c: LayerCase, weight: tf.Tensor2D, rng: Rng, bStd: number): BenchLayer {
  const name = c.method === "moa-sparse" ? "moa-sparse" : "moa-soft";
  const cfg = methodConfig(name, { rank: c.rank, alpha: ALPHA }) as MoaConfig;
  // The router only needs N columns; the type labels do not change its cost.
  const types = Array.from({ length: c.experts }, () => "Q") as MoaType[];
  const router = new MoaRouter("bench.router", c.d, types, cfg, rng.fork("router"));
  // The N rank-r LoRA adapters on one linear, stacked as the PyTorch reference stacks them (torch_reference.py's
  // lora_delta): W0·x + Σ_i g_i·ΔW_i·x in two matmuls whatever N is, each adapter scaled by its type weight column.
  const bank = new LoraBank("bench", { rank: c.rank, alpha: ALPHA, dropout: 0 }, c.d, c.d, c.experts, rng.fork("lora"));
  assignRandom(bank.Bt, rng.fork("B"), bStd);
  const params: Record<string, tf.Variable[]> = { A: [bank.A], Bt: [bank.Bt] };
  for (const [k, v] of Object.entries(router.params)) params[MOA_NAMES[k]] = [v];
  return {
    weight,
    scale: bank.scale,
    params,
    forward(x) {
      const g = router.route(x, { training: true, mask: null }).g; // [T, N] type weights
      const y = tf.matMul(x, weight, false, true).add(bank.delta(x, g, null)) as tf.Tensor2D;
      return { y, loss: y.square().mean() as tf.Scalar };
    },
    dispose() {
      bank.dispose();
      router.dispose();
      weight.dispose();
    },
  };
}

/**
 * Build the layer of `c` with a frozen random base, seeded by `seed`. B ~ N(0, bStd²) instead of zeros, so
 * the adapters contribute (and a reference check compares non-trivial gradients).
 */
export function buildLayer(c: LayerCase, seed = 1, bStd = 0.02): BenchLayer {
  const rng = new Rng(seed);
  const weight = randomMatrix(rng.fork("W0"), [c.d, c.d], 1 / Math.sqrt(c.d)) as tf.Tensor2D;
  return c.method.startsWith("moa") ? moaLayer(c, weight, rng, bStd) : siteLayer(c, weight, rng, bStd);
}

/** The benchmark's input x [T, d], N(0, 1). */
export function layerInput(c: LayerShape, seed = 2): tf.Tensor2D {
  return randomMatrix(new Rng(seed), [c.tokens, c.d], 1) as tf.Tensor2D;
}

/**
 * One forward + backward: the loss and every gradient are reduced into one [2] tensor whose read-back
 * (`await data()`) waits for all of the step's work, on synchronous and asynchronous backends alike.
 */
export async function layerStep(layer: BenchLayer, x: tf.Tensor2D): Promise<void> {
  const vars = layerVars(layer);
  const done = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => layer.forward(x).loss, vars);
    const gradSum = tf.addN(Object.values(grads).map((g) => g.sum()));
    return tf.stack([value, gradSum]);
  });
  await done.data();
  done.dispose();
}

/** Peak tensor bytes (tfjs's count: live tensors' bytes) during one step, and the bytes live before it. */
export async function layerPeakBytes(layer: BenchLayer, x: tf.Tensor2D): Promise<{ peak: number; before: number }> {
  const before = tf.memory().numBytes;
  const info = await tf.profile(() => layerStep(layer, x));
  return { peak: Math.max(before, info.peakBytes), before };
}

/** Host copy of a tensor as a flat array of numbers (JSON for the reference). */
export async function hostArray(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data() as Float32Array);
}

export interface LayerOutputs {
  y: number[];
  loss: number;
  /** Gradient of each trainable parameter, by the reference's name, flattened. */
  grads: Record<string, number[]>;
}

/** Output, loss and gradients of one training step, on the host (for the reference check). */
export async function layerOutputs(layer: BenchLayer, x: tf.Tensor2D): Promise<LayerOutputs> {
  const vars = layerVars(layer);
  const held: { y?: tf.Tensor2D } = {};
  const { value, grads } = tf.variableGrads(() => {
    const out = layer.forward(x);
    held.y = tf.keep(out.y);
    return out.loss;
  }, vars);
  const out: Record<string, number[]> = {};
  for (const [name, group] of Object.entries(layer.params)) {
    const joined = tf.concat(group.map((v) => grads[v.name]));
    out[name] = await hostArray(joined);
    joined.dispose();
  }
  const result = { y: await hostArray(held.y!), loss: (await value.data())[0], grads: out };
  tf.dispose([held.y!, value, ...Object.values(grads)]);
  return result;
}

/** The layer's tensors by the reference's name: W0, every trainable parameter, and `scale`, on the host. */
export async function layerWeights(layer: BenchLayer): Promise<Record<string, { shape: number[]; data: number[] }>> {
  const w: Record<string, { shape: number[]; data: number[] }> = {
    W0: { shape: layer.weight.shape, data: await hostArray(layer.weight) },
    scale: { shape: [], data: [layer.scale] },
  };
  for (const [name, group] of Object.entries(layer.params)) {
    const joined = tf.concat(group);
    w[name] = { shape: joined.shape, data: await hostArray(joined) };
    joined.dispose();
  }
  return w;
}
