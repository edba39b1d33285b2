import { ConfigError } from "../errors.ts";
import { assertEquals, assertThrows } from "../testing/asserts.ts";
import { METHOD_NAMES, methodConfig, parseMethodConfig } from "./registry.ts";

const message = (v: unknown) => assertThrows(() => parseMethodConfig(v), ConfigError).message;

Deno.test("every method is registered under its name", () => {
  assertEquals(METHOD_NAMES, ["lora", "topk", "threshold", "mola", "adamole", "dynmole", "moa-soft", "moa-sparse"]);
  for (const name of METHOD_NAMES) assertEquals(methodConfig(name).method, name);
});

Deno.test("bad method configurations fail with one line naming the field and the fix", () => {
  const cases: [unknown, string][] = [
    [
      { method: "mixtral" },
      "method.method: unknown method 'mixtral'; allowed: lora|topk|threshold|mola|adamole|dynmole|moa-soft|moa-sparse",
    ],
    [{}, "method.method: missing; allowed: lora|topk|threshold|mola|adamole|dynmole|moa-soft|moa-sparse"],
    [
      "topk",
      'method: expected an object like {"method": "topk"}; allowed methods: lora|topk|threshold|mola|adamole|dynmole|moa-soft|moa-sparse',
    ],
    [{ method: "topk", nExpert: 4 }, "method: unknown key 'nExpert'; remove or rename (unknown keys are rejected)"],
    [{ method: "topk", rank: 0 }, "method.rank: must be ≥ 1 (a LoRA needs at least rank 1)"],
    [{ method: "lora", rank: 2.5 }, "method.rank: Invalid input: expected int, received number"],
    [
      { method: "topk", nExperts: 4, topK: 5 },
      "method.topK: topK (5) must be ≤ nExperts (4); lower topK or add experts",
    ],
    [{ method: "dynmole", q: 0 }, "method.q: must be in (0, 2] (q ≤ 0 has no Tsallis entropy)"],
    [{ method: "adamole", maxThreshold: 1.5 }, "method.maxThreshold: must be in [0, 1]"],
    [{ method: "threshold", threshold: -0.1 }, "method.threshold: must be in [0, 1]"],
    [{ method: "lora", dropout: 1 }, "method.dropout: must be in [0, 1)"],
    [{ method: "lora", targets: ["q", "w_in"] }, "method.targets.1: must be one of q|k|v|o|gate|up|down"],
  ];
  for (const [value, want] of cases) assertEquals(message(value), want);
});

Deno.test("defaults come from methods.md: AdaMoLE's baselines for lora/topk/threshold/adamole", () => {
  const lora = methodConfig("lora") as { rank: number; alpha: number; dropout: number };
  assertEquals([lora.rank, lora.alpha, lora.dropout], [32, 16, 0.05]);
  const topk = methodConfig("topk") as { nExperts: number; topK: number; rank: number; auxLossCoef: number };
  assertEquals([topk.nExperts, topk.topK, topk.rank, topk.auxLossCoef], [8, 2, 4, 1e-3]);
  const ada = methodConfig("adamole") as { maxThreshold: number | null; auxLossCoef: number; lbProb: string };
  assertEquals([ada.maxThreshold, ada.auxLossCoef, ada.lbProb], [null, 1e-3, "adapted"]);
  const sparse = methodConfig("moa-sparse") as { maxThreshold: number; rank: number; alpha: number; swiX: number };
  assertEquals([sparse.maxThreshold, sparse.rank, sparse.alpha, sparse.swiX], [0.5, 8, 8, 4]);
});
