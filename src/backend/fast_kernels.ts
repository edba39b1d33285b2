/**
 * Faster kernels for the `blas` backend, where profiles of a training step showed tfjs-cpu's generic code
 * dominating once matmuls went to BLAS. Each is a JS loop, or the matching `native/kernels.c` loop where that
 * loaded (`nativeFor`):
 * - broadcasting binary ops (Add, Sub, Multiply, RealDiv, and the comparisons the routers' masks use):
 *   tfjs-cpu converts every output index to coordinates; here shapes are collapsed to runs with fixed
 *   strides and each op is one tight loop;
 * - Softmax over the last axis, one pass per row;
 * - Transpose: natively any float32 permutation; in JS those that keep the last axis, as contiguous row copies;
 * - TopK for small k (the routers' masks), by insertion per row with tfjs-cpu's tie order;
 * - unary exp, log, sigmoid, neg, square, sqrt, rsqrt; Sum/Mean over contiguous axes; GatherV2 rows; ZerosLike.
 * Anything else (other dtypes, other permutations without the native kernels) falls back to the cpu kernel.
 */
import * as tf from "@tensorflow/tfjs";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { POOL } from "./buffer_pool.ts";
import { BINARY_OP, nativeFor, type NativeSymbols, UNARY_OP } from "./native.ts";

type TensorInfo = tf.TensorInfo;
export interface KernelArgs {
  inputs: Record<string, TensorInfo | undefined>;
  backend: MathBackendCPU;
  attrs?: Record<string, unknown>;
}
export type KernelFn = (args: KernelArgs) => TensorInfo;

export function cpuKernel(name: string): KernelFn {
  const k = tf.getKernel(name, "cpu");
  if (!k) throw new Error(`tfjs cpu backend has no kernel ${name}`);
  return k.kernelFunc as unknown as KernelFn;
}

const values = (b: MathBackendCPU, t: TensorInfo) => b.data.get(t.dataId).values as Float32Array;

/** Strided runs covering a broadcast: for each outer index, offsets into a, b and out, then `len` steps. */
interface Plan {
  outShape: number[];
  size: number;
  len: number;
  aStep: number;
  bStep: number;
  aOff: Int32Array;
  bOff: Int32Array;
}

/** Collapse broadcast shapes into runs; dims of size 1 drop out, neighbours with the same pattern merge. */
export function broadcastPlan(aShape: number[], bShape: number[]): Plan {
  const outShape = tf.broadcast_util.assertAndGetBroadcastShape(aShape, bShape);
  const r = outShape.length;
  const pa = [...Array(r - aShape.length).fill(1), ...aShape];
  const pb = [...Array(r - bShape.length).fill(1), ...bShape];
  // merged dims: [size, aStrideFlag, bStrideFlag] where the flag says whether the operand varies along it
  const dims: { n: number; a: boolean; b: boolean }[] = [];
  for (let i = 0; i < r; i++) {
    if (outShape[i] === 1) continue;
    const d = { n: outShape[i], a: pa[i] !== 1, b: pb[i] !== 1 };
    const last = dims.at(-1);
    if (last && last.a === d.a && last.b === d.b) last.n *= d.n;
    else dims.push(d);
  }
  const size = outShape.reduce((x, y) => x * y, 1);
  if (dims.length === 0) dims.push({ n: 1, a: false, b: false });
  const inner = dims.at(-1)!;
  const outer = dims.slice(0, -1);
  // operand strides of each merged dim (in elements of that operand)
  const strides = (flag: "a" | "b") => {
    const s = new Array(dims.length).fill(0);
    let acc = 1;
    for (let i = dims.length - 1; i >= 0; i--) {
      if (dims[i][flag]) {
        s[i] = acc;
        acc *= dims[i].n;
      }
    }
    return s;
  };
  const sa = strides("a");
  const sb = strides("b");
  const nOuter = size / inner.n;
  const aOff = new Int32Array(nOuter);
  const bOff = new Int32Array(nOuter);
  const idx = new Array(outer.length).fill(0);
  let ao = 0;
  let bo = 0;
  for (let o = 0; o < nOuter; o++) {
    aOff[o] = ao;
    bOff[o] = bo;
    for (let d = outer.length - 1; d >= 0; d--) { // odometer increment with incremental offsets
      idx[d]++;
      ao += sa[d];
      bo += sb[d];
      if (idx[d] < outer[d].n) break;
      ao -= sa[d] * outer[d].n;
      bo -= sb[d] * outer[d].n;
      idx[d] = 0;
    }
  }
  return { outShape, size, len: inner.n, aStep: inner.a ? 1 : 0, bStep: inner.b ? 1 : 0, aOff, bOff };
}

