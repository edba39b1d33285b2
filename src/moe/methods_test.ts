/**
 * The property table every site method must pass (style.md: a new method adds a row). For each row:
 * the output matches the independent loop reference (methods.md equations) to 1e-5 on a fixed-seed
 * fixture; a fresh site (B = 0) equals the frozen base; gradients reach only adapter and router
 * parameters; routing weights obey the method's invariants; nothing leaks.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/backend.ts";
import type { SiteInfo } from "../routers/method.ts";
import type { SiteMethod } from "../routers/method.ts";
import { getMethod, methodConfig, type MethodName, type SiteMethodConfig } from "../routers/registry.ts";
import { assert, assertAllClose, assertAlmostEquals, assertEquals } from "../testing/asserts.ts";
import {
  colMean,
  type Mat,
  matVec,
  refAdaMole,
  refDynMole,
  refLoadBalance,
  refMoeLinear,
  refThreshold,
  refTopK,
  sigmoid,
  softmax,
  type Vec,
} from "../testing/moe_reference.ts";
import { assertNoLeak, mat, randn, Rng, vec } from "../testing/tensors.ts";
import { forwardContext } from "./moe_linear.ts";
import { createSite } from "./site.ts";

await initBackend("cpu");

const D_IN = 6;
const D_OUT = 5;
const T = 9;

interface Row {
  cfg: Record<string, unknown> & { method: MethodName };
  /** Reference routing of one token from its router probabilities / inputs. */
  route(x: Vec, params: RefParams): { g: Vec; active: Vec };
  /** Invariant on one token's weights. */
  invariant(g: Vec, active: Vec): void;
}

interface RefParams {
  Wg: Mat;
  thrW?: Vec;
  thrB?: number;
}

const sum = (v: Vec) => v.reduce((a, b) => a + b, 0);
const probs = (x: Vec, p: RefParams) => softmax(matVec(p.Wg, x));

const ROWS: Row[] = [
  {
    cfg: { method: "lora", rank: 3, alpha: 6, dropout: 0 },
    route: () => ({ g: [1], active: [1] }),
    invariant: (g) => assertEquals(g, [1]),
  },
  {
    cfg: { method: "topk", nExperts: 4, topK: 2, rank: 2, alpha: 4, dropout: 0 },
    route: (x, p) => refTopK(probs(x, p), 2),
    invariant: (g, a) => {
      assertEquals(sum(a), 2, "exactly k experts");
      assert(Math.abs(sum(g) - 1) < 1e-5, "g sums to 1");
    },
  },
  {
    cfg: { method: "threshold", nExperts: 4, rank: 2, alpha: 4, dropout: 0 },
    route: (x, p) => refThreshold(probs(x, p), 1 / 4),
    invariant: (g, a) => {
      assert(sum(a) >= 1, "τ = 1/N keeps at least one expert");
      assert(Math.abs(sum(g) - 1) < 1e-5, "g sums to 1");
    },
  },
  {
    cfg: { method: "mola", experts: [3], topK: 2, rank: 2, alpha: 4, dropout: 0 },
    route: (x, p) => refTopK(probs(x, p), 2),
    invariant: (g, a) => {
      assertEquals(sum(a), 2);
      assert(Math.abs(sum(g) - 1) < 1e-5);
    },
  },
  {
    cfg: { method: "adamole", nExperts: 4, rank: 2, alpha: 4, dropout: 0 },
    route: (x, p) => refAdaMole(probs(x, p), 0.25 * sigmoid(matVec([p.thrW!], x)[0] + p.thrB!)),
    invariant: (g, a) => {
      assert(sum(a) >= 1, "τ_max = 1/N keeps at least one expert");
      assert(Math.abs(sum(g) - 1) < 1e-5, "renormalised");
    },
  },
  {
    cfg: { method: "dynmole", nExperts: 4, rank: 2, alpha: 4, dropout: 0 },
    route: (x, p) => refDynMole(probs(x, p), { q: 1.1, eps: 1e-5, entropyThreshold: 0.9, topP: 0.75, keepTopK: 2 }),
    invariant: (g, a) => {
      assert(sum(a) >= 2, "the top-2 floor");
      assert(sum(g) <= 1 + 1e-6, "raw probabilities, not renormalised");
    },
  },
];

function makeSite(cfg: SiteMethodConfig, seed: number) {
  const rng = new Rng(seed);
  const info: SiteInfo = { name: "layers.0.q_proj", layer: 0, nLayers: 1, target: "q", dIn: D_IN, dOut: D_OUT };
  const weight = tf.variable(randn(rng.fork("w0"), [D_OUT, D_IN], 0.5), false) as tf.Variable<tf.Rank.R2>;
  const site = createSite(cfg, info, { weight }, rng);
  return { site, weight, rng };
}

function refParams(site: ReturnType<typeof makeSite>["site"]): RefParams {
  const r = site.router as unknown as { params: Record<string, tf.Variable> } | null;
  if (!r) return { Wg: [] };
  return {
    Wg: mat(r.params.weight),
    thrW: r.params["threshold.weight"] ? vec(r.params["threshold.weight"]) : undefined,
    thrB: r.params["threshold.bias"] ? vec(r.params["threshold.bias"])[0] : undefined,
  };
}

