import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import { forwardContext } from "../moe/moe_linear.ts";
import { methodConfig, type MethodName } from "../routers/registry.ts";
import { assert, assertAllClose, assertEquals, assertNotEquals } from "../testing/asserts.ts";
import { refLlamaLogits } from "../testing/llama_reference.ts";
import { Rng } from "../testing/tensors.ts";
import { BaseWeights } from "./base.ts";
import { type LlamaConfig, parseLlamaConfig } from "./config.ts";
import { LlamaModel, lmLoss } from "./llama.ts";

await initBackend("cpu");

export const TINY: LlamaConfig = parseLlamaConfig({
  vocabSize: 23,
  dModel: 16,
  nLayers: 4,
  nHeads: 4,
  nKvHeads: 2,
  headDim: 4,
  dFF: 24,
  maxSeqLen: 32,
});

function tinyBase(seed = 1, std = 0.3): BaseWeights {
  return BaseWeights.random(TINY, new Rng(seed), std);
}

const ids = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0].length], "int32");

async function logitsOf(model: LlamaModel, batch: number[][]): Promise<number[]> {
  const t = tf.tidy(() => model.logits(ids(batch), forwardContext()));
  const out = Array.from(await t.data());
  t.dispose();
  return out;
}

/** Give every adapter a non-zero B (and prompt gate), so adapters change the output. */
function perturbAdapters(model: LlamaModel, seed = 9): void {
  const rng = new Rng(seed);
  for (const [name, v] of model.adapterParams()) {
    if (name.endsWith("lora_B") || name.endsWith("prompt_gate")) {
      v.assign(tf.tensor(rng.normalArray(v.size, 0.3), v.shape));
    }
  }
}

Deno.test("the base model's logits match a plain-loop Llama (RMSNorm, RoPE, GQA, causal attention, SwiGLU)", async () => {
  const base = tinyBase();
  const model = new LlamaModel(base, null, new Rng(2));
  const batch = [[1, 5, 7, 2, 9, 11], [3, 3, 0, 22, 4, 6]];
  const got = await logitsOf(model, batch);
  const host = await base.toHost();
  const want = batch.flatMap((row) => refLlamaLogits(TINY, host, row).flat());
  assertAllClose(got, want, 1e-4, 1e-4);
  model.dispose();
  base.dispose();
});

Deno.test("attention is causal: changing a later token leaves earlier positions' logits unchanged", async () => {
  const base = tinyBase();
  const model = new LlamaModel(base, null, new Rng(2));
  const a = await logitsOf(model, [[1, 2, 3, 4, 5]]);
  const b = await logitsOf(model, [[1, 2, 3, 4, 17]]);
  const V = TINY.vocabSize;
  assertEquals(a.slice(0, 4 * V), b.slice(0, 4 * V));
  assertNotEquals(a.slice(4 * V), b.slice(4 * V));
  model.dispose();
  base.dispose();
});

const SITE_METHODS: MethodName[] = ["lora", "topk", "threshold", "mola", "adamole", "dynmole"];

for (const m of SITE_METHODS) {
  Deno.test(`${m}: fresh adapters leave the base's logits unchanged exactly; trained ones change them`, async () => {
    const base = tinyBase();
    const plain = new LlamaModel(base, null, new Rng(2));
    const adapted = new LlamaModel(
      base,
      methodConfig(m, { dropout: 0, ...(m === "mola" ? { experts: "2468" } : {}) }),
      new Rng(3),
    );
    const batch = [[1, 5, 7, 2, 9]];
    assertEquals(await logitsOf(adapted, batch), await logitsOf(plain, batch));
    perturbAdapters(adapted);
    assertNotEquals(await logitsOf(adapted, batch), await logitsOf(plain, batch));
    adapted.dispose();
    plain.dispose();
    base.dispose();
  });
}

/** Trainable parameters by hand: N·r·(d_in + d_out) LoRA + N·d_in router (+ d_in + 1 AdaMoLE threshold). */
function siteParams(m: MethodName, dIn: number, dOut: number, n: number, r: number): number {
  const lora = n * r * (dIn + dOut);
  if (m === "lora") return lora;
  const router = n * dIn;
  return lora + router + (m === "adamole" ? dIn + 1 : 0);
}

const SHAPES: Record<string, [number, number]> = {
  q: [16, 16],
  k: [16, 8],
  v: [16, 8],
  o: [16, 16],
  gate: [16, 24],
  up: [16, 24],
  down: [24, 16],
};

