import * as tf from "@tensorflow/tfjs";
import { assertAllClose, assertEquals } from "../testing/asserts.ts";
import { initBackend } from "./backend.ts";
import { loadBlas } from "./blas_ffi.ts";
import { broadcastPlan } from "./fast_kernels.ts";

const hasBlas = loadBlas() !== null;

function fill(shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * 2);
}

/** Run `f` on cpu and on blas with the same inputs; compare values, shapes and dtypes. */
async function same(what: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor) {
  const run = async (backend: "cpu" | "blas") => {
    await initBackend(backend);
    const out = tf.tidy(() => f(...shapes.map((s, i) => tf.tensor(fill(s, i), s))));
    const r = { shape: out.shape, dtype: out.dtype, data: Array.from(await out.data()) };
    out.dispose();
    return r;
  };
  const want = await run("cpu");
  const got = await run("blas");
  assertEquals([got.shape, got.dtype], [want.shape, want.dtype], `${what} shape/dtype`);
  assertAllClose(got.data, want.data, 1e-6, 1e-5, what);
}

const BROADCASTS: [number[], number[]][] = [
  [[4, 5], [4, 5]],
  [[4, 5], []],
  [[], [4, 5]],
  [[4, 5], [5]],
  [[4, 5], [4, 1]],
  [[4, 1], [1, 5]],
  [[3, 4, 5], [4, 1]],
  [[3, 1, 5], [3, 4, 1]],
  [[2, 3, 4, 5], [3, 1, 5]],
  [[6, 1, 1], [1, 4, 5]],
  [[0, 5], [5]],
];

Deno.test({
  name: "blas broadcasting add/sub/mul/div and comparisons equal cpu's on every broadcast pattern",
  ignore: !hasBlas,
  fn: async () => {
    const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
      ["add", tf.add],
      ["sub", tf.sub],
      ["mul", tf.mul],
      ["div", (a, b) => tf.div(a, b.abs().add(0.5))],
      ["pow", (a, b) => tf.pow(a.abs().add(0.1), b)],
      ["greater", (a, b) => tf.greater(a, b).cast("float32")],
      ["greaterEqual", (a, b) => tf.greaterEqual(a, b.round()).cast("float32")],
      ["less", tf.less],
      ["lessEqual", tf.lessEqual],
      ["equal", (a, b) => tf.equal(a.round(), b.round())],
    ];
    for (const [sa, sb] of BROADCASTS) {
      for (const [name, op] of ops) await same(`${name} ${JSON.stringify(sa)}·${JSON.stringify(sb)}`, [sa, sb], op);
    }
    await same("int32 add falls back", [[3, 4], [4]], (a, b) => tf.add(a.cast("int32"), b.cast("int32")));
  },
});

