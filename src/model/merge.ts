/**
 * LoRA merging, as PEFT's `merge_and_unload`: each adapted projection's frozen weight becomes
 * W0 + (α/r)·B·A, and the result is a plain base model (no adapters) with the same outputs.
 */
import * as tf from "@tensorflow/tfjs";
import { TARGETS } from "../adapters/lora.ts";
import { ConfigError } from "../errors.ts";
import type { BaseWeights } from "./base.ts";
import { hfParamName } from "./hf_config.ts";
import { type LlamaModel, PROJ_KIND } from "./llama.ts";

/** A new base with `model`'s LoRA folded into its weights (plain LoRA only); `model` is left as it was. */
export function mergeLora(model: LlamaModel): BaseWeights {
  if (model.method?.method !== "lora") {
    throw new ConfigError(
      `merging folds a plain LoRA into the base; method "${model.method?.method ?? "none"}" has ` +
        "input-dependent routing (or no adapters), so it cannot be merged into fixed weights",
    );
  }
  const merged = new Map<string, tf.Tensor>();
  for (const b of model.blocks) {
    for (const t of TARGETS) {
      const bank = b.proj[t].bank;
      if (!bank) continue;
      const name = hfParamName(PROJ_KIND[t], b.index);
      merged.set(name, tf.tidy(() => model.base.get(name).add(bank.deltaWeights().squeeze([0]))));
    }
  }
  const out = model.base.withTensors(merged);
  tf.dispose([...merged.values()]);
  return out;
}