Deno.test("the number of trainable parameters matches the hand formula for every site method", () => {
  const base = tinyBase();
  const cases: [MethodName, Record<string, unknown>, (layer: number) => number][] = [
    ["lora", { rank: 4 }, () => 1],
    ["topk", { nExperts: 4, rank: 2 }, () => 4],
    ["threshold", { nExperts: 3, rank: 2 }, () => 3],
    ["mola", { experts: "2468", rank: 2, targets: ["q", "v", "down"] }, (l) => [2, 4, 6, 8][l]],
    ["adamole", { nExperts: 4, rank: 3 }, () => 4],
    ["dynmole", { nExperts: 6, rank: 2 }, () => 6],
  ];
  for (const [m, overrides, experts] of cases) {
    const cfg = methodConfig(m, overrides) as { rank: number; targets: string[] };
    const model = new LlamaModel(base, cfg as never, new Rng(4));
    let want = 0;
    for (let l = 0; l < TINY.nLayers; l++) {
      for (const t of cfg.targets) want += siteParams(m, SHAPES[t][0], SHAPES[t][1], experts(l), cfg.rank);
    }
    assertEquals(model.numTrainable(), want, m);
    model.dispose();
  }
  base.dispose();
});

/** MoA per block by hand (methods.md §7.4): LoRA r·(d_in + d_out) per type, prompt L·d + heads, parallel adapter
 * 2·d·m + m + d, SwiGLU router 2(d·h + h) + n·h + n with h = n·swi_x, sparse threshold d + 1. */
function moaBlockParams(o: {
  d: number;
  heads: number;
  kvDim: number;
  ffn: number;
  r: number;
  types: string[];
  L: number;
  m: number;
  swiX: number;
  sparse: boolean;
}): number {
  const io: Record<string, [number, number]> = {
    Q: [o.d, o.d],
    K: [o.d, o.kvDim],
    V: [o.d, o.kvDim],
    O: [o.d, o.d],
    FFN_UP: [o.d, o.ffn],
    FFN_GATE: [o.d, o.ffn],
    FFN_DOWN: [o.ffn, o.d],
  };
  let n = 0;
  for (const t of o.types) {
    if (io[t]) n += o.r * (io[t][0] + io[t][1]);
    if (t === "PROMPT") n += o.L * o.d + o.heads;
    if (t === "PADAPTER") n += 2 * o.d * o.m + o.m + o.d;
  }
  const k = o.types.length;
  const h = k * o.swiX;
  n += o.swiX > 0 ? 2 * (o.d * h + h) + k * h + k : o.d * k + k;
  return n + (o.sparse ? o.d + 1 : 0);
}

Deno.test("the MoA hand formula reproduces methods.md §7.4's LLaMA-3.1-8B counts", () => {
  const llama31 = { d: 4096, heads: 32, kvDim: 1024, ffn: 14336, r: 8, L: 10, m: 16, swiX: 4 };
  const soft = ["Q", "K", "V", "PROMPT", "O", "FFN_DOWN", "PADAPTER"];
  assertEquals(moaBlockParams({ ...llama31, types: soft, sparse: false }), 766_259);
  const sparse = ["Q", "K", "V", "O", "FFN_UP", "FFN_DOWN", "PADAPTER"];
  assertEquals(moaBlockParams({ ...llama31, types: sparse, sparse: true }), 876_820);
  const transformers = ["Q", "K", "V", "O", "FFN_DOWN", "PADAPTER"];
  assertEquals(moaBlockParams({ ...llama31, types: transformers, sparse: true }), 696_535);
});

Deno.test("MoA models have exactly the hand-counted trainable parameters", () => {
  const base = tinyBase();
  const tiny = { d: 16, heads: 4, kvDim: 8, ffn: 24, r: 2, L: 3, m: 4, swiX: 2 };
  for (const method of ["moa-soft", "moa-sparse"] as const) {
    const cfg = methodConfig(method, { rank: 2, promptLen: 3, adapterSize: 4, swiX: 2 }) as { types: string };
    const model = new LlamaModel(base, cfg as never, new Rng(5));
    const types = method === "moa-soft"
      ? ["Q", "K", "V", "PROMPT", "O", "FFN_DOWN", "PADAPTER"]
      : ["Q", "K", "V", "O", "FFN_UP", "FFN_DOWN", "PADAPTER"];
    const perBlock = moaBlockParams({ ...tiny, types, sparse: method === "moa-sparse" });
    assertEquals(model.numTrainable(), perBlock * TINY.nLayers, method);
    model.dispose();
  }
  base.dispose();
});

