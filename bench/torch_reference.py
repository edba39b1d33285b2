#!/usr/bin/env python3
"""PyTorch reference for `deno task bench`: the same MoE-LoRA layers, shapes and routing rules as
bench/layer.ts, timed forward + backward (or, with --check, evaluated on given weights).

Layer: y = x W0^T + sum_i g_i(x) * s * B_i A_i x, loss = mean(y^2) + the method's weighted aux loss,
training mode, dropout 0. Experts are computed batched and masked through g (the same FLOPs as ours):
    h = (x A_cat^T) * (s g repeated over each expert's r columns);  y += h B_cat
Methods (defaults as in src/routers/*.ts):
    lora        one adapter of rank N*r (equal total rank), no router
    topk        p = softmax(Wg x), top-k renormalised; load balance 1e-3 * N * sum_i f_i P_i (f = count/T)
    soft        topk with k = N (dense softmax routing)
    threshold   experts with p >= 1/N, renormalised (zero sum divides by 1); load balance as topk
    adamole     tau = sigma(w_tau x + b_tau)/N, a = p - tau, keep a >= 0, g = a*keep renormalised;
                aux 1e-3 * N * sum_i f_i mean(a_i)
    dynmole     Tsallis q=1.1 entropy H; keep = (sorted cumsum <= 0.75) | (rank < topk) | (H > 0.9);
                g = p*keep (not renormalised); aux 0.01*mean(H) + 1e-3 * N * sum_i mean(g_i) mean(p_i)
    moa-soft    w = sigma(SwiGLU router(x)), hidden 4N; g = w; no aux
    moa-sparse  as moa-soft, keep w - 0.5*sigma(w_tau x + b_tau) >= 0 (no gradient), g = w*keep
    topk-dispatch  (reference only) topk computed sparsely: each expert runs on its routed tokens only
                   (gather / index_add), to show from which N sparse dispatch beats dense masking

A request {"steps": …} instead times whole training steps of the embedded-default model (torch_step.py).

Input (JSON on stdin or in FILE): {"cases": [{"id", "method", "tokens", "d", "experts", "rank", "topk"}],
"plan": {"warmup", "minReps", "minMs", "maxReps"}}; with --check each case also carries "x" and
"weights" ({name: {"shape", "data"}}) and the output gives y, loss and gradients instead of timings.
Output: JSON on stdout, {"torch", "device", "threads", "results": [...]}.
With --serve it answers one such request per input line with one output line, until stdin closes (the bench
keeps one process and times each shape right after its own, so machine load drifts less between them).
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

ALPHA = 16.0
LB_COEF = 1e-3
DYN = {"q": 1.1, "eps": 1e-5, "threshold": 0.9, "top_p": 0.75, "entropy_coef": 0.01}
MOA_SWI_X = 4
MOA_MAX_THRESHOLD = 0.5


def load_balance(f, P):
    """N * sum_i f_i P_i."""
    return f.shape[0] * (f * P).sum()


def renormalise(num):
    """num / sum(num), dividing by 1 where the sum is exactly 0."""
    den = num.sum(1, keepdim=True)
    return num / (den + (den == 0).float())


def topk_mask(p, k):
    idx = p.topk(k, dim=1).indices
    return torch.zeros_like(p).scatter_(1, idx, 1.0)


def route_topk(x, P, case):
    p = torch.softmax(x @ P["Wg"].t(), dim=1)
    k = case["experts"] if case["method"] == "soft" else case["topk"]
    active = topk_mask(p.detach(), k)
    kept = p * active
    g = kept / kept.sum(1, keepdim=True)
    return g, LB_COEF * load_balance(active.mean(0), p.mean(0))


def route_threshold(x, P, case):
    p = torch.softmax(x @ P["Wg"].t(), dim=1)
    active = (p.detach() >= 1.0 / case["experts"]).float()
    g = renormalise(p * active)
    return g, LB_COEF * load_balance(active.mean(0), p.mean(0))


def route_adamole(x, P, case):
    p = torch.softmax(x @ P["Wg"].t(), dim=1)
    tau = torch.sigmoid(x @ P["tau_w"].t() + P["tau_b"]) / case["experts"]  # [T, 1]
    a = p - tau
    active = (a.detach() >= 0).float()
    g = renormalise(a * active)
    return g, LB_COEF * load_balance(active.mean(0), a.mean(0))


def tsallis_normalised(p, n):
    q, eps = DYN["q"], DYN["eps"]
    s = (1.0 - (p + eps).pow(q).sum(1)) / (q - 1.0)
    return s / ((1.0 - n ** (1.0 - q)) / (q - 1.0))


def route_dynmole(x, P, case):
    n = case["experts"]
    p = torch.softmax(x @ P["Wg"].t(), dim=1)
    H = tsallis_normalised(p, n)  # [T], differentiable (entropy loss)
    with torch.no_grad():
        sorted_p, order = p.sort(dim=1, descending=True)
        rank = torch.arange(n, device=p.device).expand_as(p)
        keep_sorted = (sorted_p.cumsum(1) <= DYN["top_p"]) | (rank < case["topk"])
        keep = torch.zeros_like(keep_sorted).scatter_(1, order, keep_sorted)
        keep = (keep | (H > DYN["threshold"]).unsqueeze(1)).float()
    g = p * keep
    aux = DYN["entropy_coef"] * H.mean() + LB_COEF * load_balance(g.mean(0), p.mean(0))
    return g, aux


def route_moa(x, P, case):
    a = x @ P["w1"].t() + P["b1"]
    hidden = F.silu(a) * (x @ P["w3"].t() + P["b3"])
    w = torch.sigmoid(hidden @ P["w2"].t() + P["b2"])  # [T, N]
    if case["method"] == "moa-soft":
        return w, None
    tau = MOA_MAX_THRESHOLD * torch.sigmoid(x @ P["tau_w"].t() + P["tau_b"])
    active = ((w - tau).detach() >= 0).float()
    return w * active, None


ROUTERS = {
    "topk": route_topk,
    "soft": route_topk,
    "threshold": route_threshold,
    "adamole": route_adamole,
    "dynmole": route_dynmole,
    "moa-soft": route_moa,
    "moa-sparse": route_moa,
}


def lora_delta(x, A, Bt, scale, g):
    """sum_i g_i s B_i A_i x with the experts stacked: two matmuls whatever N is."""
    n, r, d = A.shape
    xa = x @ A.reshape(n * r, d).t()  # [T, N*r]
    w = scale if g is None else (g * scale).repeat_interleave(r, dim=1)  # [T, N*r]
    return (xa * w) @ Bt.reshape(n * r, -1)


def dispatch_delta(x, A, Bt, scale, p, k):
    """Sparse top-k: each expert runs only on its routed tokens (MixLoRA-style gather + index_add)."""
    top = p.topk(k, dim=1)
    weights = top.values / top.values.sum(1, keepdim=True)  # [T, k]
    out = x.new_zeros(x.shape[0], Bt.shape[2])
    for e in range(A.shape[0]):
        tok, slot = (top.indices == e).nonzero(as_tuple=True)
        if tok.numel() == 0:
            continue
        h = (x[tok] @ A[e].t()) * (weights[tok, slot] * scale).unsqueeze(1)
        out = out.index_add(0, tok, h @ Bt[e])
    return out


def forward(x, W0, P, case):
    """y and the training loss of one layer."""
    y = x @ W0.t()
    method = case["method"]
    scale = float(P["scale"])
    aux = None
    if method == "lora":
        y = y + lora_delta(x, P["A"], P["Bt"], scale, None)
    elif method == "topk-dispatch":
        p = torch.softmax(x @ P["Wg"].t(), dim=1)
        active = topk_mask(p.detach(), case["topk"])
        y = y + dispatch_delta(x, P["A"], P["Bt"], scale, p, case["topk"])
        aux = LB_COEF * load_balance(active.mean(0), p.mean(0))
    else:
        g, aux = ROUTERS[method](x, P, case)
        y = y + lora_delta(x, P["A"], P["Bt"], scale, g)
    loss = y.pow(2).mean()
    return y, (loss + aux if aux is not None else loss)


def param_shapes(case):
    """Trainable parameter shapes of a case, by name (as bench/layer.ts names them)."""
    n, r, d = case["experts"], case["rank"], case["d"]
    method = case["method"]
    if method == "lora":
        return {"A": [1, n * r, d], "Bt": [1, n * r, d]}
    shapes = {"A": [n, r, d], "Bt": [n, r, d]}
    if method.startswith("moa"):
        h = n * MOA_SWI_X
        shapes.update({"w1": [h, d], "b1": [h], "w3": [h, d], "b3": [h], "w2": [n, h], "b2": [n]})
        if method == "moa-sparse":
            shapes.update({"tau_w": [1, d], "tau_b": [1]})
        return shapes
    shapes["Wg"] = [n, d]
    if method == "adamole":
        shapes.update({"tau_w": [1, d], "tau_b": [1]})
    return shapes


def random_layer(case, device, seed=1):
    """Random weights of the case's shapes (values do not change the cost; B is non-zero)."""
    gen = torch.Generator().manual_seed(seed)
    d = case["d"]
    W0 = (torch.randn(d, d, generator=gen) / math.sqrt(d)).to(device)
    P = {}
    for name, shape in param_shapes(case).items():
        fan_in = shape[-1]
        std = 0.02 if name == "Bt" else 1.0 / math.sqrt(fan_in)
        P[name] = (torch.randn(*shape, generator=gen) * std).to(device).requires_grad_(True)
    r = case["rank"] * (case["experts"] if case["method"] == "lora" else 1)
    P["scale"] = ALPHA / r
    x = torch.randn(case["tokens"], d, generator=gen).to(device)
    return x, W0, P


