/**
 * The PyTorch reference during a bench run: one `torch_reference.py --serve` process on CPU (and one on CUDA
 * when asked for and available, compared with webgpu), fed each shape's cases right after tfjs timed them,
 * so both see the same machine load.
 */
import type { LayerCase } from "./layer.ts";
import type { LayerRow } from "./measure.ts";
import type { BenchResults, TorchRun } from "./output.ts";
import type { Preset } from "./presets.ts";
import { torchId } from "./ratios.ts";
import { type StepModel, type StepResult, type StepShape, torchStepRequest } from "./step.ts";
import { summarize } from "./stats.ts";
import { DISPATCH, probeTorch, TORCH_INSTALL_HINT, type TorchCase, TorchServer, type TorchTiming } from "./torch.ts";

function log(msg: string): void {
  console.log(`[bench] ${msg}`);
}

/** The reference's cases: every distinct layer case, and the dispatch variant of each sparsity top-k case. */
export function torchCases(rows: readonly LayerCase[], sparsity: readonly LayerCase[]): TorchCase[] {
  const out = new Map<string, TorchCase>();
  const strip = (c: LayerCase): TorchCase => {
    const { method, tokens, d, experts, rank, topk } = c;
    return { id: torchId(c), method, tokens, d, experts, rank, topk };
  };
  for (const c of rows) out.set(torchId(c), strip(c));
  for (const c of sparsity.filter((s) => s.method === "topk")) {
    const t = { ...strip(c), method: DISPATCH };
    out.set(torchId(t), { ...t, id: torchId(t) });
  }
  return [...out.values()];
}

/** The reference processes of a run and what they measured so far. */
export interface TorchSession {
  cpu: TorchServer;
  cuda: TorchServer | null;
  cpuTimings: Map<string, TorchTiming>;
  cudaTimings: Map<string, TorchTiming>;
  info: { version: string; cpu: string; cuda: string };
}

/** Start the reference (CPU, plus CUDA when asked and available), or explain why not. */
export async function startTorch(
  plan: Preset,
  results: BenchResults,
  device: "cpu" | "auto",
): Promise<TorchSession | null> {
  if (!plan.torch) {
    results.torchNote = "PyTorch reference skipped (--no-torch)";
    return null;
  }
  const info = await probeTorch();
  if (!info) {
    results.torchNote = TORCH_INSTALL_HINT;
    log(TORCH_INSTALL_HINT);
    return null;
  }
  const threads = navigator.hardwareConcurrency;
  const cudaWanted = device === "auto" && info.cuda && plan.backends.some((b) => b.backend === "webgpu");
  log(`PyTorch ${info.version}: reference on CPU (${threads} threads)${cudaWanted ? " and CUDA" : ""}`);
  return {
    cpu: TorchServer.start({ device: "cpu", threads }),
    cuda: cudaWanted ? TorchServer.start({ device: "cuda", threads }) : null,
    cpuTimings: new Map(),
    cudaTimings: new Map(),
    info: { version: info.version, cpu: `cpu (${threads} threads)`, cuda: "" },
  };
}

/** Time a just-measured group in torch too (cases it has not run yet), on CPU and for webgpu on CUDA. */
export async function torchGroup(
  s: TorchSession,
  rows: LayerRow[],
  sparsity: LayerCase[],
  plan: Preset,
): Promise<void> {
  const inGroup = sparsity.filter((c) => rows.some((r) => torchId(r) === torchId(c)));
  const run = async (server: TorchServer, have: Map<string, TorchTiming>, cases: TorchCase[]) => {
    const todo = cases.filter((c) => !have.has(c.id));
    if (!todo.length) return "";
    const out = await server.request<TorchTiming>({ cases: todo, plan: plan.timing });
    for (const t of out.results) have.set(t.id, t);
    return out.deviceInfo;
  };
  await run(s.cpu, s.cpuTimings, torchCases(rows, inGroup));
  if (s.cuda && rows[0]?.backend === "webgpu") s.info.cuda ||= await run(s.cuda, s.cudaTimings, torchCases(rows, []));
}

/** Stop the reference and keep what it measured. */
export async function finishTorch(s: TorchSession | null, results: BenchResults): Promise<void> {
  if (!s) return;
  await Promise.all([s.cpu.close(), s.cuda?.close()]);
  const run = (device: string, deviceInfo: string, timings: Map<string, TorchTiming>): TorchRun => ({
    device,
    deviceInfo,
    version: s.info.version,
    timings,
  });
  results.torchCpu = run("cpu", s.info.cpu, s.cpuTimings);
  if (s.cuda && s.cudaTimings.size) results.torchCuda = run("cuda", s.info.cuda, s.cudaTimings);
}

/**
 * The reference's training steps, timed in the step bench's own rounds: after each of our rounds torch runs
 * `perRound` steps of every method (its first request builds and warms each up). `attach` adds the
 * summaries to our results and checks both built the same number of trainable parameters.
 */
export function torchStepRounds(
  s: TorchSession,
  methods: string[],
  step: { shape: StepShape; warmup: number; perRound: number },
  model: StepModel = "embedded",
) {
  const samples = new Map<string, number[]>(methods.map((m) => [m, []]));
  const trainable = new Map<string, number>();
  return {
    afterRound: async () => {
      const req = torchStepRequest(methods, step.shape, step.perRound, Math.max(1, step.warmup), model);
      const out = await s.cpu.request<TorchStepTiming>(req);
      for (const r of out.results) {
        samples.get(r.id)!.push(...r.samples);
        trainable.set(r.id, r.trainable);
      }
    },
    attach(results: StepResult[]): void {
      for (const r of results) {
        const got = samples.get(r.method);
        if (!got?.length) continue;
        const n = trainable.get(r.method)!;
        if (n !== r.trainable) {
          throw new Error(`torch_step.py built ${n} trainable parameters for ${r.method}, ours ${r.trainable}`);
        }
        r.torch = { ...summarize(got), trainable: n };
      }
    },
  };
}

interface TorchStepTiming {
  id: string;
  samples: number[];
  trainable: number;
  loss0: number;
}
