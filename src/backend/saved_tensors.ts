/**
 * Cheaper saved tensors for the `blas` backend.
 *
 * Every kernel that needs an input or output for its gradient (and every `customGrad` `save`) makes tfjs's
 * engine `clone` that tensor: a full `Identity` kernel dispatch plus a tape node whose only purpose is
 * second-order gradients (it links the saved copy back to the original so a gradient of the backward pass
 * can flow through it). A top-k training step saves ≈ 365 tensors this way.
 *
 * In first-order training (one gradient tape, `gradientDepth === 1`) that tape node can never lie on a path
 * to the loss, so the clone here shares the data id (`incRef`, what cpu's `Identity` kernel does) and adds no
 * tape node. Nested gradients (`tf.grad(tf.grad(f))`), clones outside a kernel (`tf.clone`) and every other
 * backend keep tfjs's own clone. Values, gradients and memory are unchanged: the saved tensor holds the same
 * buffer as before and is disposed by backprop as before.
 */
import * as tf from "@tensorflow/tfjs";

/** The few tfjs engine internals this uses (tfjs-core 4.x `Engine`). */
interface EngineInternals {
  backendName: string;
  backend: { incRef(dataId: object): void };
  state: {
    kernelDepth: number;
    gradientDepth: number;
    tensorInfo: WeakMap<object, { backend: unknown }>;
  };
  clone(x: tf.Tensor): tf.Tensor;
  makeTensorFromTensorInfo(info: { dataId: object; shape: number[]; dtype: tf.DataType }, backend: unknown): tf.Tensor;
}

let original: EngineInternals["clone"] | null = null;
let enabled = true;

/** Whether `clone(x)` may share x's buffer without a tape node (see the module comment). */
function canShare(engine: EngineInternals, backendName: string, x: tf.Tensor): boolean {
  const { state } = engine;
  return state.kernelDepth > 0 && state.gradientDepth === 1 && engine.backendName === backendName &&
    x.dtype !== "string" && state.tensorInfo.get(x.dataId)?.backend === engine.backend;
}

/**
 * Install the shared-buffer clone for kernels running on `backendName` (idempotent). Returns false, changing
 * nothing, when this tfjs engine lacks the internals it relies on.
 */
export function installSharedSaves(backendName: string): boolean {
  if (original) return true;
  const engine = tf.engine() as unknown as EngineInternals;
  if (
    typeof engine.clone !== "function" || typeof engine.makeTensorFromTensorInfo !== "function" ||
    typeof engine.state?.kernelDepth !== "number" || !(engine.state?.tensorInfo instanceof WeakMap)
  ) return false;
  const clone = original = engine.clone;
  engine.clone = function (this: EngineInternals, x: tf.Tensor): tf.Tensor {
    if (!enabled || !canShare(this, backendName, x)) return clone.call(this, x);
    const backend = this.backend;
    backend.incRef(x.dataId);
    return this.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype }, backend);
  };
  return true;
}

/** Turn the shared-buffer clone off (tfjs's own clone) or back on; returns the previous setting. */
export function setSharedSaves(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}
