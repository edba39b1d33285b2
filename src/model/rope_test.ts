import { ConfigError } from "../errors.ts";
import { assertAllClose, assertEquals, assertThrows } from "../testing/asserts.ts";
import type { RopeScaling } from "./config.ts";
import { ropeInvFreq, ropeTables } from "./rope.ts";

const LLAMA31_SCALING: RopeScaling = {
  type: "llama3",
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 8192,
};

/** transformers' `_compute_llama3_parameters`, written as its torch.where selections. */
function llama3Reference(inv: number[], s: RopeScaling): number[] {
  const L = s.originalMaxPositionEmbeddings;
  return inv.map((f) => {
    const wavelen = 2 * Math.PI / f;
    const llama = wavelen > L / s.lowFreqFactor ? f / s.factor : f;
    const smooth = (L / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    const smoothed = (1 - smooth) * llama / s.factor + smooth * llama;
    const isMedium = !(wavelen < L / s.highFreqFactor) && !(wavelen > L / s.lowFreqFactor);
    return isMedium ? smoothed : llama;
  });
}

Deno.test("ropeInvFreq is θ^(−2i/d): headDim 4, θ 10000 → [1, 0.01]", () => {
  assertAllClose(ropeInvFreq({ headDim: 4, ropeTheta: 10000, ropeScaling: null }), [1, 0.01], 0, 1e-15);
  assertAllClose(
    ropeInvFreq({ headDim: 8, ropeTheta: 10000, ropeScaling: null }),
    [1, 0.1, 0.01, 0.001],
    0,
    1e-15,
  );
});

Deno.test("ropeInvFreq applies llama3 scaling: unchanged, smoothed and divided bands (headDim 8)", () => {
  const scaling = { ...LLAMA31_SCALING, originalMaxPositionEmbeddings: 2048 };
  // wavelengths 2π, 62.8, 628.3, 6283 against L/β = 512 and L/α = 2048:
  // index 2 is smoothed with s = (2048/628.3185 − 1)/3 = 0.7531632…, index 3 divided by 8.
  const inv = ropeInvFreq({ headDim: 8, ropeTheta: 10000, ropeScaling: scaling });
  assertAllClose(inv, [1, 0.1, 0.007840188600689215, 0.000125], 0, 1e-14);
});

Deno.test("ropeInvFreq matches an independent llama3 computation for Llama-3.1-8B (d 128, θ 5e5)", () => {
  const cfg = { headDim: 128, ropeTheta: 500000, ropeScaling: LLAMA31_SCALING };
  const plain = [...ropeInvFreq({ ...cfg, ropeScaling: null })];
  const inv = ropeInvFreq(cfg);
  assertAllClose(inv, llama3Reference(plain, LLAMA31_SCALING), 0, 1e-14);
  // Spot values from numpy: index 28 unchanged (λ ≈ 1956 < 2048), 29–34 smoothed, 35 on divided by 8.
  assertAllClose(
    [inv[0], inv[28], inv[29], inv[32], inv[34], inv[35], inv[63]],
    [
      1,
      0.003211445994752591,
      0.002166570763503359,
      0.0005248461609929547,
      0.0001785078127679964,
      9.556212353964683e-05,
      3.068925988914511e-07,
    ],
    0,
    1e-13,
  );
  assertEquals(inv.filter((f, i) => f === plain[i]).length, 29);
  assertEquals(inv.filter((f, i) => f === plain[i] / 8).length, 29);
});

Deno.test("ropeTables repeats the frequencies in the rotate_half layout, [seqLen, headDim]", () => {
  const { cos, sin } = ropeTables({ headDim: 4, ropeTheta: 10000, ropeScaling: null }, 3);
  assertEquals(cos.length, 12);
  const row = (t: number, f: (x: number) => number) => [f(t), f(0.01 * t), f(t), f(0.01 * t)];
  assertAllClose(cos, [...row(0, Math.cos), ...row(1, Math.cos), ...row(2, Math.cos)], 1e-7);
  assertAllClose(sin, [...row(0, Math.sin), ...row(1, Math.sin), ...row(2, Math.sin)], 1e-7);
  assertEquals([cos[8], sin[8]], [Math.fround(Math.cos(2)), Math.fround(Math.sin(2))]);
});

Deno.test("rotating q at m and k at n gives q·k that depends only on m − n", () => {
  const d = 8;
  const { cos, sin } = ropeTables({ headDim: d, ropeTheta: 100, ropeScaling: null }, 16);
  const rotate = (x: number[], t: number) =>
    x.map((v, i) => {
      const rotated = i < d / 2 ? -x[i + d / 2] : x[i - d / 2]; // rotate_half
      return v * cos[t * d + i] + rotated * sin[t * d + i];
    });
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  const q = [0.3, -1.2, 0.5, 2.0, -0.7, 0.1, 1.1, -0.4];
  const k = [1.0, 0.2, -0.3, 0.8, 0.5, -1.5, 0.25, 0.6];
  const at = (m: number, n: number) => dot(rotate(q, m), rotate(k, n));
  assertAllClose([at(5, 2), at(9, 6), at(15, 12)], [at(3, 0), at(3, 0), at(3, 0)], 1e-5);
});

Deno.test("ropeInvFreq rejects an odd headDim", () => {
  assertThrows(() => ropeInvFreq({ headDim: 7, ropeTheta: 10000, ropeScaling: null }), ConfigError, "must be even");
});
