/**
 * The `blas` tfjs backend: every kernel of the pure-JS cpu backend, except that `BatchMatMul` and
 * `_FusedMatMul` run through the system BLAS's `cblas_sgemm` (tfjs expresses every matmul gradient through
 * these two, so training steps get the BLAS speed too), and the elementwise, softmax and transpose kernels
 * that then dominated a training step's profile are replaced by faster loops (`fast_kernels.ts`).
 */
import * as tf from "@tensorflow/tfjs";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { type Blas, loadBlas } from "./blas_ffi.ts";
import { POOL } from "./buffer_pool.ts";
import { installSharedSaves } from "./saved_tensors.ts";
import { registerFusedKernels } from "./fused_kernels.ts";
import {
  FAST_BINARY_OPS,
  FAST_UNARY_OPS,
  fastBinary,
  fastGather,
  fastMean,
  fastPad,
  fastSlice,
  fastSoftmax,
  fastSum,
  fastTopK,
  fastTranspose,
  fastUnary,
  fastZerosLike,
} from "./fast_kernels.ts";

export const BLAS_BACKEND = "blas";

type TensorInfo = tf.TensorInfo;
interface KernelArgs {
  inputs: Record<string, TensorInfo | undefined>;
  backend: MathBackendCPU;
  attrs?: Record<string, unknown>;
}