def given_layer(case, device):
    """The weights and input the bench sent (--check)."""

    def t(v):
        return torch.tensor(v["data"], dtype=torch.float32, device=device).reshape(v["shape"])

    w = case["weights"]
    W0 = t(w["W0"])
    P = {k: t(v).requires_grad_(True) for k, v in w.items() if k not in ("W0", "scale")}
    P["scale"] = w["scale"]["data"][0]
    return t(case["x"]), W0, P


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def step(x, W0, P, case, device):
    for v in P.values():
        if isinstance(v, torch.Tensor):
            v.grad = None
    _, loss = forward(x, W0, P, case)
    loss.backward()
    loss.item()  # read back, as the bench reads its loss
    sync(device)


def quantile(s, q):
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def time_case(case, plan, device):
    x, W0, P = random_layer(case, device)
    for _ in range(plan["warmup"]):
        step(x, W0, P, case, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    samples = []
    start = time.perf_counter()
    while len(samples) < plan["maxReps"] and (
        len(samples) < plan["minReps"] or (time.perf_counter() - start) * 1000 < plan["minMs"]
    ):
        t0 = time.perf_counter()
        step(x, W0, P, case, device)
        samples.append((time.perf_counter() - t0) * 1000)
    s = sorted(samples)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    return {
        "id": case["id"],
        "median": quantile(s, 0.5),
        "q1": quantile(s, 0.25),
        "q3": quantile(s, 0.75),
        "min": s[0],
        "max": s[-1],
        "reps": len(s),
        "peakBytes": peak,
    }


def check_case(case, device):
    x, W0, P = given_layer(case, device)
    y, loss = forward(x, W0, P, case)
    loss.backward()
    grads = {}
    for k, v in P.items():
        if isinstance(v, torch.Tensor):
            g = v.grad if v.grad is not None else torch.zeros_like(v)
            grads[k] = g.detach().cpu().reshape(-1).tolist()
    return {"id": case["id"], "y": y.detach().cpu().reshape(-1).tolist(), "loss": loss.item(), "grads": grads}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?", help="JSON input (default: stdin)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | auto (cuda when available)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads")
    ap.add_argument("--check", action="store_true", help="compute outputs and gradients on given weights")
    ap.add_argument("--serve", action="store_true", help="answer one JSON request per stdin line")
    args = ap.parse_args()
    device_name = args.device
    if device_name == "auto":
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    if device_name == "cuda" and not torch.cuda.is_available():
        print("torch_reference: --device cuda but torch.cuda.is_available() is False", file=sys.stderr)
        sys.exit(2)
    device = torch.device(device_name)
    torch.set_num_threads(args.threads)
    if args.serve:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(answer(json.loads(line), args, device)), flush=True)
        return
    spec = json.load(open(args.file) if args.file else sys.stdin)
    json.dump(answer(spec, args, device), sys.stdout)


def answer(spec, args, device):
    """Timings (or --check outputs) of every case of one request."""
    plan = {"warmup": 2, "minReps": 5, "minMs": 300, "maxReps": 50, **spec.get("plan", {})}
    check = args.check or spec.get("check", False)
    if "steps" in spec:
        if device.type != "cpu":
            raise SystemExit("torch_reference: the training-step reference runs on CPU only")
        from torch_step import answer_steps  # the whole-step reference (bench/step.ts)

        results = answer_steps(spec["steps"])
    else:
        results = [check_case(case, device) if check else time_case(case, plan, device) for case in spec["cases"]]
    info = torch.cuda.get_device_name(0) if device.type == "cuda" else f"cpu ({args.threads} threads)"
    return {"torch": torch.__version__, "device": device.type, "deviceInfo": info, "threads": args.threads,
            "results": results}


if __name__ == "__main__":
    main()
