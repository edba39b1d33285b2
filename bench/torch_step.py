"""PyTorch reference of a whole training step (bench/step.ts): the embedded-default Llama (RMSNorm, RoPE,
grouped-query causal attention, SwiGLU, tied or separate LM head) with a random frozen base, the method's adapters on
all seven projections, next-token cross-entropy + the method's aux losses, backward, clip_grad_norm_(1.0) and
torch.optim.AdamW — what a PyTorch user writes in eager mode, on the same shapes and batches as ours.

Site methods put one router and N stacked experts on every projection (the routing rules and aux losses are
torch_reference.py's); MoA puts one rank-r LoRA per projection type and one SwiGLU type router per block on the
pre-norm input, whose sigmoid weights gate the types. Attention is written out (q kᵀ/√hd + causal mask,
softmax, · v) as Hugging Face's eager Llama attention does: torch 1.13 has no scaled_dot_product_attention.

Request (one JSON line, via torch_reference.py --serve): {"steps": {"model": {vocabSize, dModel, nLayers, nHeads,
nKvHeads, headDim, dFF, ropeTheta, rmsNormEps}, "batch", "seqLen", "methods": [{"id", "method", "nExperts",
"rank", "alpha", "topK"}], "plan": {"warmup", "reps"}}}. Each method's model and optimiser live as long as the
process, so the bench can ask for a few steps after each of its own rounds.
Answer: {"results": [{"id", "samples" (ms per step), "trainable", "loss0"}]}.
"""
import json
import math
import time

import torch
import torch.nn.functional as F

from torch_reference import ROUTERS, lora_delta

PROJ = ["q", "k", "v", "o", "gate", "up", "down"]
MOA_TYPE_OF = {"q": 0, "k": 1, "v": 2, "o": 3, "up": 4, "gate": 5, "down": 6}  # MOA_TYPES order
MOA_SWI_X = 4


def proj_shape(name, m):
    d, hd, ff = m["dModel"], m["headDim"], m["dFF"]
    return {
        "q": (m["nHeads"] * hd, d),
        "k": (m["nKvHeads"] * hd, d),
        "v": (m["nKvHeads"] * hd, d),
        "o": (d, m["nHeads"] * hd),
        "gate": (ff, d),
        "up": (ff, d),
        "down": (d, ff),
    }[name]


def kaiming(shape, fan_in, gen):
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(*shape, generator=gen) * 2 - 1) * bound


