/** The interface every adapter expert type shares (LoRA, parallel adapter, prompt expert). */
import type * as tf from "@tensorflow/tfjs";

export const ADAPTER_KINDS = ["lora", "parallel", "prompt"] as const;
export type AdapterKind = typeof ADAPTER_KINDS[number];

export interface Adapter {
  readonly kind: AdapterKind;
  /** Trainable parameters by local name, e.g. `lora_A.weight`. */
  readonly params: Record<string, tf.Variable>;
  /** Number of trainable scalars. */
  numParams(): number;
  dispose(): void;
}

/** Σ of the sizes of `params`. */
export function countParams(params: Record<string, tf.Variable>): number {
  return Object.values(params).reduce((n, v) => n + v.size, 0);
}

/** Dropout for one forward pass: null in evaluation; else the rate and a seed fixing the masks. */
export interface DropoutSpec {
  rate: number;
  seed: number;
}