for (const row of ROWS) {
  const cfg = methodConfig(row.cfg.method, row.cfg) as SiteMethodConfig;
  const name = row.cfg.method;

  Deno.test(`${name}: output matches the loop reference to 1e-5 on a fixed-seed fixture`, () => {
    const { site, weight, rng } = makeSite(cfg, 11);
    const bank = site.bank!;
    bank.Bt.assign(randn(rng.fork("B"), bank.Bt.shape, 0.3) as tf.Tensor3D);
    const x = randn(rng.fork("x"), [T, D_IN]) as tf.Tensor2D;
    const y = site.forward(x, forwardContext());
    const W0 = mat(weight);
    const A = bank.A.arraySync() as Mat[];
    const B = (bank.Bt.transpose([0, 2, 1]).arraySync()) as Mat[];
    const params = refParams(site);
    const want = mat(x).map((xt) => {
      const { g } = row.route(xt, params);
      return refMoeLinear(xt, W0, A, B, bank.scale, g);
    });
    assertAllClose(vec(y), want.flat(), 1e-5, 0, `${name} output`);
    tf.dispose([x, y, weight]);
    bank.dispose();
  });

  Deno.test(`${name}: routing weights obey the method's invariants`, () => {
    const { site, weight, rng } = makeSite(cfg, 12);
    const x = randn(rng.fork("x"), [T, D_IN], 2) as tf.Tensor2D;
    if (site.router) {
      const r = site.router.route(x, { training: false, mask: null });
      const g = mat(r.g);
      const a = mat(r.active);
      g.forEach((gt, t) => {
        row.invariant(gt, a[t]);
        gt.forEach((v, i) => {
          assert(v >= 0, "weights are non-negative");
          if (a[t][i] === 0) assert(v === 0, `inactive expert ${i} has weight ${v}`);
        });
      });
      const ref = refParams(site);
      mat(x).forEach((xt, t) => assertEquals(a[t], row.route(xt, ref).active, `token ${t} active set`));
    }
    tf.dispose([x, weight]);
  });

  Deno.test(`${name}: a fresh site (B = 0) equals the frozen base exactly`, () => {
    const { site, weight, rng } = makeSite(cfg, 13);
    const x = randn(rng.fork("x"), [T, D_IN]) as tf.Tensor2D;
    const y = site.forward(x, forwardContext({ training: true, seed: 5 }));
    const base = tf.matMul(x, weight, false, true);
    assertEquals(vec(y), vec(base));
    tf.dispose([x, y, base, weight]);
  });

  Deno.test(`${name}: gradients reach only adapter and router parameters`, () => {
    const { site, weight, rng } = makeSite(cfg, 14);
    site.bank!.Bt.assign(randn(rng.fork("B"), site.bank!.Bt.shape, 0.3) as tf.Tensor3D);
    const x = randn(rng.fork("x"), [T, D_IN]) as tf.Tensor2D;
    const ctx = forwardContext({ training: true, seed: null });
    const { value, grads } = tf.variableGrads(() => site.forward(x, ctx).square().mean() as tf.Scalar);
    const expected = [
      site.bank!.A.name,
      site.bank!.Bt.name,
      ...Object.values(site.router?.params ?? {}).map((v) => v.name),
    ];
    assertEquals(Object.keys(grads).sort(), expected.sort());
    assert(!(weight.name in grads), "the frozen base gets no gradient");
    for (const [k, g] of Object.entries(grads)) assert(vec(g.abs().sum())[0] > 0, `${k} has a non-zero gradient`);
    tf.dispose([x, value, weight, ...Object.values(grads)]);
  });

  Deno.test(`${name}: forward + backward leaks no tensors`, () => {
    const { site, weight, rng } = makeSite(cfg, 15);
    const x = randn(rng.fork("x"), [T, D_IN]) as tf.Tensor2D;
    const vars = [site.bank!.A, site.bank!.Bt, ...Object.values(site.router?.params ?? {})];
    assertNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => {
        const ctx = forwardContext({ training: true, seed: 3 });
        return site.forward(x, ctx).mean() as tf.Scalar;
      }, vars);
      tf.dispose([value, ...Object.values(grads)]);
    }, `${name} step`);
    tf.dispose([x, weight]);
  });

  if (name !== "lora") {
    Deno.test(`${name}: training produces load-balance terms that match N·Σ f·P by hand`, () => {
      const { site, weight, rng } = makeSite(cfg, 16);
      const x = randn(rng.fork("x"), [T, D_IN]) as tf.Tensor2D;
      const ctx = forwardContext({ training: true, seed: null });
      const r = site.router!.route(x, ctx);
      const aux = r.aux;
      if (!aux) {
        assertEquals(name, "mola", "only MoLA (obalance off by default) has no aux terms");
        return;
      }
      const active = mat(r.active);
      const p = mat(r.p);
      let f: Vec, P: Vec;
      if (name === "dynmole") {
        f = colMean(mat(r.g));
        P = colMean(p);
      } else if (name === "adamole") {
        f = colMean(active);
        P = colMean(p.map((pt, t) => pt.map((v) => v - vec(r.threshold!)[t])));
      } else {
        f = colMean(active);
        P = colMean(p);
      }
      assertAllClose(vec(aux.f), f, 1e-6);
      assertAllClose(vec(aux.P), P, 1e-6);
      const loss = getMethod(name).kind === "site" ? (getMethod(name) as SiteMethod).auxLoss(cfg, [aux]) : null;
      assert(loss, "a method with aux terms returns a loss");
      assertAlmostEquals(vec(loss.parts.load_balance)[0], refLoadBalance(f, P), 1e-6, "N·Σ f·P");
      tf.dispose([x, weight]);
    });
  }
}