class StepModel:
    def __init__(self, m, spec, gen):
        self.m, self.spec = m, spec
        d, V = m["dModel"], m["vocabSize"]
        std = 0.02
        self.embed = torch.randn(V, d, generator=gen) * std
        self.layers = []
        self.params = []
        method = spec["method"]
        for _ in range(m["nLayers"]):
            L = {"attn_norm": torch.ones(d), "mlp_norm": torch.ones(d), "W": {}, "site": {}}
            for p in PROJ:
                L["W"][p] = torch.randn(*proj_shape(p, m), generator=gen) * std
                L["site"][p] = self.adapter(p, method, gen)
            if method.startswith("moa"):
                n, h = len(PROJ), len(PROJ) * MOA_SWI_X
                L["router"] = self.trainable({
                    "w1": kaiming((h, d), d, gen), "b1": torch.zeros(h),
                    "w3": kaiming((h, d), d, gen), "b3": torch.zeros(h),
                    "w2": kaiming((n, h), h, gen), "b2": torch.zeros(n),
                    **({"tau_w": kaiming((1, d), d, gen), "tau_b": torch.zeros(1)} if method == "moa-sparse" else {}),
                })
            self.layers.append(L)
        self.norm = torch.ones(d)
        self.lm_head = self.embed if m.get("tieEmbeddings", True) else torch.randn(V, d, generator=gen) * std
        hd = m["headDim"]
        inv = 1.0 / (m["ropeTheta"] ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.outer(torch.arange(spec["seqLen"]).float(), inv)
        emb = torch.cat([ang, ang], dim=1)
        self.cos, self.sin = emb.cos(), emb.sin()  # [S, hd]

    def trainable(self, tensors):
        for t in tensors.values():
            t.requires_grad_(True)
            self.params.append(t)
        return tensors

    def adapter(self, p, method, gen):
        out_dim, in_dim = proj_shape(p, self.m)
        s = self.spec
        n = 1 if method in ("lora", "moa-soft", "moa-sparse") else s["nExperts"]
        r = s["rank"]
        P = self.trainable({"A": kaiming((n, r, in_dim), in_dim, gen), "Bt": torch.randn(n, r, out_dim, generator=gen) * 0.02})
        if method not in ("lora", "moa-soft", "moa-sparse"):
            self.trainable_router(P, in_dim, n, method, gen)
        P["scale"] = s["alpha"] / r
        return P

    def trainable_router(self, P, d, n, method, gen):
        extra = {"Wg": kaiming((n, d), d, gen)}
        if method == "adamole":
            extra.update({"tau_w": kaiming((1, d), d, gen), "tau_b": torch.zeros(1)})
        P.update(self.trainable(extra))

    def linear(self, L, p, x, aux, gates):
        P = L["site"][p]
        y = x @ L["W"][p].t()
        method = self.spec["method"]
        if method == "lora":
            return y + lora_delta(x, P["A"], P["Bt"], P["scale"], None)
        if method.startswith("moa"):
            return y + lora_delta(x, P["A"], P["Bt"], P["scale"], gates[:, MOA_TYPE_OF[p]:MOA_TYPE_OF[p] + 1])
        case = {"method": method, "experts": self.spec["nExperts"], "topk": self.spec.get("topK", 2)}
        g, a = ROUTERS[method](x, P, case)
        aux.append(a)
        return y + lora_delta(x, P["A"], P["Bt"], P["scale"], g)

    def rms(self, x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.m["rmsNormEps"]) * g

    def rope(self, x):  # x [B, heads, S, hd]
        half = x.shape[-1] // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * self.cos + rot * self.sin

    def loss(self, ids, targets):
        m = self.m
        B, S = ids.shape
        T = B * S
        H, kv, hd = m["nHeads"], m["nKvHeads"], m["headDim"]
        causal = torch.full((S, S), float("-inf")).triu(1)
        x = self.embed[ids.reshape(-1)]
        aux = []
        for L in self.layers:
            h = self.rms(x, L["attn_norm"])
            gates = None
            if self.spec["method"].startswith("moa"):
                case = {"method": self.spec["method"], "experts": len(PROJ)}
                gates, _ = ROUTERS[self.spec["method"]](x, L["router"], case)
            q = self.linear(L, "q", h, aux, gates).view(B, S, H, hd).transpose(1, 2)
            k = self.linear(L, "k", h, aux, gates).view(B, S, kv, hd).transpose(1, 2)
            v = self.linear(L, "v", h, aux, gates).view(B, S, kv, hd).transpose(1, 2)
            q, k = self.rope(q), self.rope(k)
            k = k.repeat_interleave(H // kv, dim=1)
            v = v.repeat_interleave(H // kv, dim=1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + causal, dim=-1)
            a = (att @ v).transpose(1, 2).reshape(T, H * hd)
            x = x + self.linear(L, "o", a, aux, gates)
            h2 = self.rms(x, L["mlp_norm"])
            ff = F.silu(self.linear(L, "gate", h2, aux, gates)) * self.linear(L, "up", h2, aux, gates)
            x = x + self.linear(L, "down", ff, aux, gates)
        logits = self.rms(x, self.norm) @ self.lm_head.t()
        ce = F.cross_entropy(logits, targets.reshape(-1))
        return ce + sum(aux) if aux else ce


class Trainer:
    """One method's model, AdamW and batches, built (and warmed up) once per serve process."""

    def __init__(self, spec, req, warmup):
        self.model = StepModel(req["model"], {**spec, "seqLen": req["seqLen"]}, torch.Generator().manual_seed(3))
        self.opt = torch.optim.AdamW(self.model.params, lr=1e-4, weight_decay=0.0)
        gen = torch.Generator().manual_seed(7)
        self.batches = []
        for _ in range(4):
            ids = torch.randint(0, req["model"]["vocabSize"], (req["batch"], req["seqLen"] + 1), generator=gen)
            self.batches.append((ids[:, :-1].contiguous(), ids[:, 1:].contiguous()))
        self.steps = 0
        self.loss0 = self.step()
        for _ in range(1, warmup):
            self.step()

    def step(self):
        ids, targets = self.batches[self.steps % len(self.batches)]
        self.steps += 1
        self.opt.zero_grad(set_to_none=True)
        loss = self.model.loss(ids, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.params, 1.0)
        self.opt.step()
        return loss.item()  # read back, as our trainer reads its loss


TRAINERS = {}


def answer_steps(req):
    """`reps` timed steps of each method (ms each); a method's first request builds and warms it up."""
    plan = {"warmup": 3, "reps": 10, **req.get("plan", {})}
    out = []
    for spec in req["methods"]:
        key = json.dumps([spec, req["model"], req["batch"], req["seqLen"]], sort_keys=True)
        if key not in TRAINERS:
            TRAINERS[key] = Trainer(spec, req, plan["warmup"])
        t = TRAINERS[key]
        samples = []
        for _ in range(plan["reps"]):
            t0 = time.perf_counter()
            t.step()
            samples.append((time.perf_counter() - t0) * 1000)
        trainable = sum(p.numel() for p in t.model.params)
        out.append({"id": spec["id"], "samples": samples, "trainable": trainable, "loss0": t.loss0})
    return out
