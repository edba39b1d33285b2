import { assert, assertAlmostEquals, assertEquals } from "../testing/asserts.ts";
import { Rng } from "../util/rng.ts";
import { type ExampleRouting, mutualInformation, specialisation, SpecialisationCollector } from "./specialisation.ts";

/** Example routing from rows of sums and task indices. */
function routing(rows: number[][], labels: number[], nTasks = Math.max(...labels) + 1): ExampleRouting {
  return {
    nExperts: rows[0].length,
    sums: Float64Array.from(rows.flat()),
    labels: Int32Array.from(labels),
    nTasks,
  };
}

Deno.test("each task routed to its own expert: I = log N, NMI 1, far above the shuffled null", () => {
  const N = 4;
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let t = 0; t < N; t++) {
    for (let k = 0; k < 10; k++) {
      rows.push(Array.from({ length: N }, (_, e) => (e === t ? 3 + k : 0))); // token counts differ by example
      labels.push(t);
    }
  }
  const r = routing(rows, labels);
  assertAlmostEquals(mutualInformation(r), Math.log(N), 1e-12);
  const s = specialisation(r, { permutations: 200 });
  assertAlmostEquals(s.nmi, 1, 1e-12);
  assertEquals(s.examples, 40);
  assertEquals(s.permutations, 200);
  // the plug-in bias of 40 examples, 4 tasks × 4 experts: ≈ (K − 1)(N − 1) / 2n nats on average
  assert(s.null95 < 0.3, `null95 ${s.null95}`);
  assert(s.nullMean <= s.null95);
  assert(s.ratio !== null && s.ratio > 3, `ratio ${s.ratio}`);
  assertAlmostEquals(s.p, 1 / 201, 1e-12);
});

Deno.test("fewer tasks than experts: one-hot routing reaches log K / log N", () => {
  const rows = [[5, 0, 0, 0], [0, 2, 0, 0], [7, 0, 0, 0], [0, 1, 0, 0]];
  const s = specialisation(routing(rows, [0, 1, 0, 1]), { permutations: 100 });
  // p(t) is token-weighted (12 vs 3 tokens): I = H(T) = H(0.8, 0.2)
  const hT = -(0.8 * Math.log(0.8) + 0.2 * Math.log(0.2));
  assertAlmostEquals(s.nmi, hT / Math.log(4), 1e-12);
});

Deno.test("all tasks sharing one distribution: I = 0, p-value 1", () => {
  const rows = Array.from({ length: 30 }, (_, i) => [0.5, 0.3, 0.2].map((v) => v * (1 + (i % 4))));
  const labels = rows.map((_, i) => i % 3);
  const s = specialisation(routing(rows, labels), { permutations: 100 });
  assertAlmostEquals(s.nmi, 0, 1e-12);
  assertAlmostEquals(s.nullMean, 0, 1e-12);
  assertEquals(s.p, 1);
  assertEquals(s.ratio, null); // null95 = 0
});

Deno.test("token weighting: the closed form on a small mixed case", () => {
  const rows = [[2, 1], [1, 1], [0, 3]];
  const labels = [0, 0, 1];
  // p(e|0) = (3, 2)/5, p(e|1) = (0, 1), p(t) = (5/8, 3/8), p(e) = (3/8, 5/8)
  const pt = [5 / 8, 3 / 8];
  const pet = [[3 / 5, 2 / 5], [0, 1]];
  const pe = [3 / 8, 5 / 8];
  let I = 0;
  for (let t = 0; t < 2; t++) {
    for (let e = 0; e < 2; e++) if (pet[t][e] > 0) I += pt[t] * pet[t][e] * Math.log(pet[t][e] / pe[e]);
  }
  assertAlmostEquals(mutualInformation(routing(rows, labels)), I, 1e-12);
  assertAlmostEquals(specialisation(routing(rows, labels), { permutations: 100 }).nmi, I / Math.log(2), 1e-12);
});

Deno.test("examples without routed tokens are dropped (they carry no information and are not shuffled)", () => {
  const a = specialisation(routing([[1, 0], [0, 1], [1, 0], [0, 1]], [0, 1, 0, 1]), { permutations: 100 });
  const b = specialisation(routing([[1, 0], [0, 0], [0, 1], [1, 0], [0, 1], [0, 0]], [0, 1, 1, 0, 1, 0]), {
    permutations: 100,
  });
  assertEquals(b.examples, 4);
  assertEquals(b, a);
});

Deno.test("random routing with random labels: the null is ~0, the observed value sits inside it", () => {
  const rng = new Rng(11);
  const N = 8;
  const n = 2000;
  const rows = Array.from({ length: n }, () => Array.from({ length: N }, () => rng.next() ** 3));
  const labels = rows.map(() => rng.int(8));
  const s = specialisation(routing(rows, labels, 8), { permutations: 200 });
  assert(s.nullMean < 0.01, `null mean ${s.nullMean}`);
  assert(s.null95 < 0.01, `null95 ${s.null95}`);
  assert(s.nmi < 0.01, `nmi ${s.nmi}`);
  assert(s.p > 0.01, `p ${s.p}`);
});

Deno.test("deterministic: the same inputs and seed give the same null; another seed changes only the null", () => {
  const rng = new Rng(3);
  const rows = Array.from({ length: 60 }, () => Array.from({ length: 4 }, () => rng.next()));
  const labels = rows.map((_, i) => i % 5);
  const r = routing(rows, labels);
  const a = specialisation(r, { permutations: 150, seed: 1 });
  assertEquals(specialisation(r, { permutations: 150, seed: 1 }), a);
  const b = specialisation(r, { permutations: 150, seed: 2 });
  assertEquals(b.nmi, a.nmi);
  assert(b.nullMean !== a.nullMean);
  assert(a.nmi >= 0 && a.nmi <= 1);
});

Deno.test("collector: rows of one record are summed, tasks and layers kept apart", () => {
  const c = new SpecialisationCollector();
  const recA = {}, recB = {}, recC = {};
  const layers = [{ layer: 0, nExperts: 2, offset: 0 }, { layer: 1, nExperts: 3, offset: 2 }];
  // width 5: layer 0 [e0, e1], layer 1 [e0, e1, e2]; recA has two rows (two candidates)
  c.add(
    "boolq",
    [recA, recA, recB],
    layers,
    [
      [1, 0, 0, 0, 1],
      [2, 0, 0, 0, 2],
      [0, 1, 1, 0, 0],
    ].flat(),
    5,
  );
  c.add("piqa", [recC], layers, [0, 4, 0, 4, 0], 5);
  assertEquals(c.size, 3);
  const l0 = c.routing(0)!;
  assertEquals(Array.from(l0.sums), [3, 0, 0, 1, 0, 4]);
  assertEquals(Array.from(l0.labels), [0, 0, 1]);
  assertEquals(l0.nTasks, 2);
  assertEquals(Array.from(c.routing(1)!.sums), [0, 0, 3, 1, 0, 0, 0, 4, 0]);
  const res = c.result({ permutations: 100 });
  assertEquals(res.map((x) => [x.layer, x.nExperts, x.examples]), [[0, 2, 3], [1, 3, 3]]);
});