type Loop = (p: Plan, a: Float32Array, b: Float32Array, out: Float32Array) => void;

// One loop per op keeps each inner loop monomorphic (a shared loop calling an op closure would not inline).
const LOOPS: Record<string, Loop> = {
  [tf.Add]: (p, a, b, out) => {
    for (let o = 0, w = 0; o < p.aOff.length; o++) {
      for (let i = 0, ia = p.aOff[o], ib = p.bOff[o]; i < p.len; i++, ia += p.aStep, ib += p.bStep) {
        out[w++] = a[ia] + b[ib];
      }
    }
  },
  [tf.Sub]: (p, a, b, out) => {
    for (let o = 0, w = 0; o < p.aOff.length; o++) {
      for (let i = 0, ia = p.aOff[o], ib = p.bOff[o]; i < p.len; i++, ia += p.aStep, ib += p.bStep) {
        out[w++] = a[ia] - b[ib];
      }
    }
  },
  [tf.Multiply]: (p, a, b, out) => {
    for (let o = 0, w = 0; o < p.aOff.length; o++) {
      for (let i = 0, ia = p.aOff[o], ib = p.bOff[o]; i < p.len; i++, ia += p.aStep, ib += p.bStep) {
        out[w++] = a[ia] * b[ib];
      }
    }
  },
  [tf.Pow]: (p, a, b, out) => {
    for (let o = 0, w = 0; o < p.aOff.length; o++) {
      for (let i = 0, ia = p.aOff[o], ib = p.bOff[o]; i < p.len; i++, ia += p.aStep, ib += p.bStep) {
        out[w++] = Math.pow(a[ia], b[ib]);
      }
    }
  },
  [tf.RealDiv]: (p, a, b, out) => {
    for (let o = 0, w = 0; o < p.aOff.length; o++) {
      for (let i = 0, ia = p.aOff[o], ib = p.bOff[o]; i < p.len; i++, ia += p.aStep, ib += p.bStep) {
        out[w++] = a[ia] / b[ib];
      }
    }
  },
};

/** Comparisons with broadcasting, writing 0/1 into a bool (Uint8Array) output. */
type BoolLoop = (p: Plan, a: Float32Array, b: Float32Array, out: Uint8Array) => void;
const COMPARISONS: Record<string, BoolLoop> = {
  [tf.Greater]: (p, a, b, out) => {
    for (let o = 0, w = 0; o < p.aOff.length; o++) {
      for (let i = 0, ia = p.aOff[o], ib = p.bOff[o]; i < p.len; i++, ia += p.aStep, ib += p.bStep) {
        out[w++] = a[ia] > b[ib] ? 1 : 0;
      }
    }
  },
  [tf.GreaterEqual]: (p, a, b, out) => {
    for (let o = 0, w = 0; o < p.aOff.length; o++) {
      for (let i = 0, ia = p.aOff[o], ib = p.bOff[o]; i < p.len; i++, ia += p.aStep, ib += p.bStep) {
        out[w++] = a[ia] >= b[ib] ? 1 : 0;
      }
    }
  },
  [tf.Less]: (p, a, b, out) => {
    for (let o = 0, w = 0; o < p.aOff.length; o++) {
      for (let i = 0, ia = p.aOff[o], ib = p.bOff[o]; i < p.len; i++, ia += p.aStep, ib += p.bStep) {
        out[w++] = a[ia] < b[ib] ? 1 : 0;
      }
    }
  },
  [tf.LessEqual]: (p, a, b, out) => {
    for (let o = 0, w = 0; o < p.aOff.length; o++) {
      for (let i = 0, ia = p.aOff[o], ib = p.bOff[o]; i < p.len; i++, ia += p.aStep, ib += p.bStep) {
        out[w++] = a[ia] <= b[ib] ? 1 : 0;
      }
    }
  },
  [tf.Equal]: (p, a, b, out) => {
    for (let o = 0, w = 0; o < p.aOff.length; o++) {
      for (let i = 0, ia = p.aOff[o], ib = p.bOff[o]; i < p.len; i++, ia += p.aStep, ib += p.bStep) {
        out[w++] = a[ia] === b[ib] ? 1 : 0;
      }
    }
  },
};

