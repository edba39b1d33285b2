/**
 * The native kernels (native/kernels.c) against the JS kernels they replace, kernel by kernel on the blas
 * backend: bit-identical where no exp is involved (both compute in double and round once), within float
 * rounding where one is; the float exp against Math.exp over its whole range; and the fallback when no
 * compiler is found. (The blas-vs-cpu tests in fast_kernels_test.ts and model/fused_test.ts run whichever
 * path is active.)
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertAllClose, assertBitIdentical, assertEquals } from "../testing/asserts.ts";
import { initBackend } from "./backend.ts";
import { loadBlas } from "./blas_ffi.ts";
import { FUSED } from "./fused_kernels.ts";
import { loadNative, native, setNativeEnabled, UNARY_OP } from "./native.ts";

const hasBlas = loadBlas() !== null;
const hasCc = await new Deno.Command(Deno.env.get("CC") ?? "cc", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);
const ready = hasBlas && hasCc && Deno.env.get("MOLE_NATIVE") !== "0";

function fill(n: number, seed: number, scale = 2): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * scale);
}

/** Every output of `f` computed on blas with the native kernels and again with the JS kernels. */
async function bothPaths(f: () => tf.Tensor | tf.Tensor[]): Promise<{ native: number[][]; js: number[][] }> {
  await initBackend("blas");
  const run = async () => {
    const outs = tf.tidy(() => [f()].flat());
    const data = await Promise.all(outs.map(async (t) => Array.from(await t.data())));
    tf.dispose(outs);
    return data;
  };
  setNativeEnabled(true);
  assert(native() !== null, "native kernels should be loaded");
  const n = await run();
  setNativeEnabled(false);
  try {
    return { native: n, js: await run() };
  } finally {
    setNativeEnabled(true);
  }
}

async function identical(what: string, f: () => tf.Tensor | tf.Tensor[]) {
  const { native, js } = await bothPaths(f);
  assertBitIdentical(native, js, `${what}: native vs JS`);
}

async function close(what: string, f: () => tf.Tensor | tf.Tensor[], atol = 1e-7, rtol = 2e-6) {
  const { native, js } = await bothPaths(f);
  for (const [i, v] of native.entries()) assertAllClose(v, js[i], atol, rtol, `${what}: output ${i}`);
}

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}) =>
  tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
const t = (shape: number[], seed: number, scale?: number) =>
  tf.tensor(fill(shape.reduce((a, b) => a * b, 1), seed, scale), shape);

Deno.test({
  name: "native kernels: built and loaded where a C compiler exists, named in the backend description",
  ignore: !ready,
  fn: async () => {
    const info = await loadNative();
    assert(info.symbols !== null, info.detail);
    assert(/^native kernels \(.+, (avx2|generic)\)$/.test(info.detail), info.detail);
  },
});

Deno.test({
  name: "native float exp: within 2 ulp of Math.exp over its range; overflow, underflow, NaN and ±∞ exact",
  ignore: !ready,
  fn: async () => {
    await loadNative();
    const c = native()!;
    const xs: number[] = [];
    for (let x = -110; x <= 95; x += 0.0137) xs.push(x);
    xs.push(0, -0, 1, -1, 88.7, 88.72, 88.73, 89, 100, -87.3, -103.2, -103.98, -104, -200);
    const x = Float32Array.from([...xs, NaN, Infinity, -Infinity]);
    const y = new Float32Array(x.length);
    c.mole_unary(UNARY_OP.Exp, x, y, x.length);
    let worst = 0;
    for (let i = 0; i < xs.length; i++) {
      const want = Math.exp(x[i]);
      if (want > 3.4028234663852886e38) {
        assertEquals(y[i], Infinity, `exp(${x[i]})`);
      } else if (want < 2 ** -126) { // subnormal results: within 2 units of the last place (2^-149)
        assert(Math.abs(y[i] - want) <= 2 * 2 ** -149, `exp(${x[i]}) = ${y[i]}, want ${want}`);
      } else {
        const ulp = 2 ** (Math.floor(Math.log2(want)) - 23);
        worst = Math.max(worst, Math.abs(y[i] - want) / ulp);
      }
    }
    assert(worst <= 2, `worst error ${worst.toFixed(2)} ulp`);
    assert(Number.isNaN(y[xs.length]));
    assertEquals([y[xs.length + 1], y[xs.length + 2]], [Infinity, 0]);
  },
});

