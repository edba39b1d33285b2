/**
 * Running the PyTorch reference (`bench/torch_reference.py`) from the bench: find a Python whose `import torch`
 * works, send it JSON cases on stdin, read JSON results back. Without torch the bench prints one line saying
 * how to install it and carries on.
 */
import { fileURLToPath } from "node:url";
import { type BenchLayer, hostArray, layerWeights } from "./layer.ts";
import type { LayerCase } from "./layer.ts";
import type { Timing } from "./stats.ts";
import type * as tf from "@tensorflow/tfjs";

/** Environment variable naming another interpreter (e.g. a venv with a CUDA build of torch). */
export const PYTHON_ENV = "MOLE_TORCH_PYTHON";
/** The interpreter the reference runs under: Debian's python3-torch (CPU-only) installs into /usr/bin/python3. */
export const PYTHON = Deno.env.get(PYTHON_ENV) || "/usr/bin/python3";
export const TORCH_SCRIPT = fileURLToPath(new URL("./torch_reference.py", import.meta.url));
export const TORCH_INSTALL_HINT =
  `PyTorch reference skipped: \`${PYTHON} -c "import torch"\` failed; install it with ` +
  "`apt-get install python3-torch` (Debian/Ubuntu) to get tfjs/torch ratios";

/** Reference-only method: top-k with sparse dispatch (each expert runs on its routed tokens only). */
export const DISPATCH = "topk-dispatch";

export interface TorchInfo {
  version: string;
  cuda: boolean;
}

/** torch's version and whether CUDA is usable, or null when `import torch` fails. */
export async function probeTorch(python = PYTHON): Promise<TorchInfo | null> {
  try {
    const out = await new Deno.Command(python, {
      args: ["-c", "import json, torch; print(json.dumps([torch.__version__, torch.cuda.is_available()]))"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return null;
    const [version, cuda] = JSON.parse(new TextDecoder().decode(out.stdout));
    return { version, cuda };
  } catch {
    return null;
  }
}

export interface TorchRunOptions {
  device: "cpu" | "cuda";
  threads: number;
  check?: boolean;
  python?: string;
}

export interface TorchOutput<R> {
  torch: string;
  device: string;
  deviceInfo: string;
  threads: number;
  results: R[];
}

/** A case as the reference reads it (method may be the reference-only `topk-dispatch`). */
export type TorchCase = Omit<LayerCase, "method"> & { id: string; method: string };

export type TorchTiming = Timing & { id: string; peakBytes: number | null };

/** Start torch_reference.py with `extra` flags; OpenMP workers wait passively (see `runTorch`). */
function spawnTorch(extra: string[], opts: TorchRunOptions, stderr: "piped" | "inherit"): Deno.ChildProcess {
  return new Deno.Command(opts.python ?? PYTHON, {
    args: [TORCH_SCRIPT, ...extra, "--device", opts.device, "--threads", String(opts.threads)],
    stdin: "piped",
    stdout: "piped",
    stderr,
    env: { OMP_WAIT_POLICY: "PASSIVE" },
  }).spawn();
}

/**
 * Run the reference on `input` and parse its JSON answer. OpenMP threads wait passively: on a busy machine
 * spinning workers made torch's element-wise ops up to 10× slower than with one thread.
 */
export async function runTorch<R>(input: unknown, opts: TorchRunOptions): Promise<TorchOutput<R>> {
  const child = spawnTorch(opts.check ? ["--check"] : [], opts, "piped");
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
    throw new Error(`torch_reference.py failed (exit ${out.code}): ${err}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * One long-lived reference process (`--serve`): each request is a JSON line answered by a JSON line, so the
 * bench can time a shape in torch right after timing it in tfjs.
 */
export class TorchServer {
  private lines: AsyncIterator<string>;
  private writer: WritableStreamDefaultWriter<Uint8Array>;

  private constructor(private child: Deno.ChildProcess) {
    this.writer = child.stdin.getWriter();
    this.lines = readLines(child.stdout)[Symbol.asyncIterator]();
  }

  static start(opts: TorchRunOptions): TorchServer {
    const child = spawnTorch(["--serve"], opts, "inherit");
    return new TorchServer(child);
  }

  async request<R>(input: unknown): Promise<TorchOutput<R>> {
    await this.writer.write(new TextEncoder().encode(JSON.stringify(input) + "\n"));
    const next = await this.lines.next();
    if (next.done) throw new Error("torch_reference.py --serve exited early (see its error above)");
    return JSON.parse(next.value);
  }

  async close(): Promise<void> {
    await this.writer.close().catch(() => {});
    await this.child.status;
  }
}

/** Lines of a byte stream. */
async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) yield buf;
}

export interface TorchCheckResult {
  id: string;
  y: number[];
  loss: number;
  grads: Record<string, number[]>;
}

/** A --check case: the layer's own weights and input, so torch computes the very same numbers. */
export async function checkCase(id: string, c: LayerCase, layer: BenchLayer, x: tf.Tensor2D, method?: string) {
  return {
    ...c,
    id,
    method: method ?? c.method,
    weights: await layerWeights(layer),
    x: { shape: x.shape, data: await hostArray(x) },
  };
}

/** Largest |a − b| / (1 + |b|) over two equally long arrays (Infinity when lengths differ). */
export function maxRelDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}