export const FAST_BINARY_OPS = [...Object.keys(LOOPS), ...Object.keys(COMPARISONS)];

/** A float32 broadcasting binary kernel; other dtypes go to the cpu kernel. */
export function fastBinary(name: string): KernelFn {
  const fallback = cpuKernel(name);
  return (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== "float32" || b.dtype !== "float32") return fallback(args);
    const p = broadcastPlan(a.shape, b.shape);
    const [av, bv] = [values(args.backend, a), values(args.backend, b)];
    if (name in COMPARISONS) {
      const out = new Uint8Array(p.size);
      if (p.size > 0) COMPARISONS[name](p, av, bv, out);
      return args.backend.makeTensorInfo(p.outShape, "bool", out);
    }
    const out = POOL.take(p.size);
    const c = Object.hasOwn(BINARY_OP, name) ? nativeFor(av, bv) : null;
    if (p.size > 0 && c) {
      const op = BINARY_OP[name as keyof typeof BINARY_OP];
      c.mole_binary(op, av, bv, out, p.aOff, p.bOff, p.aOff.length, p.len, p.aStep, p.bStep);
    } else if (p.size > 0) LOOPS[name](p, av, bv, out);
    return args.backend.makeTensorInfo(p.outShape, "float32", out);
  };
}

/**
 * exp(d) for d below this is under half of float32's smallest subnormal (1.4e-45), so it rounds to exactly 0:
 * softmax skips those entries (the masked half of causal attention scores) instead of calling Math.exp.
 */
const EXP_UNDERFLOW = -104;

/** Softmax over the last axis, one row at a time (max-shifted). */
export function fastSoftmax(args: KernelArgs): TensorInfo {
  const logits = args.inputs.logits!;
  const dim = args.attrs?.dim as number;
  if (logits.dtype !== "float32" || (dim !== -1 && dim !== logits.shape.length - 1)) {
    return cpuKernel(tf.Softmax)(args);
  }
  const x = values(args.backend, logits);
  const n = logits.shape.at(-1) ?? 1;
  const out = POOL.take(x.length);
  const c = nativeFor(x);
  if (c && n > 0) {
    c.mole_softmax_rows(x, out, x.length / n, 1, n, 1, 0);
    return args.backend.makeTensorInfo(logits.shape, "float32", out);
  }
  for (let r = 0; r < x.length; r += n) {
    let max = -Infinity;
    for (let i = r; i < r + n; i++) if (x[i] > max) max = x[i];
    let sum = 0;
    for (let i = r; i < r + n; i++) {
      const d = x[i] - max;
      sum += out[i] = d < EXP_UNDERFLOW ? 0 : Math.exp(d);
    }
    const inv = 1 / sum;
    for (let i = r; i < r + n; i++) out[i] *= inv;
  }
  return args.backend.makeTensorInfo(logits.shape, "float32", out);
}

/** Above this k the insertion scan stops paying; the cpu kernel's quickselect takes over. */
const FAST_TOPK_MAX_K = 16;

/**
 * TopK over the last axis for small k: one scan per row keeping the k best in order. Equal values keep the
 * lower index first (tfjs-cpu's `comparePair`), so the selection is the cpu kernel's; NaN rows fall back.
 */
