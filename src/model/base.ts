/**
 * The base model's weights: a Llama decoder's tensors under their Hugging Face names
 * (`model.layers.3.self_attn.q_proj.weight`, PyTorch [out, in] orientation). Trainable while the base is
 * pretrained on the embedded corpus; frozen (trainable = false) whenever adapters are fine-tuned.
 */
import * as tf from "@tensorflow/tfjs";
import { normalInit } from "../adapters/init.ts";
import { CheckpointError } from "../errors.ts";
import type { Rng } from "../util/rng.ts";
import type { LlamaConfig } from "./config.ts";
import { checkHfTensors, hfParamShapes } from "./hf_config.ts";
import type { FloatDtype, HostTensor } from "./safetensors.ts";

let nextId = 0;

export class BaseWeights {
  private constructor(
    readonly cfg: LlamaConfig,
    readonly tensors: Map<string, tf.Variable>,
    /** Where the weights were loaded from (a checkpoint directory), and each tensor's stored dtype there. */
    readonly origin: { source: string; dtypes: Map<string, FloatDtype> } | null = null,
  ) {}

  /** Fresh weights: N(0, std²) for every matrix (HF `initializer_range`, 0.02), ones for the RMSNorm gains. */
  static random(cfg: LlamaConfig, rng: Rng, std = 0.02): BaseWeights {
    const tensors = new Map<string, tf.Variable>();
    for (const [name, shape] of hfParamShapes(cfg)) {
      const init = name.endsWith("norm.weight") ? tf.ones(shape) : normalInit(rng.fork(name), shape, std);
      tensors.set(name, BaseWeights.variable(name, init));
    }
    return new BaseWeights(cfg, tensors);
  }

  /** From host tensors (a loaded checkpoint); names and shapes are checked against `cfg`. */
  static fromHost(cfg: LlamaConfig, host: Map<string, HostTensor>, source: string): BaseWeights {
    checkHfTensors(host, cfg, source);
    const tensors = new Map<string, tf.Variable>();
    const dtypes = new Map<string, FloatDtype>();
    for (const [name, shape] of hfParamShapes(cfg)) {
      const h = host.get(name)!;
      tensors.set(name, BaseWeights.variable(name, tf.tensor(h.data, shape)));
      if (h.dtype) dtypes.set(name, h.dtype);
    }
    return new BaseWeights(cfg, tensors, { source, dtypes });
  }

  /** A copy with some tensors replaced (e.g. LoRA merged into them), keeping the origin. */
  withTensors(replace: Map<string, tf.Tensor>): BaseWeights {
    const tensors = new Map<string, tf.Variable>();
    for (const [name, v] of this.tensors) {
      const r = replace.get(name);
      tensors.set(name, BaseWeights.variable(name, r ? r.clone() : v.clone()));
    }
    return new BaseWeights(this.cfg, tensors, this.origin);
  }

  private static variable(name: string, init: tf.Tensor): tf.Variable {
    const v = tf.variable(init, false, `${name}#base${nextId++}`);
    init.dispose();
    return v;
  }

  get(name: string): tf.Variable {
    const v = this.tensors.get(name);
    if (!v) throw new CheckpointError(`base model has no tensor ${name}`);
    return v;
  }

  /** Train the base (pretraining) or freeze it (fine-tuning). */
  setTrainable(trainable: boolean): void {
    for (const v of this.tensors.values()) v.trainable = trainable;
  }

  get trainable(): boolean {
    return [...this.tensors.values()].some((v) => v.trainable);
  }

  numParams(): number {
    return [...this.tensors.values()].reduce((n, v) => n + v.size, 0);
  }

  /** Host copies, each with its source dtype when loaded (async: webgpu under Deno has no synchronous readback). */
  async toHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const [name, v] of this.tensors) {
      const dtype = this.origin?.dtypes.get(name);
      out.set(name, { shape: v.shape, data: (await v.data()) as Float32Array, ...(dtype ? { dtype } : {}) });
    }
    return out;
  }

  dispose(): void {
    for (const v of this.tensors.values()) v.dispose();
    this.tensors.clear();
  }
}