Deno.test("sparse MoA where no adapter type passes (τ = τ_max = 1) gives exactly the frozen model", async () => {
  const base = tinyBase();
  const plain = new LlamaModel(base, null, new Rng(2));
  const cfg = methodConfig("moa-sparse", { types: "soft-readme", maxThreshold: 1, constThreshold: true });
  const model = new LlamaModel(base, cfg, new Rng(6));
  perturbAdapters(model);
  const batch = [[1, 5, 7, 2, 9]];
  assertEquals(await logitsOf(model, batch), await logitsOf(plain, batch));
  model.dispose();
  plain.dispose();
  base.dispose();
});

Deno.test("sparse MoA with τ_max = 0 equals soft MoA on the same adapters", async () => {
  const base = tinyBase();
  const soft = new LlamaModel(base, methodConfig("moa-soft", { types: "sparse-readme" }), new Rng(7));
  const sparse = new LlamaModel(
    base,
    methodConfig("moa-sparse", { maxThreshold: 0, constThreshold: true }),
    new Rng(7),
  );
  perturbAdapters(soft);
  perturbAdapters(sparse);
  const batch = [[4, 8, 15, 16, 23 % 23, 2]];
  assertAllClose(await logitsOf(sparse, batch), await logitsOf(soft, batch), 1e-6);
  soft.dispose();
  sparse.dispose();
  base.dispose();
});

Deno.test("the MoA prompt expert starts silent (zero gate) and changes the output once its gate opens", async () => {
  const base = tinyBase();
  const plain = new LlamaModel(base, null, new Rng(2));
  const model = new LlamaModel(base, methodConfig("moa-soft", { types: ["PROMPT"] }), new Rng(8));
  const batch = [[1, 2, 3, 4]];
  assertEquals(await logitsOf(model, batch), await logitsOf(plain, batch));
  const gate = [...model.adapterParams()].find(([n]) => n.endsWith("prompt_gate"))![1];
  gate.assign(tf.fill(gate.shape, 0.5));
  assertNotEquals(await logitsOf(model, batch), await logitsOf(plain, batch));
  model.dispose();
  plain.dispose();
  base.dispose();
});

for (const m of [...SITE_METHODS, "moa-soft", "moa-sparse"] as MethodName[]) {
  Deno.test(`${m}: gradients reach only adapter and router parameters, never the frozen base`, () => {
    const base = tinyBase();
    const model = new LlamaModel(base, methodConfig(m), new Rng(10));
    perturbAdapters(model);
    const { value, grads } = tf.variableGrads(() => {
      const ctx = forwardContext({ training: true, seed: 1 });
      const logits = model.logits(ids([[1, 2, 3, 4, 5, 6]]), ctx);
      const loss = lmLoss(logits, tf.tensor1d([2, 3, 4, 5, 6, 7], "int32"), tf.ones([6]));
      const aux = model.auxLoss(ctx);
      return (aux ? loss.add(aux.total) : loss) as tf.Scalar;
    });
    const adapterNames = new Set([...model.adapterParams().values()].map((v) => v.name));
    assert(Object.keys(grads).length > 0);
    for (const name of Object.keys(grads)) assert(adapterNames.has(name), `${name} is an adapter/router parameter`);
    for (const v of base.tensors.values()) assert(!(v.name in grads), `base ${v.name} got a gradient`);
    tf.dispose([value, ...Object.values(grads)]);
    model.dispose();
    base.dispose();
  });
}

Deno.test("lmLoss is the mean next-token cross-entropy over masked positions", () => {
  const logits = tf.tensor2d([[2, 0, 0], [0, 1, 0], [5, 5, 5]]);
  const targets = tf.tensor1d([0, 2, 1], "int32");
  const mask = tf.tensor1d([1, 1, 0]);
  const ce0 = Math.log(Math.exp(2) + 2) - 2;
  const ce1 = Math.log(2 + Math.E) - 0;
  assertAllClose(Array.from(lmLoss(logits, targets, mask).dataSync()), [(ce0 + ce1) / 2], 1e-6);
});