export function fastTopK(args: KernelArgs): TensorInfo[] {
  const x = args.inputs.x!;
  const k = args.attrs?.k as number;
  const n = x.shape.at(-1) ?? 1;
  const cpu = () => cpuKernel(tf.TopK)(args) as unknown as TensorInfo[];
  if (x.dtype !== "float32" || args.attrs?.sorted === false || k > FAST_TOPK_MAX_K || k > n) return cpu();
  const src = values(args.backend, x);
  const rows = n === 0 ? 0 : src.length / n;
  const vals = new Float32Array(rows * k);
  const idx = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    const o = r * k;
    let filled = 0;
    for (let i = 0; i < n; i++) {
      const v = src[base + i];
      if (v !== v) return cpu(); // NaN: keep the cpu kernel's ordering
      // insert after every kept value ≥ v (earlier indices win ties), if it lands within the top k
      let j = filled;
      while (j > 0 && vals[o + j - 1] < v) j--;
      if (j >= k) continue;
      for (let m = Math.min(filled, k - 1); m > j; m--) {
        vals[o + m] = vals[o + m - 1];
        idx[o + m] = idx[o + m - 1];
      }
      vals[o + j] = v;
      idx[o + j] = i;
      if (filled < k) filled++;
    }
  }
  const shape = [...x.shape.slice(0, -1), k];
  return [
    args.backend.makeTensorInfo(shape, "float32", vals),
    args.backend.makeTensorInfo(shape, "int32", idx),
  ];
}

/** Most dims a native transpose walks (kernels.c's odometer). */
const NATIVE_TRANSPOSE_MAX_RANK = 16;

/**
 * Transpose. Native: any float32 permutation, as an odometer over the output copying contiguous runs (the
 * last axis when it stays in place). JS: permutations that keep the last axis, as row copies; others use the
 * cpu kernel.
 */
export function fastTranspose(args: KernelArgs): TensorInfo {
  const x = args.inputs.x!;
  const perm = args.attrs?.perm as number[];
  const r = x.shape.length;
  const c = x.dtype === "float32" ? nativeFor(values(args.backend, x)) : null;
  if (c && r >= 1 && r <= NATIVE_TRANSPOSE_MAX_RANK) return nativeTranspose(args, c);
  if (r < 2 || perm[r - 1] !== r - 1 || x.dtype !== "float32") return cpuKernel(tf.Transpose)(args);
  const inner = x.shape[r - 1];
  const src = values(args.backend, x);
  const outShape = perm.map((p) => x.shape[p]);
  const out = POOL.take(src.length);
  // source strides of each output axis (in elements)
  const inStrides = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * x.shape[i + 1];
  const stepOf = perm.slice(0, r - 1).map((p) => inStrides[p]);
  const outer = outShape.slice(0, r - 1);
  const idx = new Array(r - 1).fill(0);
  let from = 0;
  for (let w = 0; w < out.length; w += inner) {
    out.set(src.subarray(from, from + inner), w);
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++;
      from += stepOf[d];
      if (idx[d] < outer[d]) break;
      from -= stepOf[d] * outer[d];
      idx[d] = 0;
    }
  }
  return args.backend.makeTensorInfo(outShape, "float32", out);
}

function nativeTranspose(args: KernelArgs, c: NativeSymbols): TensorInfo {
  const x = args.inputs.x!;
  const perm = args.attrs?.perm as number[];
  const r = x.shape.length;
  const src = values(args.backend, x);
  const outShape = perm.map((p) => x.shape[p]);
  const out = POOL.take(src.length);
  const inStrides = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * x.shape[i + 1];
  const keepsLast = perm[r - 1] === r - 1;
  const walked = keepsLast ? r - 1 : r;
  const dims = Int32Array.from(outShape.slice(0, walked));
  const steps = Int32Array.from(perm.slice(0, walked).map((p) => inStrides[p]));
  const inner = keepsLast ? x.shape[r - 1] : 1;
  if (src.length > 0) c.mole_transpose(src, out, dims, steps, walked, inner, src.length);
  return args.backend.makeTensorInfo(outShape, "float32", out);
}

