/**
 * Synthetic result rows for tests of claims, contrasts and the report: per-item correctness per task as 0/1
 * arrays, everything else filled with plausible constants.
 */
import type { TaskName } from "../data/types.ts";
import type { CellRow, ProtocolResult } from "../experiment/cell.ts";
import { encodeBits } from "../experiment/items.ts";
import type { CellConfig } from "../experiment/spec.ts";
import { Rng } from "../util/rng.ts";

export type TaskBits = Partial<Record<TaskName, number[]>>;

/** A protocol result from per-task 0/1 correctness (`items: false`: an old row without per-item results). */
export function fakeResult(perTask: TaskBits, opts: { hash?: string; items?: boolean } = {}): ProtocolResult {
  const tasks = Object.entries(perTask) as [TaskName, number[]][];
  const acc = Object.fromEntries(tasks.map(([t, xs]) => [t, xs.reduce((a, b) => a + b, 0) / xs.length]));
  const accs = Object.values(acc) as number[];
  return {
    average: accs.reduce((a, b) => a + b, 0) / accs.length,
    perTask: acc,
    n: tasks.reduce((a, [, xs]) => a + xs.length, 0),
    unanswered: 0,
    ...(opts.items === false ? {} : {
      items: {
        hash: opts.hash ?? "0123456789abcdef",
        perTask: Object.fromEntries(tasks.map(([t, xs]) => [t, { n: xs.length, bits: encodeBits(xs) }])),
      },
    }),
  };
}

export interface FakeRowOptions {
  group?: CellRow["group"];
  baseline?: TaskBits;
  hash?: string;
  /** false: an old row without per-item results. */
  items?: boolean;
  /** Mean active experts and normalised router entropy (one layer); none: no routing (LoRA). */
  routing?: { meanActive: number; entropy: number };
}

/** A row of `label` and `seed` evaluated with the score protocol. */
export function fakeRow(label: string, seed: number, perTask: TaskBits, opts: FakeRowOptions = {}): CellRow {
  const result = (bits: TaskBits) => fakeResult(bits, { hash: opts.hash, items: opts.items });
  return {
    hash: `${label}-${seed}`,
    study: "test",
    label,
    group: opts.group ?? { method: label, label },
    seed,
    config: { seed, eval: { protocols: ["score"] } } as unknown as CellConfig,
    results: { score: result(perTask) },
    baseline: opts.baseline ? { score: result(opts.baseline) } : {},
    routing: opts.routing
      ? {
        sites: {},
        layers: [{ layer: 0, ...opts.routing, load: [], weight: [] }],
        byTask: {},
      }
      : null,
    history: [],
    cost: {
      trainableParams: 1000,
      steps: 10,
      trainMs: 1000,
      evalMs: 100,
      tokens: 100,
      tokensPerSec: 100,
      peakBytes: 0,
      adapterFlops: { dense: 1, routed: 1 },
    },
    model: { vocabSize: 10, dModel: 8, nLayers: 1, nHeads: 1, nKvHeads: 1, dFF: 16 },
    base: { hash: "base", pretrainMs: 0, reused: true },
    env: { backend: "cpu", backendDetail: "", tfjs: "4", deno: "2" },
    finishedAt: "2025-01-01T00:00:00.000Z",
  };
}

/** `n` 0/1 values, each 1 with probability `p` (seeded). */
export function bernoulli(n: number, p: number, rng: Rng): number[] {
  return Array.from({ length: n }, () => (rng.next() < p ? 1 : 0));
}
