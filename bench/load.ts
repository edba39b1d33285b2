/**
 * Checkpoint loading memory (issue 15, goal 6): the peak resident memory of `loadHfModel` on a BF16
 * checkpoint, as a multiple of the model's float32 parameter bytes — the floor, since the weights live in
 * host memory as float32 once loaded.
 *
 * The parent writes a random Llama checkpoint (one model.safetensors, and shards with an index) to a temp
 * directory; a fresh child process per layout imports tfjs, starts the backend, resets the kernel's peak-RSS
 * counter (/proc/self/clear_refs), loads, and reports VmHWM − the RSS it started from. Linux only; elsewhere
 * the case is skipped with a note.
 */
import { join } from "node:path";
import { type BackendName, initBackend } from "../src/backend/backend.ts";
import { parseLlamaConfig } from "../src/model/config.ts";
import { hfParamShapes, writeHfConfig } from "../src/model/hf_config.ts";
import { loadHfModel } from "../src/model/hf_model.ts";
import { type HostTensor, numel, writeCheckpointTensors } from "../src/model/safetensors.ts";
import { Rng } from "../src/util/rng.ts";

/** A 57 M-parameter Llama (228 MB as float32): large enough that the runtime's own memory is noise. */
export const LOAD_SHAPE = {
  vocabSize: 32001,
  dModel: 512,
  nLayers: 8,
  nHeads: 8,
  nKvHeads: 4,
  headDim: 64,
  dFF: 1376,
  maxSeqLen: 128,
  tieEmbeddings: false,
};
export type LoadShape = typeof LOAD_SHAPE;

export interface LoadResult {
  layout: "single" | "sharded";
  dtype: "BF16";
  shards: number;
  fileBytes: number;
  f32Bytes: number;
  /** VmHWM during the load − VmRSS before it. */
  peakBytes: number;
  /** VmRSS after the load − before it (what the loaded weights hold). */
  heldBytes: number;
  peakRatio: number;
  seconds: number;
}

/** Write the checkpoint in both layouts and measure each in a child process. */
export async function benchLoad(shape: LoadShape, backend: BackendName, shardBytes: number): Promise<LoadResult[]> {
  if (Deno.build.os !== "linux") return [];
  const cfg = parseLlamaConfig({ ...shape }, "load bench");
  const rng = new Rng(11);
  const tensors = new Map<string, HostTensor>();
  for (const [name, s] of hfParamShapes(cfg)) {
    const data = new Float32Array(numel(s));
    for (let i = 0; i < data.length; i++) data[i] = (rng.next() - 0.5) * 0.05;
    tensors.set(name, { shape: s, data });
  }
  const f32Bytes = [...tensors.values()].reduce((a, t) => a + 4 * t.data.length, 0);
  const root = await Deno.makeTempDir({ prefix: "mole-load-" });
  try {
    const out: LoadResult[] = [];
    for (const layout of ["single", "sharded"] as const) {
      const dir = join(root, layout);
      await Deno.mkdir(dir);
      await writeHfConfig(dir, cfg);
      const files = await writeCheckpointTensors(dir, tensors, {
        dtype: "BF16",
        shardBytes: layout === "sharded" ? shardBytes : undefined,
      });
      let fileBytes = 0;
      for (const f of files) if (f.endsWith(".safetensors")) fileBytes += (await Deno.stat(join(dir, f))).size;
      const child = await measureChild(dir, backend);
      out.push({
        layout,
        dtype: "BF16",
        shards: files.filter((f) => f.endsWith(".safetensors")).length,
        fileBytes,
        f32Bytes,
        peakBytes: child.peakBytes,
        heldBytes: child.heldBytes,
        peakRatio: child.peakBytes / f32Bytes,
        seconds: child.seconds,
      });
    }
    return out;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function measureChild(dir: string, backend: BackendName) {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--frozen", import.meta.filename!, dir, backend],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await cmd.output();
  const text = new TextDecoder().decode(stdout).trim().split("\n").at(-1) ?? "";
  if (code !== 0) throw new Error(`load bench child failed: ${new TextDecoder().decode(stderr).trim()}`);
  return JSON.parse(text) as { peakBytes: number; heldBytes: number; seconds: number };
}

/** VmRSS and VmHWM of this process, in bytes. */
function residentBytes(): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)![1]) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

async function child(dir: string, backend: BackendName): Promise<void> {
  await initBackend(backend);
  const before = residentBytes().rss;
  Deno.writeTextFileSync("/proc/self/clear_refs", "5"); // reset VmHWM to the current RSS
  const t0 = performance.now();
  const model = await loadHfModel(dir);
  const seconds = (performance.now() - t0) / 1000;
  const after = residentBytes();
  console.log(JSON.stringify({ peakBytes: after.hwm - before, heldBytes: after.rss - before, seconds }));
  model.base.dispose();
}

if (import.meta.main) await child(Deno.args[0], Deno.args[1] as BackendName);