/**
 * Sum (or Mean) over contiguous axes, as out[o, i] = Σ_r x[o, r, i] with strided loops; tfjs-cpu transposes
 * the reduced axes innermost first (slow for a leading axis, e.g. a broadcast's gradient).
 */
function reduceContiguous(args: KernelArgs, mean: boolean, name: string): TensorInfo {
  const x = args.inputs.x!;
  const { keepDims } = (args.attrs ?? {}) as { keepDims?: boolean };
  const axes = tf.util.parseAxisParam(args.attrs?.axis as number | number[], x.shape).sort((a, b) => a - b);
  const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  const intSum = x.dtype === "int32" && !mean; // e.g. a one-hot top-k mask summed over k (exact in double)
  if ((x.dtype !== "float32" && !intSum) || !contiguous || axes.length === 0) return cpuKernel(name)(args);
  const shape = x.shape;
  const outer = shape.slice(0, axes[0]).reduce((a, b) => a * b, 1);
  const red = axes.reduce((a, ax) => a * shape[ax], 1);
  const inner = shape.slice(axes.at(-1)! + 1).reduce((a, b) => a * b, 1);
  const src = args.backend.data.get(x.dataId).values as Float32Array | Int32Array;
  const out = intSum ? new Int32Array(outer * inner) : POOL.zeros(outer * inner);
  for (let o = 0; o < outer; o++) {
    const base = o * red * inner;
    if (inner === 1) {
      let s = 0;
      for (let r = 0; r < red; r++) s += src[base + r];
      out[o] = s;
      continue;
    }
    const w = o * inner;
    for (let r = 0; r < red; r++) {
      for (let i = 0, at = base + r * inner; i < inner; i++) out[w + i] += src[at + i];
    }
  }
  if (mean) { for (let i = 0; i < out.length; i++) out[i] /= red; }
  const outShape = keepDims
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
  return args.backend.makeTensorInfo(outShape, x.dtype, out);
}

export const fastSum: KernelFn = (args) => reduceContiguous(args, false, tf.Sum);
export const fastMean: KernelFn = (args) => reduceContiguous(args, true, tf.Mean);

type UnaryLoop = (x: Float32Array, out: Float32Array) => void;

// One loop per op, as for the binary ops.
const UNARY: Record<string, UnaryLoop> = {
  [tf.Exp]: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = Math.exp(x[i]);
  },
  [tf.Log]: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = Math.log(x[i]);
  },
  [tf.Sigmoid]: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]));
  },
  [tf.Neg]: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = -x[i];
  },
  [tf.Square]: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = x[i] * x[i];
  },
  [tf.Sqrt]: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = Math.sqrt(x[i]);
  },
  [tf.Rsqrt]: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = 1 / Math.sqrt(x[i]);
  },
};

export const FAST_UNARY_OPS = Object.keys(UNARY);

/** A float32 elementwise unary kernel; other dtypes go to the cpu kernel. */
export function fastUnary(name: string): KernelFn {
  const fallback = cpuKernel(name);
  return (args) => {
    const x = args.inputs.x!;
    if (x.dtype !== "float32") return fallback(args);
    const src = values(args.backend, x);
    const out = POOL.take(src.length);
    const c = Object.hasOwn(UNARY_OP, name) ? nativeFor(src) : null;
    if (c) c.mole_unary(UNARY_OP[name as keyof typeof UNARY_OP], src, out, src.length);
    else UNARY[name](src, out);
    return args.backend.makeTensorInfo(x.shape, "float32", out);
  };
}

/** GatherV2 along axis 0 without batch dims (embedding lookups): whole rows copied; else the cpu kernel. */
export function fastGather(args: KernelArgs): TensorInfo {
  const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
  const { axis, batchDims } = (args.attrs ?? {}) as { axis?: number; batchDims?: number };
  if ((axis ?? 0) !== 0 || (batchDims ?? 0) !== 0 || x.dtype !== "float32") return cpuKernel(tf.GatherV2)(args);
  const src = values(args.backend, x);
  const idx = args.backend.data.get(indices.dataId).values as Int32Array | Float32Array;
  const row = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const rows = x.shape[0];
  const out = POOL.take(idx.length * row);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (r < 0 || r >= rows) return cpuKernel(tf.GatherV2)(args); // let tfjs raise its own error
    out.set(src.subarray(r * row, (r + 1) * row), i * row);
  }
  return args.backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], "float32", out);
}