function cpuKernel(name: string): (args: KernelArgs) => TensorInfo {
  const k = tf.getKernel(name, "cpu");
  if (!k) throw new Error(`tfjs cpu backend has no kernel ${name}`);
  return k.kernelFunc as unknown as (args: KernelArgs) => TensorInfo;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Index of broadcast batch entry `bi` of the output in an operand with batch dims `dims`. */
function operandBatchIndex(bi: number, outDims: number[], dims: number[]): number {
  // Right-align dims against outDims (numpy broadcasting); size-1 dims repeat.
  let idx = 0;
  let stride = 1;
  let rem = bi;
  for (let o = outDims.length - 1, d = dims.length - 1; o >= 0; o--, d--) {
    const coord = rem % outDims[o];
    rem = Math.floor(rem / outDims[o]);
    if (d >= 0) {
      if (dims[d] !== 1) idx += coord * stride;
      stride *= dims[d];
    }
  }
  return idx;
}

/** BatchMatMul through sgemm; falls back to the cpu kernel for non-float32 inputs. */
export function blasBatchMatMul(blas: Blas, args: KernelArgs): TensorInfo {
  const { backend } = args;
  const a = args.inputs.a!;
  const b = args.inputs.b!;
  const transposeA = Boolean(args.attrs?.transposeA);
  const transposeB = Boolean(args.attrs?.transposeB);
  if (a.dtype !== "float32" || b.dtype !== "float32") return cpuKernel(tf.BatchMatMul)(args);

  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== Kb) {
    throw new Error(
      `Error in matMul: inner shapes (${K}) and (${Kb}) of Tensors with shapes ${a.shape} and ` +
        `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const dimsA = a.shape.slice(0, -2);
  const dimsB = b.shape.slice(0, -2);
  const outDims = tf.broadcast_util.assertAndGetBroadcastShape(dimsA, dimsB);
  const outShape = [...outDims, M, N];
  const batch = size(outDims);
  if (batch * M * N === 0 || K === 0) return backend.makeTensorInfo(outShape, "float32", POOL.zeros(batch * M * N));
  const out = POOL.take(batch * M * N); // sgemm with β = 0 writes every element

  const av = backend.data.get(a.dataId).values as Float32Array;
  const bv = backend.data.get(b.dataId).values as Float32Array;
  const batchA = size(dimsA);
  const batchB = size(dimsB);
  if (batchB === 1 && !transposeA) {
    // [batch·M, K] · op(B): one sgemm call over the whole batch of A.
    blas.sgemm(false, transposeB, batchA * M, N, K, av, bv, out);
    return backend.makeTensorInfo(outShape, "float32", out);
  }
  const sa = M * K;
  const sb = K * N;
  const sc = M * N;
  for (let bi = 0; bi < batch; bi++) {
    const ia = batchA === batch ? bi : operandBatchIndex(bi, outDims, dimsA);
    const ib = batchB === batch ? bi : operandBatchIndex(bi, outDims, dimsB);
    blas.sgemm(
      transposeA,
      transposeB,
      M,
      N,
      K,
      av.subarray(ia * sa, ia * sa + sa),
      bv.subarray(ib * sb, ib * sb + sb),
      out.subarray(bi * sc, bi * sc + sc),
    );
  }
  return backend.makeTensorInfo(outShape, "float32", out);
}

/** The activations `_FusedMatMul` may carry, mapped to the cpu kernels that compute them. */
const ACTIVATION_KERNEL: Record<string, string> = {
  relu: tf.Relu,
  relu6: tf.Relu6,
  elu: tf.Elu,
  sigmoid: tf.Sigmoid,
  leakyrelu: tf.LeakyRelu,
  prelu: tf.Prelu,
};

/** `_FusedMatMul` = BLAS matmul, then the cpu kernels for bias and activation. */
export function blasFusedMatMul(blas: Blas, args: KernelArgs): TensorInfo {
  const { backend } = args;
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const attrs = args.attrs ?? {};
  let cur = blasBatchMatMul(blas, {
    inputs: { a, b },
    backend,
    attrs: { transposeA: attrs.transposeA, transposeB: attrs.transposeB },
  });
  const replace = (next: TensorInfo) => {
    backend.disposeIntermediateTensorInfo(cur);
    cur = next;
  };
  if (bias) replace(cpuKernel(tf.Add)({ inputs: { a: cur, b: bias }, backend }));
  const activation = attrs.activation as string | undefined;
  if (activation && activation !== "linear") {
    const name = ACTIVATION_KERNEL[activation];
    if (!name) throw new Error(`Activation ${activation} is not implemented for the blas backend.`);
    const inputs = activation === "prelu" ? { x: cur, alpha: preluActivationWeights } : { x: cur };
    replace(cpuKernel(name)({ inputs, backend, attrs: { alpha: attrs.leakyreluAlpha } }));
  }
  return cur;
}

/**
 * tfjs-cpu's backend with pooled kernel outputs (`buffer_pool.ts`): every stored array is counted per buffer,
 * a disposed tensor's buffer returns to the pool, and reads of pooled data are copies.
 */
export class BlasBackend extends MathBackendCPU {
  override write(values: BackendValues, shape: number[], dtype: tf.DataType): DataId {
    const id = super.write(values, shape, dtype);
    POOL.retain(values);
    return id;
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    super.move(dataId, values, shape, dtype, refCount);
    POOL.retain(values);
  }

  override readSync(dataId: DataId): BackendValues {
    const v = super.readSync(dataId);
    return POOL.owns(v) ? v.slice() : v;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const entry = this.data.has(dataId) ? this.data.get(dataId) : undefined;
    const done = super.disposeData(dataId, force);
    if (entry && !this.data.has(dataId)) POOL.release(entry.values);
    return done;
  }
}

type BackendValues = Parameters<MathBackendCPU["write"]>[0];
type DataId = ReturnType<MathBackendCPU["write"]>;

let registered = false;

/**
 * Register the `blas` backend (idempotent). Returns false, registering nothing, when no BLAS library
 * loads (see `blasLoadError`).
 */
export function registerBlasBackend(): boolean {
  if (registered) return true;
  const blas = loadBlas();
  if (!blas) return false;
  for (const k of tf.getKernelsForBackend("cpu")) {
    if (k.kernelName === tf.BatchMatMul || k.kernelName === tf._FusedMatMul) continue;
    tf.registerKernel({ ...k, backendName: BLAS_BACKEND });
  }
  tf.registerKernel({
    kernelName: tf.BatchMatMul,
    backendName: BLAS_BACKEND,
    kernelFunc: ((args: KernelArgs) => blasBatchMatMul(blas, args)) as unknown as tf.KernelFunc,
  });
  tf.registerKernel({
    kernelName: tf._FusedMatMul,
    backendName: BLAS_BACKEND,
    kernelFunc: ((args: KernelArgs) => blasFusedMatMul(blas, args)) as unknown as tf.KernelFunc,
  });
  const fast: [string, unknown][] = [
    ...FAST_BINARY_OPS.map((name) => [name, fastBinary(name)] as [string, unknown]),
    ...FAST_UNARY_OPS.map((name) => [name, fastUnary(name)] as [string, unknown]),
    [tf.Softmax, fastSoftmax],
    [tf.Transpose, fastTranspose],
    [tf.Sum, fastSum],
    [tf.Mean, fastMean],
    [tf.GatherV2, fastGather],
    [tf.TopK, fastTopK],
    [tf.ZerosLike, fastZerosLike],
    [tf.Slice, fastSlice],
    [tf.PadV2, fastPad],
  ];
  for (const [kernelName, fn] of fast) {
    tf.unregisterKernel(kernelName, BLAS_BACKEND);
    tf.registerKernel({ kernelName, backendName: BLAS_BACKEND, kernelFunc: fn as tf.KernelFunc });
  }
  registerFusedKernels(BLAS_BACKEND);
  installSharedSaves(BLAS_BACKEND);
  // Priority below cpu's, so tfjs never picks it on its own: the harness selects backends explicitly.
  tf.registerBackend(BLAS_BACKEND, () => new BlasBackend(), -1);
  registered = true;
  return true;
}
