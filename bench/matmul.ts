/**
 * `deno task bench:matmul`: square float32 matmul throughput (GFLOP/s) per tfjs backend, beside the raw
 * `cblas_sgemm` rate, so the `blas` backend's overhead is visible (target: within 1.5× of raw at 1024³).
 */
import * as tf from "@tensorflow/tfjs";
import { type BackendName, initBackend } from "../src/backend/backend.ts";
import { loadBlas } from "../src/backend/blas_ffi.ts";
import { type CommandSpec, parseCommand, runMain, validateFlags } from "../src/cli/cli.ts";
import { z } from "../src/config.ts";
import { gflopRate } from "./stats.ts";

const spec: CommandSpec = {
  name: "deno task bench:matmul",
  summary: "square matmul GFLOP/s per backend, and the raw cblas_sgemm rate",
  flags: {
    sizes: { type: "string", description: "comma-separated matrix sizes", default: "256,512,1024", value: "<n,…>" },
    backends: {
      type: "string",
      description: "comma-separated backends to time (webgpu is skipped without an adapter)",
      default: "cpu,wasm,blas,webgpu",
      value: "<list>",
    },
    "min-ms": { type: "string", description: "time each cell for at least this long", default: "300", value: "<ms>" },
  },
  examples: ["deno task bench:matmul", "deno task bench:matmul --sizes 1024,2048 --backends blas"],
};

const Flags = z.object({
  sizes: z.string().default("256,512,1024").transform((s) => s.split(",").map(Number)).pipe(
    z.array(z.number().int().positive("sizes must be positive integers")),
  ),
  backends: z.string().default("cpu,wasm,blas,webgpu").transform((s) => s.split(",")).pipe(
    z.array(z.enum(["cpu", "wasm", "blas", "webgpu", "tensorflow"])),
  ),
  "min-ms": z.coerce.number().positive().default(300),
});

/** GFLOP/s of `run` (one n³ matmul). */
const rate = (n: number, minMs: number, run: () => Promise<void>) => gflopRate(2 * n ** 3, minMs, run);

await runMain(async () => {
  const parsed = parseCommand(spec, Deno.args);
  if (!parsed) return;
  const flags = validateFlags(Flags, parsed.flags);
  const rows: Record<string, string | number>[] = [];
  const blas = loadBlas();
  if (blas) {
    for (const n of flags.sizes) {
      const a = new Float32Array(n * n).map(() => Math.random());
      const b = new Float32Array(n * n).map(() => Math.random());
      const c = new Float32Array(n * n);
      rows.push({
        backend: "raw cblas_sgemm",
        n,
        gflops: await rate(n, flags["min-ms"], () => {
          blas.sgemm(false, false, n, n, n, a, b, c);
          return Promise.resolve();
        }),
      });
    }
  }
  for (const name of flags.backends as BackendName[]) {
    try {
      await initBackend(name);
    } catch (e) {
      console.error(`skip ${name}: ${(e as Error).message}`);
      continue;
    }
    for (const n of flags.sizes) {
      const a = tf.randomNormal([n, n]);
      const b = tf.randomNormal([n, n]);
      const minMs = name === "cpu" && n >= 1024 ? 0 : flags["min-ms"]; // cpu at 1024³ takes seconds
      const g = await rate(n, minMs, async () => {
        const c = tf.matMul(a, b);
        await c.data();
        c.dispose();
      });
      tf.dispose([a, b]);
      rows.push({ backend: name, n, gflops: g });
    }
  }
  console.log("backend".padEnd(18) + flags.sizes.map((n) => `${n}³`.padStart(10)).join("") + "   (GFLOP/s)");
  for (const backend of [...new Set(rows.map((r) => r.backend as string))]) {
    const cells = flags.sizes.map((n) => {
      const r = rows.find((x) => x.backend === backend && x.n === n);
      return (r ? (r.gflops as number).toFixed(1) : "-").padStart(10);
    });
    console.log(backend.padEnd(18) + cells.join(""));
  }
  const raw = rows.find((r) => r.backend === "raw cblas_sgemm" && r.n === 1024)?.gflops as number | undefined;
  const ours = rows.find((r) => r.backend === "blas" && r.n === 1024)?.gflops as number | undefined;
  if (raw && ours) {
    const ratio = raw / ours;
    console.log(
      `\nblas backend vs raw cblas_sgemm at 1024³: ${ratio.toFixed(2)}× slower (target ≤ 1.5×) — ${
        ratio <= 1.5 ? "met" : "NOT met"
      }`,
    );
  }
});
