/**
 * Adapter cost per token in multiply-add FLOPs (2 per MAC), dense (every expert / adapter type computed) and
 * routed (weighted by how often each is active — what a kernel that skips inactive experts would spend).
 * The base model's own FLOPs are the same for every method and left out.
 */
import type { SiteStats } from "../moe/stats.ts";
import type { LlamaModel } from "./llama.ts";

export interface AdapterFlops {
  dense: number;
  routed: number;
}

/** FLOPs per token of `model`'s adapters; `sites` (from evaluation) supplies each expert's load. */
export function adapterFlops(model: LlamaModel, sites: Record<string, SiteStats> | undefined): AdapterFlops {
  let dense = 0;
  let routed = 0;
  const cfg = model.cfg;
  for (const b of model.blocks) {
    const moaName = `model.layers.${b.index}.adapter_type_router`;
    const moaLoad = sites?.[moaName]?.load;
    for (const p of Object.values(b.proj)) {
      if (!p.bank) continue;
      const perExpert = 2 * p.bank.rank * (p.dIn + p.dOut);
      const router = p.router ? 2 * p.dIn * p.bank.nExperts : 0;
      dense += p.bank.nExperts * perExpert + router;
      const load = sites?.[p.name]?.load;
      const active = load ? load.reduce((a, v) => a + v, 0) : p.bank.nExperts;
      routed += active * perExpert + router;
    }
    if (b.moa) {
      const { router, column, prompt, padapter } = b.moa;
      const d = cfg.dModel;
      const typeFlops: Record<string, number> = {};
      for (const [type, c] of Object.entries(column)) {
        const site = Object.values(b.proj).find((p) => p.bank && moaTypeOf(p.name) === type);
        if (site?.bank) typeFlops[type] = 2 * site.bank.rank * (site.dIn + site.dOut);
        if (type === "PROMPT" && prompt) typeFlops[type] = 2 * 2 * cfg.nHeads * prompt.length * cfg.headDim;
        if (type === "PADAPTER" && padapter) typeFlops[type] = 2 * 2 * d * padapter.size;
        const f = typeFlops[type] ?? 0;
        dense += f;
        routed += f * (moaLoad ? moaLoad[c!] : 1);
      }
      const routerFlops = 2 * router.numParams();
      dense += routerFlops;
      routed += routerFlops;
    }
  }
  return { dense, routed };
}

const MOA_TYPE_OF: Record<string, string> = {
  q_proj: "Q",
  k_proj: "K",
  v_proj: "V",
  o_proj: "O",
  up_proj: "FFN_UP",
  gate_proj: "FFN_GATE",
  down_proj: "FFN_DOWN",
};

function moaTypeOf(siteName: string): string | undefined {
  return MOA_TYPE_OF[siteName.split(".").at(-1)!];
}
