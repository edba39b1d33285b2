/**
 * A Llama-style decoder in tfjs, with MoE-LoRA adapters injected. One block, top to bottom:
 *
 *   h  = RMSNorm(x)                                   [T, d]   (T = B·S tokens)
 *   q,k,v = Wq h, Wk h, Wv h  (+ routed LoRA experts)  [T, H·hd], [T, kv·hd]
 *   q,k = RoPE(q), RoPE(k);  k,v repeated to H heads    (grouped-query attention)
 *   a  = softmax(q kᵀ/√hd + causal) v  (+ MoA prompt expert)
 *   x  = x + Wo a (+ experts)
 *   h  = RMSNorm(x);  x = x + W_down(silu(W_gate h) ⊙ W_up h) (+ experts, + MoA parallel adapter)
 *
 * Every projection is a `MoeLinear` (a plain frozen linear where not targeted). Site methods put a router
 * and N experts on each targeted projection (MoLA: N per layer); MoA puts one LoRA per type and one
 * router per block whose sigmoid weights gate the types (methods.md §7.1).
 */
import * as tf from "@tensorflow/tfjs";
import { LoraBank, type Target, TARGETS } from "../adapters/lora.ts";
import { ParallelAdapter } from "../adapters/parallel.ts";
import { PromptExpert } from "../adapters/prompt.ts";
import { type ForwardContext, MoeLinear } from "../moe/moe_linear.ts";
import { createSite } from "../moe/site.ts";
import type { SiteMethod } from "../routers/method.ts";
import { MOA_LORA_TARGET, type MoaConfig, MoaRouter, type MoaType, resolveTypes } from "../routers/moa.ts";
import { isBlockMethod, type MethodConfig, METHODS, type SiteMethodConfig } from "../routers/registry.ts";
import type { AuxLoss, Routing } from "../routers/types.ts";
import type { Rng } from "../util/rng.ts";
import type { BaseWeights } from "./base.ts";
import type { LlamaConfig } from "./config.ts";
import { type HfParamKind, hfParamName } from "./hf_config.ts";
import { applyRope, causalSoftmax, crossEntropy, rmsNorm, type RopeTables, swiGlu } from "./fused.ts";
import { ropeTables } from "./rope.ts";

/** The Hugging Face module each adapter target names (`q` → `q_proj`, …). */
export const PROJ_KIND: Record<Target, HfParamKind> = {
  q: "q_proj",
  k: "k_proj",
  v: "v_proj",
  o: "o_proj",
  gate: "gate_proj",
  up: "up_proj",
  down: "down_proj",
};

/** MoA's per-block pieces. */
interface MoaBlock {
  router: MoaRouter;
  /** Router column of each present type. */
  column: Partial<Record<MoaType, number>>;
  prompt: PromptExpert | null;
  padapter: ParallelAdapter | null;
  routerInput: "prenorm" | "normed";
}

interface Block {
  index: number;
  attnNorm: tf.Variable;
  mlpNorm: tf.Variable;
  proj: Record<Target, MoeLinear>;
  moa: MoaBlock | null;
}

/** RoPE tables for B sequences of S positions and `heads` heads of width hd. */
export function ropeLayout(cfg: LlamaConfig, B: number, S: number, heads: number): RopeTables {
  const hd = cfg.headDim;
  const half = hd / 2;
  const { cos, sin } = ropeTables(cfg, S); // [S, hd]
  const D = heads * hd;
  const c = new Float32Array(B * S * D);
  const s = new Float32Array(B * S * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < S; t++) {
      for (let h = 0; h < heads; h++) {
        const at = (b * S + t) * D + h * hd;
        c.set(cos.subarray(t * hd, (t + 1) * hd), at);
        s.set(sin.subarray(t * hd, (t + 1) * hd), at);
      }
    }
  }
  const r = new Float32Array(D * D); // y_j = Σ_i x_i R_ij
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const lo = h * hd + i;
      const hi = lo + half;
      r[hi * D + lo] = -1; // y_lo = −x_hi
      r[lo * D + hi] = 1; // y_hi = x_lo
    }
  }
  return {
    cos: tf.tensor2d(c, [B * S, D]),
    sin: tf.tensor2d(s, [B * S, D]),
    rotate: tf.tensor2d(r, [D, D]),
  };
}

