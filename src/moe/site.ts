/** Build one MoE-LoRA site (frozen base + expert bank + router) from a site method's config. */
import type * as tf from "@tensorflow/tfjs";
import { LoraBank } from "../adapters/lora.ts";
import type { SiteInfo, SiteMethod } from "../routers/method.ts";
import { METHODS, type SiteMethodConfig } from "../routers/registry.ts";
import type { Rng } from "../util/rng.ts";
import { MoeLinear } from "./moe_linear.ts";

export function createSite(
  cfg: SiteMethodConfig,
  info: SiteInfo,
  base: { weight: tf.Tensor2D; bias?: tf.Tensor1D | null },
  rng: Rng,
): MoeLinear {
  const method = METHODS[cfg.method] as SiteMethod;
  const n = method.nExperts(cfg, info.layer, info.nLayers);
  const bank = new LoraBank(
    info.name,
    {
      rank: cfg.rank,
      alpha: cfg.alpha,
      dropout: cfg.dropout,
      rsLora: cfg.rsLora,
      dropoutPerExpert: method.dropoutPerExpert(cfg),
    },
    info.dIn,
    info.dOut,
    n,
    rng.fork(`${info.name}:lora`),
  );
  const router = method.createRouter(cfg, info, n, rng.fork(`${info.name}:router`));
  return new MoeLinear(info.name, base.weight, base.bias ?? null, bank, router, cfg.dropout);
}
