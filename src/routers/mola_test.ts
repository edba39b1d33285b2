import { initBackend } from "../backend/backend.ts";
import { ConfigError } from "../errors.ts";
import { assertAllClose, assertEquals, assertThrows } from "../testing/asserts.ts";
import { route, testSite } from "../testing/sites.ts";
import { vec } from "../testing/tensors.ts";
import { expertsForLayer, molaMethod } from "./mola.ts";
import { methodConfig } from "./registry.ts";
import type { MolaConfig } from "./mola.ts";

await initBackend("cpu");

const perLayer = (experts: string | number[], nLayers: number) =>
  Array.from({ length: nLayers }, (_, l) => expertsForLayer(experts, l, nLayers));

Deno.test("MoLA 2468 on 32 layers gives 2×8, 4×8, 6×8, 8×8 (the README's allocation); 8642 reverses it", () => {
  const counts = perLayer("2468", 32);
  assertEquals(counts, [...Array(8).fill(2), ...Array(8).fill(4), ...Array(8).fill(6), ...Array(8).fill(8)]);
  assertEquals(perLayer("8642", 32), [...counts].reverse());
});

Deno.test("MoLA patterns split any layer count into contiguous groups; a list may give one count per layer", () => {
  assertEquals(perLayer("2468", 4), [2, 4, 6, 8]);
  assertEquals(perLayer("2468", 2), [2, 6]);
  assertEquals(perLayer("28", 6), [2, 2, 2, 8, 8, 8]);
  assertEquals(perLayer([3, 5, 7], 3), [3, 5, 7]);
  const cfg = methodConfig("mola", { experts: "2468" }) as MolaConfig;
  assertEquals([0, 1, 2, 3].map((l) => molaMethod.nExperts(cfg, l, 4)), [2, 4, 6, 8]);
});

Deno.test("MoLA defaults follow the official code: k = 2, r = 8, α = 16, all 7 projections, load balance off", () => {
  const cfg = methodConfig("mola") as MolaConfig;
  assertEquals([cfg.topK, cfg.rank, cfg.alpha, cfg.auxLossCoef, cfg.lbNorm, cfg.lbAggregate], [
    2,
    8,
    16,
    0,
    "tokens",
    "layer",
  ]);
  assertEquals(cfg.targets, ["q", "k", "v", "o", "gate", "up", "down"]);
});

Deno.test("where N_l = k MoLA routes densely over every expert of the layer", () => {
  const t = testSite("mola", { experts: [2], topK: 2 });
  const r = route(t);
  assertAllClose(vec(r.g), vec(r.p), 1e-7);
});

Deno.test("MoLA rejects topK above the smallest layer's expert count, and malformed patterns", () => {
  assertEquals(
    assertThrows(() => methodConfig("mola", { experts: "1357" }), ConfigError).message,
    "method.topK: topK (2) must be ≤ the smallest expert count (1); lower topK or change experts",
  );
  assertEquals(
    assertThrows(() => methodConfig("mola", { experts: "24a8" }), ConfigError).message,
    "method.experts: a pattern is digits 1–9, one expert count per layer group, e.g. 2468",
  );
});
