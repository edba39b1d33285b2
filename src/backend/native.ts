/**
 * Native kernels for the `blas` backend: `native/kernels.c`, compiled on first use with the system C
 * compiler and loaded through Deno FFI. They replace the JS loops of the element-wise and row-wise kernels
 * (`fused_kernels.ts`, `fast_kernels.ts`) — vectorised, and with a float exp where JS pays ≈ 7.5 ns per
 * Math.exp — and leave every other kernel as it was.
 *
 * The library is cached per source, compiler and instruction set under `.cache/native/` (or
 * `MOLE_NATIVE_DIR`), written to a temp name and renamed, so concurrent processes (Slurm array tasks) share
 * one build safely. No compiler, a failed build or `MOLE_NATIVE=0`: the JS kernels run, and the backend's
 * one-line description says why. Both paths are tested against the cpu backend.
 */
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { exists } from "../util/fs.ts";
import { sha256Hex } from "../util/hash.ts";

const SOURCE_URL = new URL("./native/kernels.c", import.meta.url);

/** Environment: `MOLE_NATIVE=0` keeps the JS kernels; `MOLE_NATIVE_DIR` moves the build cache; `CC` picks the compiler. */
export const NATIVE_ENV = "MOLE_NATIVE";
export const NATIVE_DIR_ENV = "MOLE_NATIVE_DIR";

/** IEEE-exact flags: no contraction into FMA, no fast-math; -fno-trapping-math lets selects vectorise. */
const BASE_FLAGS = [
  "-O3",
  "-std=c11",
  "-fPIC",
  "-shared",
  "-ffp-contract=off",
  "-fno-math-errno",
  "-fno-trapping-math",
];

const SYMBOLS = {
  mole_binary: {
    parameters: ["i32", "buffer", "buffer", "buffer", "buffer", "buffer", "i32", "i32", "i32", "i32"],
    result: "void",
  },
  mole_transpose: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "i32"],
    result: "void",
  },
  mole_tsallis: { parameters: ["buffer", "buffer", "i32", "i32", "f32", "f32", "f64"], result: "void" },
  mole_tsallis_grad: {
    parameters: ["buffer", "buffer", "buffer", "i32", "i32", "f32", "f32", "f64"],
    result: "void",
  },
  mole_expert_scale: { parameters: ["buffer", "buffer", "buffer", "i32", "i32", "f64"], result: "void" },
  mole_expert_scale_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "i32", "i32", "f64"],
    result: "void",
  },
  mole_renorm: { parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "i32"], result: "void" },
  mole_renorm_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "i32", "i32"],
    result: "void",
  },
  mole_topk_mask: { parameters: ["buffer", "buffer", "i32", "i32", "i32"], result: "void" },
  mole_dynamic_mask: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "f32", "i32", "f32", "i32"],
    result: "void",
  },
  mole_unary: { parameters: ["i32", "buffer", "buffer", "i32"], result: "void" },
  mole_swiglu: { parameters: ["buffer", "buffer", "buffer", "buffer", "i32"], result: "void" },
  mole_swiglu_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i32"],
    result: "void",
  },
  mole_rmsnorm: { parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "f64"], result: "void" },
  mole_rmsnorm_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i32", "i32"],
    result: "void",
  },
  mole_rope: { parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "i32"], result: "void" },
  mole_softmax_rows: {
    parameters: ["buffer", "buffer", "i32", "i32", "i32", "f32", "i32"],
    result: "void",
  },
  mole_softmax_grad: { parameters: ["buffer", "buffer", "buffer", "i32", "i32", "f64"], result: "void" },
  mole_cross_entropy: { parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32"], result: "f64" },
  mole_cross_entropy_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "f64"],
    result: "void",
  },
  mole_sum_squares: { parameters: ["buffer", "i32"], result: "f64" },
  mole_adamw: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
    ],
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

export type NativeSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Operation codes of `mole_binary` and `mole_unary` (kernels.c's enums). */
export const BINARY_OP = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 } as const;
export const UNARY_OP = { Exp: 0, Sigmoid: 1, Neg: 2, Square: 3, Log: 4 } as const;