/**
 * Rows `ids` of x [n, d] with a matmul gradient: dx = onehot(ids)ᵀ · dy. tfjs's own gather gradient
 * (UnsortedSegmentSum) is O(n·|ids|·d) in pure JS on cpu and missing on wasm.
 */
export function gatherRows(x: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const n = x.shape[0];
  const f = tf.customGrad((...args: (tf.Tensor | unknown)[]) => {
    const [e, i, save] = args as [tf.Tensor2D, tf.Tensor1D, (ts: tf.Tensor[]) => void];
    save([i]); // kept for the backward pass (the caller's tidy may have disposed its own copy by then)
    return {
      value: tf.gather(e, i),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [
        tf.matMul(tf.oneHot(saved[0] as tf.Tensor1D, n), dy as tf.Tensor2D, true, false),
        tf.zerosLike(saved[0]),
      ],
    };
  });
  return f(x, ids) as tf.Tensor2D;
}

/**
 * Embedding lookup: rows of E for `ids`, with `gatherRows`' matmul gradient while E is trainable (only while
 * the small embedded base is pretrained).
 */
export function embed(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (!(table as tf.Variable).trainable) return tf.gather(table, ids) as tf.Tensor2D;
  return gatherRows(table, ids);
}

export class LlamaModel {
  readonly cfg: LlamaConfig;
  readonly blocks: Block[];
  readonly method: MethodConfig | null;
  /** Per (B, S): RoPE tables for queries and keys, and the causal mask; kept across calls. */
  private layouts = new Map<string, { q: RopeTables; k: RopeTables; causal: tf.Tensor3D }>();

  /** The base with adapters for `method` (null: the bare base, e.g. for pretraining). */
  constructor(readonly base: BaseWeights, method: MethodConfig | null, rng: Rng) {
    this.cfg = base.cfg;
    this.method = method;
    this.blocks = Array.from({ length: this.cfg.nLayers }, (_, i) => this.buildBlock(i, rng.fork(`layer${i}`)));
  }

  private buildBlock(i: number, rng: Rng): Block {
    const { cfg, method } = this;
    const w = (k: HfParamKind) => this.base.get(hfParamName(k, i));
    const site = (t: Target) => ({
      name: `model.layers.${i}.${t === "q" || t === "k" || t === "v" || t === "o" ? "self_attn" : "mlp"}.${
        PROJ_KIND[t]
      }`,
      layer: i,
      nLayers: cfg.nLayers,
      target: t,
      dIn: w(PROJ_KIND[t]).shape[1] as number,
      dOut: w(PROJ_KIND[t]).shape[0],
    });
    const plain = (t: Target) => new MoeLinear(site(t).name, w(PROJ_KIND[t]) as tf.Tensor2D, null, null, null, 0);
    const proj = {} as Record<Target, MoeLinear>;
    let moa: MoaBlock | null = null;
    if (method && !isBlockMethod(method)) {
      const targets = new Set(method.targets);
      for (const t of TARGETS) {
        proj[t] = targets.has(t)
          ? createSite(method as SiteMethodConfig, site(t), { weight: w(PROJ_KIND[t]) as tf.Tensor2D }, rng)
          : plain(t);
      }
    } else if (method) {
      const m = method as MoaConfig;
      const types = resolveTypes(m.types);
      for (const t of TARGETS) proj[t] = plain(t);
      for (const type of types) {
        const t = MOA_LORA_TARGET[type as keyof typeof MOA_LORA_TARGET] as Target | undefined;
        if (!t) continue;
        const s = site(t);
        const bank = new LoraBank(s.name, { rank: m.rank, alpha: m.alpha, dropout: 0 }, s.dIn, s.dOut, 1, rng.fork(t));
        proj[t] = new MoeLinear(s.name, w(PROJ_KIND[t]) as tf.Tensor2D, null, bank, null, 0);
      }
      moa = {
        router: new MoaRouter(`model.layers.${i}.adapter_type_router`, cfg.dModel, types, m, rng.fork("router")),
        column: Object.fromEntries(types.map((t, c) => [t, c])),
        prompt: types.includes("PROMPT")
          ? new PromptExpert(`model.layers.${i}.self_attn`, cfg.dModel, m.promptLen, cfg.nHeads, rng.fork("prompt"))
          : null,
        padapter: types.includes("PADAPTER")
          ? new ParallelAdapter(`model.layers.${i}.p_adapter`, cfg.dModel, m.adapterSize, rng.fork("padapter"))
          : null,
        routerInput: m.routerInput,
      };
    } else {
      for (const t of TARGETS) proj[t] = plain(t);
    }
    return { index: i, attnNorm: w("input_layernorm"), mlpNorm: w("post_attention_layernorm"), proj, moa };
  }