Deno.test("broadcastPlan collapses dims into runs with the right steps", () => {
  const p = broadcastPlan([3, 1, 5], [3, 4, 1]);
  assertEquals(p.outShape, [3, 4, 5]);
  assertEquals([p.len, p.aStep, p.bStep], [5, 1, 0]);
  assertEquals(Array.from(p.aOff), [0, 0, 0, 0, 5, 5, 5, 5, 10, 10, 10, 10]);
  assertEquals(Array.from(p.bOff), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const q = broadcastPlan([2, 3, 4], [2, 3, 4]);
  assertEquals([q.len, q.aOff.length], [24, 1]);
});

Deno.test({
  name: "blas unary kernels, softmax, sums/means over contiguous axes, transposes, gathers and top-k equal cpu's",
  ignore: !hasBlas,
  fn: async () => {
    for (
      const [name, f] of [["exp", tf.exp], ["sigmoid", tf.sigmoid], ["neg", tf.neg], ["square", tf.square]] as const
    ) {
      await same(name, [[7, 9]], f);
    }
    await same(
      "log/sqrt/rsqrt",
      [[7, 9]],
      (x) => tf.concat([tf.log(x.abs().add(1)), tf.sqrt(x.abs()), tf.rsqrt(x.abs().add(1))]),
    );
    await same("softmax last axis", [[3, 4, 17]], (x) => tf.softmax(x));
    await same("softmax rank 1", [[11]], (x) => tf.softmax(x));
    for (
      const [shape, axis, keep] of [
        [[4, 6, 5], 0, false],
        [[4, 6, 5], 1, true],
        [[4, 6, 5], 2, false],
        [[4, 6, 5], [0, 1], false],
        [[4, 6, 5], [1, 2], true],
        [[4, 6, 5], [0, 2], false], // not contiguous: falls back
        [[8], 0, false],
      ] as [number[], number | number[], boolean][]
    ) {
      await same(`sum ${shape} axis ${axis}`, [shape], (x) => tf.sum(x, axis, keep));
      await same(`mean ${shape} axis ${axis}`, [shape], (x) => tf.mean(x, axis, keep));
      await same(`int32 sum ${shape} axis ${axis}`, [shape], (x) => tf.sum(x.mul(3).round().cast("int32"), axis, keep));
    }
    for (
      const [shape, perm] of [
        [[2, 3, 4, 5], [0, 2, 1, 3]],
        [[2, 3, 4, 5], [2, 0, 1, 3]],
        [[2, 3, 4], [1, 0, 2]],
        [[5, 7], [1, 0]], // last axis moves: falls back
        [[2, 3, 4, 5], [0, 1, 3, 2]],
      ] as [number[], number[]][]
    ) {
      await same(`transpose ${shape} ${perm}`, [shape], (x) => tf.transpose(x, perm));
    }
    await same("gather rows", [[7, 3, 2]], (x) => tf.gather(x, tf.tensor1d([6, 0, 0, 3], "int32")));
    await same("gather 2-D indices", [[5, 4]], (x) => tf.gather(x, tf.tensor2d([[1, 2], [4, 0]], [2, 2], "int32")));
    await same("gather axis 1 falls back", [[3, 5]], (x) => tf.gather(x, tf.tensor1d([4, 1], "int32"), 1));
    // TopK: values and indices; rounded inputs make ties at every k, which must go to the lower index.
    for (const k of [1, 2, 3, 8]) {
      await same(`topk k ${k}`, [[64, 8]], (x) => {
        const { values, indices } = tf.topk(x.mul(2).round(), k);
        return tf.concat([values, indices.cast("float32")], 1);
      });
    }
    await same("topk rank 3", [[3, 5, 7]], (x) => tf.topk(x, 2).indices.cast("float32"));
    await same("topk k > 16 falls back", [[4, 40]], (x) => tf.topk(x, 20).indices.cast("float32"));
    await initBackend("cpu");
  },
});

Deno.test({
  name: "blas kernels read float32 tensors cast from bool or int32 (tfjs keeps their Uint8/Int32 values) as cpu does",
  ignore: !hasBlas,
  fn: async () => {
    const mask = (x: tf.Tensor) => tf.greater(x, 0).cast("float32"); // values stay a Uint8Array
    const ints = (x: tf.Tensor) => x.mul(3).round().cast("int32").cast("float32"); // values stay an Int32Array
    await same("mul by a cast bool mask", [[6, 7], [6, 7]], (a, b) => tf.mul(a, mask(b)));
    await same(
      "add, sub, div with cast operands",
      [[6, 7], [7]],
      (a, b) => tf.add(mask(a), ints(b)).sub(ints(a)).div(mask(b).add(1)),
    );
    await same(
      "exp, sigmoid, neg, square of cast ints",
      [[5, 4]],
      (a) => tf.exp(ints(a)).add(tf.sigmoid(ints(a))).add(tf.neg(ints(a))).add(tf.square(mask(a))),
    );
    await same(
      "transpose and softmax of cast values",
      [[3, 4, 5]],
      (a) => tf.softmax(tf.transpose(ints(a), [2, 0, 1])).add(tf.transpose(mask(a), [1, 0, 2]).sum()),
    );
  },
});

Deno.test({
  name: "blas Slice and PadV2 equal cpu's: strided and contiguous boxes, ranks 1–4, -1 sizes, empty boxes, pad values",
  ignore: !hasBlas,
  fn: async () => {
    const slices: [number[], number[], number[]][] = [
      [[1024, 7], [0, 3], [1024, 1]], // one column: MoA's per-type weight
      [[6, 5], [1, 1], [4, 3]],
      [[6, 5], [2, 0], [-1, -1]], // contiguous: cpu's view
      [[9], [2], [5]],
      [[3, 4, 5], [1, 0, 2], [2, 4, 2]],
      [[2, 3, 4, 5], [0, 1, 1, 0], [2, 2, 3, 5]],
      [[4, 5], [1, 2], [0, 3]], // empty
      [[4, 5], [0, 0], [4, 5]],
    ];
    for (const [shape, begin, size] of slices) {
      await same(`slice ${JSON.stringify([shape, begin, size])}`, [shape], (x) => tf.slice(x, begin, size));
    }
    const pads: [number[], [number, number][], number][] = [
      [[1024, 1], [[0, 0], [3, 3]], 0], // the gradient of a column slice
      [[4, 5], [[1, 2], [0, 3]], 0],
      [[7], [[2, 0]], -1.5],
      [[2, 3, 4], [[1, 0], [0, 2], [1, 1]], 2],
      [[0, 3], [[1, 1], [0, 0]], 0.25],
    ];
    for (const [shape, paddings, value] of pads) {
      await same(`pad ${JSON.stringify([shape, paddings, value])}`, [shape], (x) => tf.pad(x, paddings, value));
    }
    // the MoA pattern, gradients included: columns sliced, scaled, summed
    await same(
      "slice gradient",
      [[64, 7]],
      (g) => tf.grad((v: tf.Tensor) => tf.addN([0, 3, 6].map((c) => v.slice([0, c], [64, 1]).mul(c + 1))).sum())(g),
    );
  },
});
