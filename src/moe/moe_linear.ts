/**
 * The MoE-LoRA module: a frozen base linear layer plus routed LoRA experts,
 *   y = W0·x (+ b0) + Σ_e g_e(x) · E_e(x)
 * where the experts are one stacked `LoraBank` and g comes from the site's router (topk, threshold, mola,
 * adamole, dynmole), from a block router's column (MoA), or is 1 for plain LoRA.
 */
import * as tf from "@tensorflow/tfjs";
import type { LoraBank } from "../adapters/lora.ts";
import type { Router, Routing, SiteAux } from "../routers/types.ts";
import { hash32 } from "../util/rng.ts";

/** What one forward pass carries through every site. */
export interface ForwardContext {
  training: boolean;
  /** [T] 1 for real tokens, 0 for padding; null when all are real. */
  mask: tf.Tensor1D | null;
  /** Seed of this pass's dropout masks (each site mixes in its name); null disables dropout. */
  seed: number | null;
  /** Aux-loss terms of every routed site, appended in order (training only). */
  aux: SiteAux[];
  /** When present, every site's routing is stored by site name and kept past `tf.tidy`: dispose it. */
  routings?: Map<string, Routing>;
}

/** A fresh context: evaluation by default. */
export function forwardContext(opts: Partial<ForwardContext> = {}): ForwardContext {
  return { training: false, mask: null, seed: null, aux: [], ...opts };
}

/** Keep a routing's tensors alive past the enclosing tidy (for diagnostics and aux terms). */
function keepRouting(r: Routing): void {
  for (const t of [r.g, r.p, r.active, r.threshold, r.entropy]) if (t) tf.keep(t);
}

export class MoeLinear {
  constructor(
    readonly name: string,
    /** Frozen [d_out, d_in] (PyTorch orientation). */
    readonly weight: tf.Tensor2D,
    readonly bias: tf.Tensor1D | null,
    readonly bank: LoraBank | null,
    readonly router: Router | null,
    readonly dropout: number,
  ) {}

  get dIn(): number {
    return this.weight.shape[1];
  }

  get dOut(): number {
    return this.weight.shape[0];
  }

  /** x [T, d_in] → [T, d_out]. `gate` [T, 1] scales the adapter (MoA's type weight) when there is no router. */
  forward(x: tf.Tensor2D, ctx: ForwardContext, gate: tf.Tensor2D | null = null): tf.Tensor2D {
    let y = tf.matMul(x, this.weight, false, true) as tf.Tensor2D; // W0·x, [T, d_out]
    if (this.bias) y = y.add(this.bias);
    if (!this.bank) return y;
    let g = gate;
    if (this.router) {
      const routing = this.router.route(x, ctx);
      g = routing.g;
      if (routing.aux) ctx.aux.push(routing.aux);
      if (ctx.routings) {
        keepRouting(routing);
        ctx.routings.set(this.name, routing);
      }
    }
    const dropout = ctx.seed !== null && this.dropout > 0
      ? { rate: this.dropout, seed: hash32(`${ctx.seed}:${this.name}`) }
      : null;
    return y.add(this.bank.delta(x, g, dropout)) as tf.Tensor2D;
  }
}