  /**
   * RoPE tables, and the additive causal mask [B·kv, rep·S, S] of grouped attention (row i is query position
   * i mod S: 0 at or below it, −1e9 above), for (B, S).
   */
  private layout(B: number, S: number) {
    const key = `${B}x${S}`;
    let l = this.layouts.get(key);
    if (!l) {
      const { nHeads: H, nKvHeads: kv } = this.cfg;
      const rows = (H / kv) * S;
      const mask = new Float32Array(B * kv * rows * S);
      for (let g = 0; g < B * kv; g++) {
        for (let i = 0; i < rows; i++) {
          const at = (g * rows + i) * S;
          mask.fill(-1e9, at + (i % S) + 1, at + S);
        }
      }
      const made = {
        q: ropeLayout(this.cfg, B, S, H),
        k: ropeLayout(this.cfg, B, S, kv),
        causal: tf.tensor3d(mask, [B * kv, rows, S]),
      };
      for (const t of [made.q.cos, made.q.sin, made.q.rotate, made.k.cos, made.k.sin, made.k.rotate, made.causal]) {
        tf.keep(t);
      }
      this.layouts.set(key, made);
      l = made;
    }
    return l;
  }

  private attention(b: Block, h: tf.Tensor2D, B: number, S: number, ctx: ForwardContext, gate: GateFn) {
    const { nHeads: H, nKvHeads: kv, headDim: hd } = this.cfg;
    const T = B * S;
    const l = this.layout(B, S);
    const q = applyRope(b.proj.q.forward(h, ctx, gate("Q")), l.q, hd); // [T, H·hd]
    const k = applyRope(b.proj.k.forward(h, ctx, gate("K")), l.k, hd); // [T, kv·hd]
    const v = b.proj.v.forward(h, ctx, gate("V")); // [T, kv·hd]
    // Grouped-query attention without repeating k/v: the rep = H/kv query heads that share a kv head are
    // stacked along the sequence axis, [B·kv, rep·S, hd], against that head's keys [B·kv, S, hd].
    const heads = (x: tf.Tensor2D, n: number) => x.reshape([B, S, n, hd]).transpose([0, 2, 1, 3]); // [B, n, S, hd]
    const qg = heads(q, H).reshape([B * kv, (H / kv) * S, hd]);
    const kg = heads(k, kv).reshape([B * kv, S, hd]);
    const vg = heads(v, kv).reshape([B * kv, S, hd]);
    const scores = tf.matMul(qg, kg, false, true) as tf.Tensor3D; // [B·kv, rep·S, S]
    const ctxv = tf.matMul(causalSoftmax(scores, 1 / Math.sqrt(hd), l.causal), vg); // [B·kv, rep·S, hd]
    let out = ctxv.reshape([B, H, S, hd]).transpose([0, 2, 1, 3]).reshape([T, H * hd]) as tf.Tensor2D;
    if (b.moa?.prompt) {
      const wk = this.base.get(hfParamName("k_proj", b.index)) as tf.Tensor2D;
      const wv = this.base.get(hfParamName("v_proj", b.index)) as tf.Tensor2D;
      out = out.add(b.moa.prompt.forward(q.reshape([T, H, hd]), wk, wv, kv, gate("PROMPT"))) as tf.Tensor2D;
    }
    return b.proj.o.forward(out, ctx, gate("O")); // [T, d]
  }

