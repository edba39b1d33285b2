/**
 * Parameter initialisers matching PyTorch's, drawn from the project's seeded `Rng` (not tfjs's own
 * generators) so an initialisation is identical on every backend.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../util/rng.ts";

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * `nn.init.kaiming_uniform_(w, a=√5)` — PyTorch's default `nn.Linear` weight init and LoRA A's init in
 * every reference repo (methods.md §1): U(−b, b) with b = gain·√(3/fan_in), gain = √(2/(1+a²)) = √(1/3),
 * so b = 1/√fan_in. `fanIn` is the last dimension of the PyTorch-oriented [out, in] weight.
 */
export function kaimingUniform(rng: Rng, shape: number[], fanIn: number): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.tensor(rng.uniformArray(size(shape), -bound, bound), shape);
}

/** PyTorch's default `nn.Linear` bias init: U(−1/√fan_in, 1/√fan_in). */
export function linearBiasUniform(rng: Rng, shape: number[], fanIn: number): tf.Tensor {
  return kaimingUniform(rng, shape, fanIn);
}

/** `nn.init.xavier_uniform_(w, gain)`: U(−b, b), b = gain·√(6/(fan_in + fan_out)). */
export function xavierUniform(rng: Rng, shape: number[], fanIn: number, fanOut: number, gain = 1): tf.Tensor {
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return tf.tensor(rng.uniformArray(size(shape), -bound, bound), shape);
}

/** N(0, std²), e.g. `nn.Embedding`'s default (std 1) or a router's `normal_(0, 0.02)`. */
export function normalInit(rng: Rng, shape: number[], std: number): tf.Tensor {
  return tf.tensor(rng.normalArray(size(shape), std), shape);
}

let nextId = 0;

/**
 * A trainable variable holding `init` (which it takes ownership of). tfjs variable names must be unique
 * per process and models are built many times (tests, notebooks, study cells), so the tfjs name is
 * `<name>#<n>`; `logicalName` recovers `<name>`.
 */
export function param(name: string, init: tf.Tensor): tf.Variable {
  const v = tf.variable(init, true, `${name}#${nextId++}`);
  init.dispose();
  return v;
}

/** The name a variable was created with, without its uniqueness suffix. */
export function logicalName(v: tf.Variable): string {
  const i = v.name.lastIndexOf("#");
  return i < 0 ? v.name : v.name.slice(0, i);
}