Deno.test({
  name: "native float log: within 2 ulp of Math.log on (0, ∞) incl. subnormals; 0, negatives, NaN and ∞ exact",
  ignore: !ready,
  fn: async () => {
    await loadNative();
    const c = native()!;
    const xs: number[] = [1, 2, 0.5, Math.SQRT1_2, Math.SQRT2, 1e-5, 3.4e38, 1e-40, 2 ** -149, 1 + 2 ** -23];
    for (let e = -149; e <= 127; e += 0.37) xs.push(2 ** e);
    for (let x = 0.01; x < 4; x += 0.0011) xs.push(x);
    const x = Float32Array.from([...xs, 0, -1, NaN, Infinity]);
    const y = new Float32Array(x.length);
    c.mole_unary(UNARY_OP.Log, x, y, x.length);
    let worst = 0;
    for (let i = 0; i < xs.length; i++) {
      const want = Math.log(x[i]);
      const ulp = want === 0 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(Math.abs(want))) - 23);
      worst = Math.max(worst, Math.abs(y[i] - want) / ulp);
    }
    assert(worst <= 2, `worst error ${worst.toFixed(2)} ulp`);
    const n = xs.length;
    assertEquals([y[n], Number.isNaN(y[n + 1]), Number.isNaN(y[n + 2]), y[n + 3]], [-Infinity, true, true, Infinity]);
  },
});

Deno.test({
  name: "native = JS bit for bit: broadcasting add/sub/mul/div, transposes, neg and square",
  ignore: !ready,
  fn: async () => {
    const pairs: [number[], number[]][] = [[[4, 5], [4, 5]], [[4, 5], []], [[], [4, 5]], [[3, 4, 5], [4, 1]], [[0, 5], [
      5,
    ]]];
    for (const [sa, sb] of pairs) {
      const what = `${JSON.stringify(sa)}·${JSON.stringify(sb)}`;
      await identical(`add ${what}`, () => tf.add(t(sa, 1), t(sb, 2)));
      await identical(`sub ${what}`, () => tf.sub(t(sa, 1), t(sb, 2)));
      await identical(`mul ${what}`, () => tf.mul(t(sa, 1), t(sb, 2)));
      await identical(`div ${what}`, () => tf.div(t(sa, 1), t(sb, 2)));
    }
    await identical("div by 0 and 0/0", () => tf.div(tf.tensor1d([1, -1, 0, 2]), tf.tensor1d([0, 0, 0, 4])));
    for (
      const [shape, perm] of [[[16, 6, 4, 8], [0, 2, 1, 3]], [[5, 7], [1, 0]], [[2, 3, 4], [2, 0, 1]], [[9], [0]], [[
        3,
        0,
        2,
      ], [1, 0, 2]]]
    ) {
      await identical(`transpose ${shape} by ${perm}`, () => tf.transpose(t(shape, 5), perm));
    }
    await identical("neg, square", () => [tf.neg(t([7, 3], 3)), tf.square(t([7, 3], 4, 1e20))]);
  },
});

Deno.test({
  name:
    "native = JS bit for bit: RMSNorm and its gradient, RoPE both ways, AdamW, top-k and DynMoLE masks, renormalised gates, expert scales, Σx², softmax and CE gradients",
  ignore: !ready,
  fn: async () => {
    for (const [T, d] of [[7, 16], [1, 1], [0, 8]]) {
      await identical(`rmsNorm ${T}×${d}`, () => run(FUSED.rmsNorm, { x: t([T, d], 1), g: t([d], 2) }, { eps: 1e-5 }));
      await identical(
        `rmsNormGrad ${T}×${d}`,
        () => run(FUSED.rmsNormGrad, { dy: t([T, d], 3), x: t([T, d], 1), g: t([d], 2), r: t([T], 4, 1).abs() }),
      );
    }
    for (const inverse of [false, true]) {
      await identical(
        `rope inverse=${inverse}`,
        () =>
          run(FUSED.rope, { x: t([5, 12], 5), cos: t([5, 12], 6, 1), sin: t([5, 12], 7, 1) }, { headDim: 4, inverse }),
      );
    }
    const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, c1: 0.19, c2: 0.003, scale: 0.7 };
    await identical(
      "adamW",
      () => run(FUSED.adamW, { p: t([33], 8), g: t([33], 9), m: t([33], 10, 0.1), v: t([33], 11, 0.1).abs() }, adam),
    );
    const ranked = () =>
      tf.tensor2d([[0.1, 0.4, 0.4, 0.1], [0.25, 0.25, 0.25, 0.25], [NaN, 0.5, 0.2, 0.3], [0.7, 0.1, 0.1, 0.1]]);
    for (const k of [1, 2, 3]) await identical(`topKMask k=${k}`, () => run(FUSED.topKMask, { p: ranked() }, { k }));
    for (const keepTopK of [0, 1]) {
      const attrs = { topP: 0.5, keepTopK, threshold: 0.9 };
      await identical(`dynamicMask keepTopK=${keepTopK}`, () => run(FUSED.dynamicMask, { p: ranked() }, attrs));
      await identical(
        `dynamicMask with entropy, keepTopK=${keepTopK}`,
        () => run(FUSED.dynamicMask, { p: ranked(), entropy: tf.tensor1d([0.95, 0.2, 0.9, 0.91]) }, attrs),
      );
    }
    const w = () => t([6, 5], 30, 1).abs();
    const m = () =>
      tf.tensor2d([1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0], [6, 5]);
    for (const guard of [false, true]) {
      await identical(`renorm guard=${guard}`, () => run(FUSED.renorm, { w: w(), m: m() }, { guard }));
    }
    await identical(
      "renormGrad",
      () => run(FUSED.renormGrad, { dg: t([6, 5], 31), g: w(), m: m(), den: t([6], 32, 1).abs().add(0.1) }),
    );
    const es = { r: 3, s: 0.7 };
    await identical("expertScale", () => run(FUSED.expertScale, { xa: t([4, 12], 33), g: t([4, 4], 34, 1) }, es));
    await identical(
      "expertScaleGrad",
      () => run(FUSED.expertScaleGrad, { dh: t([4, 12], 35), xa: t([4, 12], 33), g: t([4, 4], 34, 1) }, es),
    );
    await identical("sumSquares", () => run(FUSED.sumSquares, { a: t([100], 12), b: t([3, 7], 13, 1e3) }));
    await identical(
      "softmaxGrad",
      () => run(FUSED.softmaxGrad, { dp: t([2, 3, 9], 14), p: t([2, 3, 9], 15, 1).abs() }, { scale: 0.35 }),
    );
    await identical( // row 1 is masked padding whose target lies far outside the vocabulary
      "crossEntropyGrad",
      () =>
        run(FUSED.crossEntropyGrad, {
          dy: tf.scalar(1.5),
          probs: t([4, 11], 16, 1).abs(),
          targets: tf.tensor1d([0, 1 << 29, 10, 3], "int32"),
          mask: tf.tensor1d([1, 0, 1, 1]),
        }),
    );
  },
});