  private block(b: Block, x: tf.Tensor2D, B: number, S: number, ctx: ForwardContext): tf.Tensor2D {
    const eps = this.cfg.rmsNormEps;
    const h = rmsNorm(x, b.attnNorm, eps);
    let routing: Routing | null = null;
    if (b.moa) {
      routing = b.moa.router.route(b.moa.routerInput === "prenorm" ? x : h, ctx);
      if (ctx.routings) {
        for (const t of [routing.g, routing.p, routing.active, routing.threshold]) if (t) tf.keep(t);
        ctx.routings.set(`model.layers.${b.index}.adapter_type_router`, routing);
      }
    }
    const T = x.shape[0];
    const gate: GateFn = (type) => {
      const c = b.moa?.column[type];
      return routing && c !== undefined ? routing.g.slice([0, c], [T, 1]) as tf.Tensor2D : null;
    };
    const x1 = x.add(this.attention(b, h, B, S, ctx, gate)) as tf.Tensor2D;
    const h2 = rmsNorm(x1, b.mlpNorm, eps);
    const up = b.proj.up.forward(h2, ctx, gate("FFN_UP"));
    const g = b.proj.gate.forward(h2, ctx, gate("FFN_GATE"));
    let ffn = b.proj.down.forward(swiGlu(g, up), ctx, gate("FFN_DOWN")); // silu(gate)⊙up
    if (b.moa?.padapter) ffn = ffn.add(b.moa.padapter.forward(h2, gate("PADAPTER"))) as tf.Tensor2D;
    return x1.add(ffn) as tf.Tensor2D;
  }

  /** Final hidden states [B·S, d] for token ids [B, S]. */
  hidden(ids: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    const [B, S] = ids.shape;
    let x = embed(this.base.get(hfParamName("embed_tokens")) as tf.Tensor2D, ids.reshape([B * S])); // [T, d]
    for (const b of this.blocks) x = this.block(b, x, B, S, ctx);
    return rmsNorm(x, this.base.get(hfParamName("norm")), this.cfg.rmsNormEps);
  }

  /** Logits [B·S, V] for token ids [B, S]. */
  logits(ids: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    return this.head(this.hidden(ids, ctx)); // [T, V]
  }

  /** The LM head: logits [n, V] of final hidden states h [n, d] (only the rows that need them). */
  head(h: tf.Tensor2D): tf.Tensor2D {
    const w = this.base.get(hfParamName(this.cfg.tieEmbeddings ? "embed_tokens" : "lm_head"));
    return tf.matMul(h, w, false, true) as tf.Tensor2D;
  }

  /** The method's aux loss over the sites this forward visited (null: none). */
  auxLoss(ctx: ForwardContext): AuxLoss | null {
    if (!this.method || isBlockMethod(this.method)) return null;
    return (METHODS[this.method.method] as SiteMethod).auxLoss(this.method, ctx.aux);
  }

  /** Adapter and router parameters under PEFT-style names (`base_model.model.` + module path). */
  adapterParams(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    const add = (prefix: string, params: Record<string, tf.Variable>) => {
      for (const [k, v] of Object.entries(params)) out.set(`base_model.model.${prefix}.${k}`, v);
    };
    for (const b of this.blocks) {
      for (const t of TARGETS) {
        const p = b.proj[t];
        if (p.bank) add(p.name, p.bank.params);
        if (p.router) add(`${p.name}.lora_router`, p.router.params);
      }
      if (b.moa) {
        add(`model.layers.${b.index}.adapter_type_router`, b.moa.router.params);
        if (b.moa.prompt) add(`model.layers.${b.index}.self_attn`, b.moa.prompt.params);
        if (b.moa.padapter) add(`model.layers.${b.index}.p_adapter`, b.moa.padapter.params);
      }
    }
    return out;
  }

  /** What training updates, by stable name: the adapters, or the base's tensors while the base is trainable. */
  trainableParams(): Map<string, tf.Variable> {
    return this.base.trainable ? new Map(this.base.tensors) : this.adapterParams();
  }

  trainableVariables(): tf.Variable[] {
    return [...this.trainableParams().values()];
  }

  /** Number of trainable scalars. */
  numTrainable(): number {
    return this.trainableVariables().reduce((n, v) => n + v.size, 0);
  }

  /** Dispose the adapters and cached constants (the base belongs to its owner). */
  dispose(): void {
    tf.dispose([...this.adapterParams().values()]);
    for (const l of this.layouts.values()) {
      tf.dispose([l.q.cos, l.q.sin, l.q.rotate, l.k.cos, l.k.sin, l.k.rotate, l.causal]);
    }
    this.layouts.clear();
  }
}

type GateFn = (type: MoaType) => tf.Tensor2D | null;

/** Mean next-token cross-entropy over positions where `lossMask` [T] is 1 (`crossEntropy` in fused.ts). */
export const lmLoss = crossEntropy;
