/**
 * What a bench run measures: presets (quick for CI, default for `deno task bench`, full for a GPU machine
 * or patient users) and the expansion of shapes × methods into layer cases. Pure data and functions.
 *
 * The grid is tokens {256, 1024, 4096} × d {256, 1024, 4096} × experts {4, 8, 16} × rank {8, 16}
 * × top-k {1, 2}: 108 shapes. `full` runs all of it; `default` varies one axis at a time around a centre
 * shape (tokens 1024, d 1024, 8 experts, r 8, top-2) on blas, and small shapes only on the slow backends.
 */
import type { BackendName } from "../src/backend/backend.ts";
import { LAYER_METHODS, type LayerCase, type LayerMethod, type LayerShape, USES_TOPK } from "./layer.ts";
import type { StepShape } from "./step.ts";
import { LOAD_SHAPE, type LoadShape } from "./load.ts";
import type { TimingPlan } from "./stats.ts";

export interface ShapeAxes {
  tokens: number[];
  d: number[];
  experts: number[];
  rank: number[];
  topk: number[];
}

export const AXES = ["tokens", "d", "experts", "rank", "topk"] as const satisfies readonly (keyof ShapeAxes)[];

/** The full grid. */
export const FULL_AXES: ShapeAxes = {
  tokens: [256, 1024, 4096],
  d: [256, 1024, 4096],
  experts: [4, 8, 16],
  rank: [8, 16],
  topk: [1, 2],
};

/**
 * Shapes of one backend: the product of the axes, or a sweep (each axis varied alone, the others at the
 * centre, which is each axis's `center` value).
 */
export interface ShapePlan {
  mode: "product" | "sweep";
  axes: ShapeAxes;
  center: GridShape;
}

/** A point of the grid (its top-k applies to the methods that have one). */
export type GridShape = LayerShape & { topk: number };

export interface BackendPlan {
  backend: BackendName;
  shapes: ShapePlan;
  methods: LayerMethod[];
  /** Training-step bench methods on this backend (empty: none). */
  stepMethods: string[];
}

export interface Preset {
  name: string;
  summary: string;
  timing: TimingPlan;
  backends: BackendPlan[];
  /** Sparse vs dense: top-k and soft routing over these expert counts at `center` (first backend only). */
  sparsity: { experts: number[]; center: GridShape } | null;
  step: { shape: StepShape; warmup: number; rounds: number; perRound: number };
  /** Training steps at the real-format shape (vocabulary 32,001; first step-bench backend only). */
  realVocab: { shape: StepShape; methods: string[] };
  soak: { steps: number; shape: StepShape; every: number; method: string };
  /** Peak memory of loading a BF16 checkpoint of this shape, one file and in shards (null: skipped). */
  load: { shape: LoadShape; shardBytes: number } | null;
  torch: boolean;
}

const CENTER: GridShape = { tokens: 1024, d: 1024, experts: 8, rank: 8, topk: 2 };
const SMALL: GridShape = { tokens: 256, d: 256, experts: 8, rank: 8, topk: 2 };
const one = (c: GridShape): ShapeAxes => ({
  tokens: [c.tokens],
  d: [c.d],
  experts: [c.experts],
  rank: [c.rank],
  topk: [c.topk],
});
const ALL_STEP = ["lora", "topk", "soft", "threshold", "adamole", "dynmole", "moa-soft", "moa-sparse"];
const METHODS = [...LAYER_METHODS];

