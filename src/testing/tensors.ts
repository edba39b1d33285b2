/** Tensor helpers for tests: seeded random tensors and host copies as nested arrays. */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng.ts";

export function randn(rng: Rng, shape: number[], std = 1): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1), std), shape);
}

export function mat(t: tf.Tensor): number[][] {
  return t.arraySync() as number[][];
}

export function vec(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** Run `f`, then assert it left no tensors behind (after one warm-up call that may cache constants). */
export function assertNoLeak(f: () => void, what = "call"): void {
  f();
  const before = tf.memory().numTensors;
  f();
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`${what} leaked ${after - before} tensors (${before} → ${after})`);
}

export { Rng };
