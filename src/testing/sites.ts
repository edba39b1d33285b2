/** Build a single MoE-LoRA site for tests, with a frozen random base and optionally non-zero B. */
import * as tf from "@tensorflow/tfjs";
import { forwardContext, type MoeLinear } from "../moe/moe_linear.ts";
import { createSite } from "../moe/site.ts";
import { methodConfig, type MethodName, type SiteMethodConfig } from "../routers/registry.ts";
import { randn, Rng } from "./tensors.ts";

export interface TestSite {
  site: MoeLinear;
  cfg: SiteMethodConfig;
  weight: tf.Tensor2D;
  x: tf.Tensor2D;
  rng: Rng;
}

export function testSite(
  method: MethodName,
  overrides: Record<string, unknown> = {},
  opts: { dIn?: number; dOut?: number; T?: number; seed?: number; randomB?: boolean; xStd?: number } = {},
): TestSite {
  const { dIn = 6, dOut = 5, T = 8, seed = 1, randomB = true, xStd = 1 } = opts;
  const cfg = methodConfig(method, { dropout: 0, ...overrides }) as SiteMethodConfig;
  const rng = new Rng(seed);
  const weight = randn(rng.fork("w0"), [dOut, dIn], 0.5) as tf.Tensor2D;
  const site = createSite(cfg, { name: "site", layer: 0, nLayers: 1, target: "q", dIn, dOut }, { weight }, rng);
  if (randomB && site.bank) site.bank.Bt.assign(randn(rng.fork("B"), site.bank.Bt.shape, 0.3) as tf.Tensor3D);
  const x = randn(rng.fork("x"), [T, dIn], xStd) as tf.Tensor2D;
  return { site, cfg, weight, x, rng };
}

/** Route `x` through the site's router in evaluation mode. */
export function route(t: TestSite, x: tf.Tensor2D = t.x) {
  return t.site.router!.route(x, { training: false, mask: null });
}

/** The site's output in evaluation mode. */
export function output(t: TestSite, x: tf.Tensor2D = t.x): tf.Tensor2D {
  return t.site.forward(x, forwardContext());
}

/** The frozen base alone, x·W0ᵀ. */
export function baseOutput(t: TestSite, x: tf.Tensor2D = t.x): tf.Tensor2D {
  return tf.matMul(x, t.weight, false, true);
}