export const PRESETS: Record<string, Preset> = {
  quick: {
    name: "quick",
    summary: "CI smoke run: tiny shapes on cpu, two training-step methods, a 10-step soak (seconds)",
    timing: { warmup: 1, minReps: 2, minMs: 0, maxReps: 2 },
    backends: [{
      backend: "cpu",
      shapes: {
        mode: "product",
        axes: { tokens: [32], d: [32], experts: [4], rank: [2], topk: [2] },
        center: { tokens: 32, d: 32, experts: 4, rank: 2, topk: 2 },
      },
      methods: METHODS,
      stepMethods: ["lora", "topk"],
    }],
    sparsity: null,
    step: { shape: { batch: 2, seqLen: 16 }, warmup: 1, rounds: 1, perRound: 2 },
    realVocab: { shape: { batch: 2, seqLen: 16 }, methods: [] },
    soak: { steps: 10, shape: { batch: 2, seqLen: 16 }, every: 5, method: "topk" },
    load: null,
    torch: true,
  },
  default: {
    name: "default",
    summary: "blas: one axis at a time around tokens 1024, d 1024, 8 experts, r 8, top-2; wasm, cpu and " +
      "webgpu at small shapes; training steps; a 1,000-step soak (≲10 min on 2 cores)",
    timing: { warmup: 1, minReps: 5, minMs: 200, maxReps: 30 },
    backends: [
      {
        backend: "blas",
        shapes: { mode: "sweep", axes: FULL_AXES, center: CENTER },
        methods: METHODS,
        stepMethods: ALL_STEP,
      },
      {
        backend: "wasm",
        shapes: { mode: "sweep", axes: { ...one(SMALL), tokens: [256, 1024], d: [256, 1024] }, center: SMALL },
        methods: METHODS,
        stepMethods: ALL_STEP,
      },
      {
        backend: "cpu",
        shapes: { mode: "product", axes: one(SMALL), center: SMALL },
        methods: METHODS,
        stepMethods: ["lora", "topk"],
      },
      {
        backend: "webgpu",
        shapes: { mode: "product", axes: one(SMALL), center: SMALL },
        methods: METHODS,
        stepMethods: [],
      },
    ],
    sparsity: { experts: [4, 8, 16, 32, 64], center: CENTER },
    step: { shape: { batch: 16, seqLen: 64 }, warmup: 2, rounds: 4, perRound: 3 },
    realVocab: { shape: { batch: 8, seqLen: 128 }, methods: ["lora", "topk"] },
    soak: { steps: 1000, shape: { batch: 4, seqLen: 32 }, every: 50, method: "topk" },
    load: { shape: LOAD_SHAPE, shardBytes: 64 * 2 ** 20 },
    torch: true,
  },
  full: {
    name: "full",
    summary: "the whole 108-shape grid on every backend, all methods, training steps, a 1,000-step soak",
    timing: { warmup: 2, minReps: 5, minMs: 1000, maxReps: 100 },
    backends: (["blas", "wasm", "cpu", "webgpu", "tensorflow"] as BackendName[]).map((backend) => ({
      backend,
      shapes: { mode: "product", axes: FULL_AXES, center: CENTER },
      methods: METHODS,
      stepMethods: ALL_STEP,
    })),
    sparsity: { experts: [4, 8, 16, 32, 64], center: CENTER },
    step: { shape: { batch: 16, seqLen: 64 }, warmup: 2, rounds: 5, perRound: 4 },
    realVocab: { shape: { batch: 8, seqLen: 128 }, methods: ALL_STEP },
    soak: { steps: 1000, shape: { batch: 16, seqLen: 64 }, every: 50, method: "topk" },
    load: { shape: LOAD_SHAPE, shardBytes: 64 * 2 ** 20 },
    torch: true,
  },
};

/** The shapes of a plan, in a stable order, without duplicates. */
export function expandShapes(plan: ShapePlan): GridShape[] {
  const { axes, center } = plan;
  const out = new Map<string, GridShape>();
  const add = (s: GridShape) => out.set(shapeKey(s), s);
  if (plan.mode === "sweep") {
    add(center);
    for (const axis of AXES) for (const v of axes[axis]) add({ ...center, [axis]: v });
  } else {
    for (const tokens of axes.tokens) {
      for (const d of axes.d) {
        for (const experts of axes.experts) {
          for (const rank of axes.rank) for (const topk of axes.topk) add({ tokens, d, experts, rank, topk });
        }
      }
    }
  }
  return [...out.values()];
}

export function shapeKey(s: LayerShape): string {
  return `T${s.tokens}·d${s.d}·N${s.experts}·r${s.rank}·k${s.topk ?? "-"}`;
}

export function caseKey(c: LayerCase): string {
  return `${c.method}|${shapeKey(c)}`;
}

/**
 * Layer cases of `methods` over `shapes`: methods without a top-k run once per shape (topk null); top-k
 * methods once per k ≤ N. Duplicates dropped, order kept.
 */
export function expandCases(shapes: GridShape[], methods: readonly LayerMethod[]): LayerCase[] {
  const out = new Map<string, LayerCase>();
  for (const s of shapes) {
    for (const method of methods) {
      const c: LayerCase = { ...s, method, topk: USES_TOPK.has(method) ? s.topk : null };
      if (c.topk !== null && c.topk > c.experts) continue;
      out.set(caseKey(c), c);
    }
  }
  return [...out.values()];
}

/** The sparse-vs-dense cases: top-k and soft routing over the expert counts. */
export function sparsityCases(s: NonNullable<Preset["sparsity"]>): LayerCase[] {
  const shapes = s.experts.map((experts) => ({ ...s.center, experts }));
  return expandCases(shapes, ["topk", "soft"]);
}

/** Axis overrides from the flags: the plan becomes the product of given axes and the rest at the centre. */
export function overrideShapes(plan: ShapePlan, given: Partial<ShapeAxes>): ShapePlan {
  if (Object.values(given).every((v) => v === undefined)) return plan;
  const axes = { ...plan.axes };
  for (const axis of AXES) {
    axes[axis] = given[axis] ?? (plan.mode === "product" ? plan.axes[axis] : [plan.center[axis]]);
  }
  return { ...plan, mode: "product", axes };
}
