/**
 * Choose and initialise the tfjs backend: `cpu`, `wasm`, `blas`, `webgpu`, `tensorflow` or `auto`.
 *
 * Every entry point calls `initBackend` once before touching tensors; tfjs would otherwise pick
 * whichever registered backend has the highest priority (webgpu, even on a software adapter).
 */
import * as tf from "@tensorflow/tfjs";
import { BLAS_BACKEND, registerBlasBackend } from "./blas_backend.ts";
import { blasLoadError, loadBlas } from "./blas_ffi.ts";
import { loadNative } from "./native.ts";
import { MoleError } from "../errors.ts";

export const BACKEND_NAMES = ["cpu", "wasm", "blas", "webgpu", "tensorflow"] as const;
export type BackendName = typeof BACKEND_NAMES[number];
export const BACKEND_CHOICES = [...BACKEND_NAMES, "auto"] as const;
export type BackendChoice = typeof BACKEND_CHOICES[number];

/** Environment variable read when no `--backend` flag is given. */
export const BACKEND_ENV = "MOLE_BACKEND";

/** What was asked for, what runs, and the details a manifest records. */
export interface BackendInfo {
  requested: BackendChoice;
  name: BackendName;
  /** One line for humans: library, adapter, SIMD/threads. */
  detail: string;
  tfjs: string;
}

/** A backend that cannot start here; the message says why and what to do. */
export class BackendError extends MoleError {
  override name = "BackendError";
}

/** Install hint printed when `--backend tensorflow` finds no tfjs-node package. */
export const TENSORFLOW_INSTALL_HINT =
  "backend 'tensorflow' needs @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node (CPU), which are " +
  "not installed: on a machine whose install scripts can download libtensorflow, run " +
  "`deno add --allow-scripts npm:@tensorflow/tfjs-node-gpu@4.22.0` (or tfjs-node), then retry; " +
  "or pick --backend blas|wasm|webgpu|cpu";

/** The specifiers tried, in order, by the tensorflow backend (overridable for tests). */
export const TENSORFLOW_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];

/** Parse a backend choice (flag or env value); throws a one-line error naming the allowed values. */
export function parseBackendChoice(value: string, source = "--backend"): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new BackendError(
    `${source}: unknown backend '${value}'; allowed: ${BACKEND_CHOICES.join("|")}`,
  );
}

/** The choice from the environment, or `auto`. */
export function backendFromEnv(): BackendChoice {
  const v = Deno.env.get(BACKEND_ENV);
  return v ? parseBackendChoice(v, BACKEND_ENV) : "auto";
}

async function webgpuAdapter(): Promise<GPUAdapter | null> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return null;
  try {
    return await gpu.requestAdapter();
  } catch {
    return null;
  }
}

function isFallback(adapter: GPUAdapter): boolean {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return Boolean(info?.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
}

async function setOrThrow(name: BackendName, why: string): Promise<void> {
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new BackendError(`backend '${name}' failed to start: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!ok) throw new BackendError(`backend '${name}' failed to start: ${why}`);
  await tf.ready();
}

async function startCpu(): Promise<string> {
  await setOrThrow("cpu", "tfjs cpu backend did not initialise");
  return "tfjs pure-JS kernels";
}

async function startWasm(): Promise<string> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  await setOrThrow("wasm", "its .wasm files could not be read (needs --allow-read)");
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  return `XNNPACK wasm, SIMD ${simd ? "on" : "off"}, threads ${wasm.getThreadsCount()}`;
}

async function startBlas(): Promise<string> {
  if (!registerBlasBackend()) throw new BackendError(`backend 'blas': ${blasLoadError()}`);
  await setOrThrow(BLAS_BACKEND as BackendName, "the cpu kernels could not be re-registered");
  const blas = loadBlas()!;
  const kernels = await loadNative();
  return `${blas.config ?? "cblas"} (${blas.path}) + ${kernels.detail} + tfjs cpu kernels`;
}

async function startWebgpu(): Promise<string> {
  const adapter = await webgpuAdapter();
  if (!adapter) {
    throw new BackendError(
      "backend 'webgpu': no WebGPU adapter (navigator.gpu.requestAdapter() returned none); " +
        "on Linux install Mesa (libegl1 libegl-mesa0 libgl1-mesa-dri) or a GPU driver",
    );
  }
  await import("@tensorflow/tfjs-backend-webgpu");
  await setOrThrow("webgpu", "tfjs webgpu backend did not initialise");
  const info = adapter.info;
  return `${info.description || info.vendor || "adapter"}${isFallback(adapter) ? " (software fallback adapter)" : ""}`;
}

async function startTensorflow(): Promise<string> {
  const errors: string[] = [];
  for (const spec of TENSORFLOW_PACKAGES) {
    try {
      // A computed specifier: deno install/check never try to fetch this optional package.
      await import(spec);
      await setOrThrow("tensorflow", `${spec} loaded but registered no backend`);
      return `${spec} (libtensorflow)`;
    } catch (e) {
      if (e instanceof BackendError) throw e;
      errors.push(`${spec}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  throw new BackendError(TENSORFLOW_INSTALL_HINT);
}

const STARTERS: Record<BackendName, () => Promise<string>> = {
  cpu: startCpu,
  wasm: startWasm,
  blas: startBlas,
  webgpu: startWebgpu,
  tensorflow: startTensorflow,
};

/** `auto`: a real GPU adapter → webgpu; else a loadable BLAS → blas; else wasm; else cpu. */
export async function resolveAuto(): Promise<BackendName> {
  const adapter = await webgpuAdapter();
  if (adapter && !isFallback(adapter)) return "webgpu";
  if (loadBlas()) return "blas";
  try {
    await import("@tensorflow/tfjs-backend-wasm");
    if (tf.findBackendFactory("wasm")) return "wasm";
  } catch {
    // fall through to cpu
  }
  return "cpu";
}

let current: BackendInfo | undefined;

/**
 * Start the chosen backend (default: `--backend` absent → `MOLE_BACKEND` → `auto`) and return what runs.
 * Throws `BackendError` with a one-line, actionable message when it cannot start.
 */
export async function initBackend(choice: BackendChoice = backendFromEnv()): Promise<BackendInfo> {
  tf.enableProdMode();
  const name = choice === "auto" ? await resolveAuto() : choice;
  const detail = await STARTERS[name]();
  current = { requested: choice, name, detail, tfjs: tf.version.tfjs };
  return current;
}

/** The backend started by the last `initBackend`, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

/** One line for logs: `backend: blas (OpenBLAS …)`. */
export function describeBackend(info: BackendInfo): string {
  const auto = info.requested === "auto" ? " [auto]" : "";
  return `backend: ${info.name}${auto} — ${info.detail}`;
}
