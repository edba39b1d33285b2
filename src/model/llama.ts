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
import { ropeTables } from "./rope.ts";

const PROJ_KIND: Record<Target, HfParamKind> = {
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

/** RMSNorm: x · rsqrt(mean(x²) + ε) · g. */
export function rmsNorm(x: tf.Tensor2D, gain: tf.Tensor, eps: number): tf.Tensor2D {
  return tf.tidy(() => x.mul(tf.rsqrt(x.square().mean(1, true).add(eps))).mul(gain) as tf.Tensor2D);
}

/** q·cos + rotate_half(q)·sin for x [B, S, heads, hd] with cos/sin [S, hd]. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [, S, , hd] = x.shape;
    const half = hd / 2;
    const x1 = x.slice([0, 0, 0, 0], [-1, -1, -1, half]);
    const x2 = x.slice([0, 0, 0, half], [-1, -1, -1, half]);
    const rotated = tf.concat([x2.neg(), x1], 3); // rotate_half(x) = (−x₂, x₁)
    const c = cos.slice([0, 0], [S, hd]).reshape([1, S, 1, hd]);
    const s = sin.slice([0, 0], [S, hd]).reshape([1, S, 1, hd]);
    return x.mul(c).add(rotated.mul(s)) as tf.Tensor4D;
  });
}

/** [B, kv, S, hd] → [B, H, S, hd], head h reading kv head ⌊h / (H/kv)⌋ (`repeat_kv`). */
function repeatKv(x: tf.Tensor4D, rep: number): tf.Tensor4D {
  if (rep === 1) return x;
  const [B, kv, S, hd] = x.shape;
  // at rank 4: tfjs has no gradient for rank-5 tile (which broadcastTo uses)
  return tf.broadcastTo(x.reshape([B, kv, 1, S * hd]), [B, kv, rep, S * hd]).reshape([B, kv * rep, S, hd]);
}

export class LlamaModel {
  readonly cfg: LlamaConfig;
  readonly blocks: Block[];
  readonly method: MethodConfig | null;
  private rope: { cos: tf.Tensor2D; sin: tf.Tensor2D; len: number } | null = null;
  private causal = new Map<number, tf.Tensor2D>();

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

  private ropeFor(S: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    if (!this.rope || this.rope.len < S) {
      if (this.rope) tf.dispose([this.rope.cos, this.rope.sin]);
      const len = Math.max(S, 64);
      const { cos, sin } = ropeTables(this.cfg, len);
      this.rope = {
        cos: tf.keep(tf.tensor2d(cos, [len, this.cfg.headDim])),
        sin: tf.keep(tf.tensor2d(sin, [len, this.cfg.headDim])),
        len,
      };
    }
    return this.rope;
  }

  /** [S, S] additive mask: 0 at or below the diagonal, −1e9 above. */
  private causalMask(S: number): tf.Tensor2D {
    let m = this.causal.get(S);
    if (!m) {
      const data = new Float32Array(S * S);
      for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) data[i * S + j] = -1e9;
      m = tf.keep(tf.tensor2d(data, [S, S]));
      this.causal.set(S, m);
    }
    return m;
  }

  private attention(b: Block, h: tf.Tensor2D, B: number, S: number, ctx: ForwardContext, gate: GateFn) {
    const { nHeads: H, nKvHeads: kv, headDim: hd } = this.cfg;
    const T = B * S;
    const { cos, sin } = this.ropeFor(S);
    const q = applyRope(b.proj.q.forward(h, ctx, gate("Q")).reshape([B, S, H, hd]), cos, sin); // [B, S, H, hd]
    const k = applyRope(b.proj.k.forward(h, ctx, gate("K")).reshape([B, S, kv, hd]), cos, sin); // [B, S, kv, hd]
    const v = b.proj.v.forward(h, ctx, gate("V")).reshape([B, S, kv, hd]);
    const qh = q.transpose([0, 2, 1, 3]); // [B, H, S, hd]
    const kh = repeatKv(k.transpose([0, 2, 1, 3]) as tf.Tensor4D, H / kv); // [B, H, S, hd]
    const vh = repeatKv(v.transpose([0, 2, 1, 3]) as tf.Tensor4D, H / kv);
    const scores = tf.matMul(qh, kh, false, true).mul(1 / Math.sqrt(hd)).add(this.causalMask(S)); // [B, H, S, S]
    let out = tf.matMul(tf.softmax(scores), vh).transpose([0, 2, 1, 3]).reshape([T, H * hd]) as tf.Tensor2D;
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
    let ffn = b.proj.down.forward(g.mul(tf.sigmoid(g)).mul(up) as tf.Tensor2D, ctx, gate("FFN_DOWN")); // silu(gate)⊙up
    if (b.moa?.padapter) ffn = ffn.add(b.moa.padapter.forward(h2, gate("PADAPTER"))) as tf.Tensor2D;
    return x1.add(ffn) as tf.Tensor2D;
  }

  /** Final hidden states [B·S, d] for token ids [B, S]. */
  hidden(ids: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    const [B, S] = ids.shape;
    let x = tf.gather(this.base.get(hfParamName("embed_tokens")), ids.reshape([B * S])) as tf.Tensor2D; // [T, d]
    for (const b of this.blocks) x = this.block(b, x, B, S, ctx);
    return rmsNorm(x, this.base.get(hfParamName("norm")), this.cfg.rmsNormEps);
  }

  /** Logits [B·S, V] for token ids [B, S]. */
  logits(ids: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    const head = this.base.get(hfParamName(this.cfg.tieEmbeddings ? "embed_tokens" : "lm_head"));
    return tf.matMul(this.hidden(ids, ctx), head, false, true) as tf.Tensor2D; // [T, V]
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
    if (this.rope) tf.dispose([this.rope.cos, this.rope.sin]);
    for (const m of this.causal.values()) m.dispose();
    this.causal.clear();
    this.rope = null;
  }
}

type GateFn = (type: MoaType) => tf.Tensor2D | null;

/**
 * Mean next-token cross-entropy over positions where `lossMask` [T] is 1:
 * Σ mask·(logsumexp(z) − z[target]) / Σ mask.
 */
export function lmLoss(logits: tf.Tensor2D, targets: tf.Tensor1D, lossMask: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const T = logits.shape[0];
    const picked = tf.gather(logits, targets.reshape([T, 1]), 1, 1).reshape([T]); // z[target]
    const nll = tf.logSumExp(logits, 1).sub(picked); // [T]
    return nll.mul(lossMask).sum().div(lossMask.sum().maximum(1)) as tf.Scalar;
  });
}