/** ZerosLike for float32 from the buffer pool (the gradients of masks and other constants: dozens per step). */
export function fastZerosLike(args: KernelArgs): TensorInfo {
  const x = args.inputs.x!;
  if (x.dtype !== "float32") return cpuKernel(tf.ZerosLike)(args);
  const size = x.shape.reduce((a, b) => a * b, 1);
  return args.backend.makeTensorInfo(x.shape, "float32", POOL.zeros(size));
}

/**
 * Copy the box `begin + [0, size)` of a row-major float32 array of shape `shape` to or from a dense array of shape
 * `size` (`toBox` false: box → dense, as Slice; true: dense → box, as Pad's interior). Whole runs of the last axis
 * are copied at once.
 */
function copyBox(
  src: Float32Array,
  dst: Float32Array,
  shape: number[],
  begin: number[],
  size: number[],
  toBox: boolean,
) {
  const r = shape.length;
  const strides = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  const run = size[r - 1];
  const rows = size.slice(0, r - 1).reduce((a, b) => a * b, 1);
  const idx = new Array(Math.max(r - 1, 0)).fill(0);
  for (let row = 0, dense = 0; row < rows; row++, dense += run) {
    let boxed = begin[r - 1];
    for (let d = 0; d < r - 1; d++) boxed += (begin[d] + idx[d]) * strides[d];
    if (run < 64) { // short runs (a column): element by element, no subarray views
      if (toBox) { for (let j = 0; j < run; j++) dst[boxed + j] = src[dense + j]; }
      else for (let j = 0; j < run; j++) dst[dense + j] = src[boxed + j];
    } else if (toBox) dst.set(src.subarray(dense, dense + run), boxed);
    else dst.set(src.subarray(boxed, boxed + run), dense);
    for (let d = r - 2; d >= 0; d--) { // next row of the box, last axis fastest
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

/**
 * Slice for float32: a strided box copy into a pooled array (tfjs-cpu's general path reads element by element
 * through a TensorBuffer: 0.7 ms for a [1024, 1] column of a [1024, 7] tensor). Contiguous slices keep cpu's
 * kernel, which returns a view of the input.
 */
export function fastSlice(args: KernelArgs): TensorInfo {
  const x = args.inputs.x!;
  const [begin, size] = tf.slice_util.parseSliceParams(
    x,
    args.attrs?.begin as number[],
    args.attrs?.size as number[],
  );
  if (x.dtype !== "float32" || x.shape.length === 0 || tf.slice_util.isSliceContinous(x.shape, begin, size)) {
    return cpuKernel(tf.Slice)(args);
  }
  tf.slice_util.assertParamsValid(x, begin, size);
  const out = POOL.take(size.reduce((a, b) => a * b, 1));
  if (out.length > 0) copyBox(values(args.backend, x), out, x.shape, begin, size, false);
  return args.backend.makeTensorInfo(size, "float32", out);
}

/** PadV2 (constant padding) for float32: fill, then copy the input into the interior box. */
export function fastPad(args: KernelArgs): TensorInfo {
  const x = args.inputs.x!;
  const paddings = args.attrs?.paddings as [number, number][];
  const constantValue = (args.attrs?.constantValue as number) ?? 0;
  if (x.dtype !== "float32" || x.shape.length === 0) return cpuKernel(tf.PadV2)(args);
  const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
  const out = POOL.take(outShape.reduce((a, b) => a * b, 1)).fill(constantValue);
  const size = x.shape.reduce((a, b) => a * b, 1);
  if (size > 0) copyBox(values(args.backend, x), out, outShape, paddings.map((p) => p[0]), x.shape, true);
  return args.backend.makeTensorInfo(outShape, "float32", out);
}