Deno.test({
  name: "native ≈ JS (float exp): SwiGLU both ways, causal and row softmax, cross-entropy, exp, sigmoid",
  ignore: !ready,
  fn: async () => {
    await close("swiGlu", () => run(FUSED.swiGlu, { a: t([9, 13], 1, 8), b: t([9, 13], 2) }));
    await close(
      "swiGluGrad",
      () =>
        run(FUSED.swiGluGrad, { dy: t([9, 13], 3), a: t([9, 13], 1, 8), b: t([9, 13], 2), s: t([9, 13], 4, 1).abs() }),
    );
    await close("causal softmax", () => run(FUSED.causalSoftmax, { x: t([3, 10, 5], 5, 4) }, { scale: 0.35 }));
    await close("softmax rows", () => tf.softmax(t([6, 17], 6, 5)));
    await close("softmax of a row with -∞ and ties", () => tf.softmax(tf.tensor2d([[-Infinity, 1, 1, 0]])));
    await close(
      "crossEntropy",
      () =>
        run(FUSED.crossEntropy, {
          logits: t([4, 37], 7, 20),
          targets: tf.tensor1d([0, 36, 5, 3], "int32"),
          mask: tf.tensor1d([1, 1, 0, 1]),
        }),
    );
    for (const q of [0.5, 1, 1.1, 2]) {
      const p = () => tf.concat([tf.softmax(t([5, 6], 20 + q, 3)), tf.oneHot([2], 6).cast("float32")]);
      const attrs = { q, eps: 1e-5, smax: 1.3 };
      await close(`tsallis q=${q}`, () => run(FUSED.tsallis, { p: p() }, attrs), 1e-6, 2e-6);
      await close(`tsallisGrad q=${q}`, () => run(FUSED.tsallisGrad, { dh: t([6], 21), p: p() }, attrs), 1e-6, 2e-6);
    }
    await close("log", () => tf.log(t([40], 22, 9).abs()), 1e-7, 2e-7);
    await close("exp, sigmoid", () => [tf.exp(t([50], 8, 30)), tf.sigmoid(t([50], 9, 30))], 1e-30, 4e-7);
  },
});

Deno.test({
  name: "without a C compiler the JS kernels run, and the backend says why in one line",
  fn: async () => {
    const code = `import { loadNative } from ${JSON.stringify(new URL("./native.ts", import.meta.url).href)};
      console.log((await loadNative()).detail);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      env: { CC: "/nonexistent/cc", MOLE_NATIVE: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assertEquals(text, "JS kernels (no C compiler '/nonexistent/cc' on PATH)");
  },
});

Deno.test({
  name: "a failing native build falls back to the JS kernels in one line and leaves no partial file",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "mole-native-" });
    try {
      const cc = `${dir}/cc`;
      const script = [ // --version works; a build writes half an output file, then fails
        "#!/bin/sh",
        '[ "$1" = --version ] && echo "fake cc 1.0" && exit 0',
        'while [ $# -gt 0 ]; do [ "$1" = -o ] && echo partial > "$2"; shift; done',
        'echo "boom" >&2; exit 1',
      ];
      await Deno.writeTextFile(cc, script.join("\n") + "\n");
      await Deno.chmod(cc, 0o755);
      const code = `import { loadNative } from ${JSON.stringify(new URL("./native.ts", import.meta.url).href)};
        console.log((await loadNative()).detail);`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", code],
        env: { CC: cc, MOLE_NATIVE_DIR: `${dir}/build`, MOLE_NATIVE: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      assert(text.startsWith("JS kernels (native build failed: ") && text.includes("boom"), text);
      assertEquals([...Deno.readDirSync(`${dir}/build`)].map((e) => e.name), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
