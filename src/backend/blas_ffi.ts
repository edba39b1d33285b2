/**
 * The system BLAS's `cblas_sgemm`, reached through Deno FFI.
 *
 * Linux: OpenBLAS (Debian `libopenblas0`) or any CBLAS; macOS: Accelerate. The library is found by probing
 * the usual names; `MOLE_BLAS_LIB` overrides the probe with one exact path.
 */

/** CBLAS enum values (cblas.h). */
const CblasRowMajor = 101;
const CblasNoTrans = 111;
const CblasTrans = 112;

const SGEMM = {
  parameters: [
    "i32", // order
    "i32", // transA
    "i32", // transB
    "i32", // M
    "i32", // N
    "i32", // K
    "f32", // alpha
    "buffer", // A
    "i32", // lda
    "buffer", // B
    "i32", // ldb
    "f32", // beta
    "buffer", // C
    "i32", // ldc
  ],
  result: "void",
} as const;

type SgemmLib = Deno.DynamicLibrary<{ cblas_sgemm: typeof SGEMM }>;

/**
 * Below this many multiply-adds (or with an output side under 64) one OpenBLAS thread is faster: measured
 * here, a [1024,16]·[16,128] product took 58 µs on one thread and 277 µs on two, while 1024³ ran at 95 vs
 * 180 GFLOP/s. OpenBLAS's own threshold threads the small LoRA-sized products of a training step.
 */
const THREAD_MIN_MACS = 32 * 1024 * 1024;
const THREAD_MIN_SIDE = 64;

/** The environment variable that names the BLAS library to load. */
export const BLAS_LIB_ENV = "MOLE_BLAS_LIB";

/** Library names tried in order when `MOLE_BLAS_LIB` is unset. */
export function blasCandidates(os: typeof Deno.build.os = Deno.build.os): string[] {
  if (os === "darwin") {
    return [
      "/System/Library/Frameworks/Accelerate.framework/Accelerate",
      "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
      "/usr/local/opt/openblas/lib/libopenblas.dylib",
    ];
  }
  if (os === "windows") return ["libopenblas.dll", "openblas.dll"];
  const arch = Deno.build.arch === "aarch64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  return [
    "libopenblas.so.0",
    `/usr/lib/${arch}/libopenblas.so.0`,
    `/usr/lib/${arch}/openblas-pthread/libopenblas.so.0`,
    "libopenblas.so",
    "/usr/lib64/libopenblas.so.0",
    "libcblas.so.3",
    `/usr/lib/${arch}/libblas.so.3`,
    "libblas.so.3",
  ];
}

/** A loaded BLAS: where it came from, and a row-major sgemm over Float32Arrays. */
export interface Blas {
  path: string;
  /** OpenBLAS's own configuration string, when the library is OpenBLAS. */
  config?: string;
  /** How many sgemm calls were made (tests use it to prove a kernel went through BLAS). */
  calls: number;
  /** Threads OpenBLAS may use for large products (1 when the library offers no thread control). */
  maxThreads: number;
  /** C[M×N] = op(A)[M×K] · op(B)[K×N], row-major, overwriting C (beta = 0). */
  sgemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
  ): void;
  close(): void;
}

/** OpenBLAS's extras when present: its config string and thread control. */
function openblasExtras(path: string) {
  try {
    const lib = Deno.dlopen(path, {
      openblas_get_config: { parameters: [], result: "pointer" },
      openblas_get_num_threads: { parameters: [], result: "i32" },
      openblas_set_num_threads: { parameters: ["i32"], result: "void" },
    });
    const ptr = lib.symbols.openblas_get_config();
    return {
      config: ptr ? new Deno.UnsafePointerView(ptr).getCString() : undefined,
      maxThreads: lib.symbols.openblas_get_num_threads(),
      setThreads: (n: number) => lib.symbols.openblas_set_num_threads(n),
    };
  } catch {
    return { config: undefined, maxThreads: 1, setThreads: null }; // not OpenBLAS
  }
}

function openOne(path: string): Blas {
  const lib: SgemmLib = Deno.dlopen(path, { cblas_sgemm: SGEMM });
  const { config, maxThreads, setThreads } = openblasExtras(path);
  let threads = maxThreads;
  const f = lib.symbols.cblas_sgemm;
  const blas: Blas = {
    path,
    config,
    calls: 0,
    maxThreads,
    sgemm(transA, transB, M, N, K, a, b, c) {
      blas.calls++;
      if (setThreads && maxThreads > 1) {
        const want = M * N * K >= THREAD_MIN_MACS && Math.min(M, N) >= THREAD_MIN_SIDE ? maxThreads : 1;
        if (want !== threads) setThreads(threads = want);
      }
      const lda = transA ? M : K;
      const ldb = transB ? K : N;
      f(
        CblasRowMajor,
        transA ? CblasTrans : CblasNoTrans,
        transB ? CblasTrans : CblasNoTrans,
        M,
        N,
        K,
        1,
        a,
        lda,
        b,
        ldb,
        0,
        c,
        N,
      );
    },
    close: () => lib.close(),
  };
  return blas;
}

let cached: Blas | null | undefined;
let lastError = "";

/**
 * Load the system BLAS once. Returns null (and remembers why, see `blasLoadError`) when no candidate
 * loads or FFI is not permitted.
 */
export function loadBlas(): Blas | null {
  if (cached !== undefined) return cached;
  const override = Deno.env.get(BLAS_LIB_ENV);
  const candidates = override ? [override] : blasCandidates();
  const errors: string[] = [];
  for (const path of candidates) {
    try {
      cached = openOne(path);
      return cached;
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  lastError = override
    ? `${BLAS_LIB_ENV}=${override} could not be loaded (${errors[0]})`
    : `no BLAS library found (tried ${candidates.join(", ")}); install one, e.g. ` +
      `\`apt-get install libopenblas0\`, or set ${BLAS_LIB_ENV} to its path`;
  cached = null;
  return null;
}

/** Why `loadBlas()` returned null. */
export function blasLoadError(): string {
  return lastError;
}