export interface NativeInfo {
  /** The loaded library, or null (`detail` says why). */
  symbols: NativeSymbols | null;
  /** One line for the backend description: the build used, or why the JS kernels run. */
  detail: string;
}

let loaded: NativeInfo | undefined;
let enabled = true;

/** The native kernels when loaded and enabled, else null (the JS kernels run). */
export function native(): NativeSymbols | null {
  return enabled ? loaded?.symbols ?? null : null;
}

/** Sizes go to C as int32: longer arrays take the JS loops. */
const I32_MAX = 0x7fffffff;

/**
 * The native kernels for these arrays: null unless loaded, enabled and every array is a Float32Array (of at most
 * 2³¹ − 1 elements). (tfjs-cpu's
 * Cast from bool or int32 to float32 keeps the Uint8Array / Int32Array values under the new dtype; JS loops read
 * them fine, C would read them as floats.)
 */
export function nativeFor(...arrays: unknown[]): NativeSymbols | null {
  const c = native();
  if (!c) return null;
  for (const a of arrays) if (!(a instanceof Float32Array) || a.length > I32_MAX) return null;
  return c;
}

/** Whether the native path is switched on (it runs only where the kernels also loaded). */
export function nativeEnabled(): boolean {
  return enabled;
}

/** Switch the native path off or on (tests compare both; the bench measures both in one run). */
export function setNativeEnabled(on: boolean): void {
  enabled = on;
}

/** Compile (once per machine) and load the native kernels; never throws. */
export async function loadNative(): Promise<NativeInfo> {
  if (loaded) return loaded;
  loaded = await tryLoad().catch((e) => ({
    symbols: null,
    detail: `JS kernels (native build failed: ${String((e as Error).message).split("\n")[0]})`,
  }));
  return loaded;
}

async function tryLoad(): Promise<NativeInfo> {
  if (Deno.env.get(NATIVE_ENV) === "0") return { symbols: null, detail: `JS kernels (${NATIVE_ENV}=0)` };
  if (SOURCE_URL.protocol !== "file:") return { symbols: null, detail: "JS kernels (source not on a local disk)" };
  const cc = Deno.env.get("CC") ?? "cc";
  const version = await run(cc, ["--version"]).catch(() => null);
  if (version === null) return { symbols: null, detail: `JS kernels (no C compiler '${cc}' on PATH)` };
  const isa = await instructionSet();
  const flags = [...BASE_FLAGS, ...(isa === "avx2" ? ["-mavx2"] : [])];
  const source = await Deno.readTextFile(SOURCE_URL);
  const compiler = version.split("\n")[0].trim();
  const key = (await sha256Hex([source, compiler, flags.join(" "), Deno.build.target].join("\n"))).slice(0, 16);
  const dir = Deno.env.get(NATIVE_DIR_ENV) ?? fromFileUrl(new URL("../../.cache/native/", import.meta.url));
  const ext = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";
  const lib = join(dir, `mole_kernels-${key}.${ext}`);
  if (!(await exists(lib))) {
    await Deno.mkdir(dir, { recursive: true });
    const tmp = `${lib}.${crypto.randomUUID().slice(0, 8)}.tmp`; // util/fs.ts's temp naming (TEMP_RE)
    try {
      await run(cc, [...flags, "-o", tmp, fromFileUrl(SOURCE_URL), "-lm"]);
      await Deno.rename(tmp, lib);
    } finally {
      await Deno.remove(tmp).catch(() => {}); // a failed build leaves nothing behind
    }
  }
  const { symbols } = Deno.dlopen(lib, SYMBOLS);
  return { symbols, detail: `native kernels (${compiler}, ${isa})` };
}

/** "avx2" when the CPU has it (x86-64 Linux), else "generic": AVX2 and SSE2 builds compute identical bits. */
async function instructionSet(): Promise<string> {
  if (Deno.build.arch !== "x86_64" || Deno.build.os !== "linux") return "generic";
  const info = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return /^flags\s*:.*\bavx2\b/m.test(info) ? "avx2" : "generic";
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!out.success) throw new Error(`${cmd} ${args.at(-2) ?? ""}: ${text(out.stderr).trim() || `exit ${out.code}`}`);
  return text(out.stdout);
}
