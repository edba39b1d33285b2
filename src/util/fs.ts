/**
 * Crash-safe file writes: write a temp file beside the target, fsync, then rename over it, so a reader
 * (or a resumed run) sees either the old file or the new one, never half of one. A process killed between
 * the two leaves a `<file>.<8 hex>.tmp` beside it, which `removeStaleTemps` clears on the next run.
 *
 * `setWriteFault` lets fault-injection tests make the next writes fail, as a full disk would; the
 * `write:<file>` and `append:<file>` points of `fault.ts` do the same (and SIGKILL) from MOLE_FAULT.
 */
import { basename, dirname, join } from "node:path";
import { MoleError, WriteError } from "../errors.ts";
export { WriteError };
import { faultAt, fire } from "./fault.ts";

type Fault = ((path: string) => Error | null) | null;
let fault: Fault = null;

/** Test hook: `fn(path)` returning an Error makes that write fail before anything is renamed. */
export function setWriteFault(fn: Fault): void {
  fault = fn;
}

function checkFault(path: string): void {
  const e = fault?.(path);
  if (e) throw e;
}

/** Write all of `bytes` at the descriptor's position. */
async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await f.write(bytes.subarray(off));
}

/** Name the file an I/O error was about (Deno's write errors do not), keeping the error's class. */
function withPath(e: unknown, path: string): unknown {
  if (e instanceof Error && !("path" in e)) Object.assign(e, { path });
  return e;
}

/** Atomically replace `path` with `data` (creating parent directories). */
export async function atomicWrite(path: string, data: string | Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const point = `write:${basename(path)}`;
  try {
    checkFault(path);
    const fault = faultAt(point);
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      await writeAll(f, fault === "enospc" ? bytes.subarray(0, bytes.length >> 1) : bytes);
      if (fault === "enospc") fire(fault, point);
      await f.sync();
    } finally {
      f.close();
    }
    if (fault) fire(fault, point); // kill: the temp file is complete, the rename has not happened
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw withPath(e, path);
  }
}

/** Temp files `atomicWrite` leaves when its process is killed mid-write: `<name>.<8 hex>.tmp`. */
export const TEMP_RE = /\.[0-9a-f]{8}\.tmp$/;

/**
 * Remove the temp files killed writers left directly in `dir`; returns their names. Only call it where no
 * live process writes into `dir` (e.g. under the directory's `withLock`).
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  if (!(await exists(dir))) return [];
  const removed: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && TEMP_RE.test(e.name)) {
      await Deno.remove(join(dir, e.name)).catch(() => {});
      removed.push(e.name);
    }
  }
  return removed.sort();
}

/** Run `fn` holding an exclusive advisory lock on the file `lockPath` (created empty when missing). */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(dirname(lockPath), { recursive: true });
  const f = await Deno.open(lockPath, { read: true, write: true, create: true });
  try {
    await f.lock(true);
    return await fn();
  } finally {
    f.close(); // closing the descriptor releases the lock
  }
}

/** True when the open descriptor `f` is still the file at `path` (not replaced by a rename since). */
async function isCurrent(f: Deno.FsFile, path: string): Promise<boolean> {
  const [a, b] = [await f.stat(), await Deno.stat(path).catch(() => null)];
  if (!b) return false;
  return a.ino === null || (a.ino === b.ino && a.dev === b.dev);
}

/** Open `path` for appending and lock it, reopening when a `rewriteLocked` replaced it meanwhile. */
async function openLocked(path: string): Promise<Deno.FsFile> {
  for (;;) {
    const f = await Deno.open(path, { read: true, append: true, create: true });
    try {
      await f.lock(true);
      if (await isCurrent(f, path)) return f;
    } catch (e) {
      f.close();
      throw e;
    }
    f.close();
  }
}

/** Atomically write `value` as pretty JSON with a trailing newline. */
export function atomicWriteJson(path: string, value: unknown): Promise<void> {
  return atomicWrite(path, JSON.stringify(value, null, 2) + "\n");
}

/**
 * Append one line to a JSONL file so concurrent appenders never interleave or lose lines: the whole line
 * goes out in a single `write` on an O_APPEND descriptor under an exclusive advisory lock, then fsync.
 */
export async function appendLine(path: string, line: string): Promise<void> {
  if (line.includes("\n")) throw new Error("appendLine: the line must not contain a newline");
  await Deno.mkdir(dirname(path), { recursive: true });
  checkFault(path);
  const point = `append:${basename(path)}`;
  const f = await openLocked(path);
  let size = -1;
  try {
    // A writer killed mid-line leaves no newline: start on a fresh line so rows never merge with a fragment.
    size = (await f.stat()).size;
    let prefix = "";
    if (size > 0) {
      const last = new Uint8Array(1);
      await f.seek(size - 1, Deno.SeekMode.Start);
      await f.read(last);
      if (last[0] !== 0x0a) prefix = "\n";
    }
    const bytes = new TextEncoder().encode(prefix + line + "\n");
    const fault = faultAt(point);
    await writeAll(f, fault ? bytes.subarray(0, bytes.length >> 1) : bytes);
    if (fault) {
      await f.sync();
      fire(fault, point); // kill leaves a torn line (repaired on resume); enospc throws
    }
    await f.sync();
  } catch (e) {
    // A failed write (a full disk) may have written part of the line: cut the file back, still under the lock.
    if (size >= 0) await f.truncate(size).catch(() => {});
    throw withPath(e, path);
  } finally {
    f.close();
  }
}

/**
 * Rewrite a file that `appendLine` appends to, atomically and without losing a concurrent append:
 * `transform` gets the current text under the file's lock and returns the new text (or null: unchanged).
 * Appenders blocked on the old file notice the rename and append to the new one.
 */
export async function rewriteLocked(path: string, transform: (text: string) => string | null): Promise<boolean> {
  if (!(await exists(path))) return false;
  const f = await openLocked(path);
  try {
    await f.seek(0, Deno.SeekMode.Start);
    const text = new TextDecoder().decode(await readAllFrom(f));
    const next = transform(text);
    if (next === null) return false;
    await atomicWrite(path, next);
    return true;
  } finally {
    f.close();
  }
}

async function readAllFrom(f: Deno.FsFile): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(1 << 16);
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) (out.set(c, at), at += c.length);
  return out;
}

/** A write that failed for a reason the user can fix (a full disk, no permission): one line, exit 1. */

const WRITE_FIXES: Record<string, string> = {
  ENOSPC: "the disk is full; free space there (or write elsewhere: --out, MOLE_CACHE_DIR)",
  EDQUOT: "the disk quota is exceeded; free space there (or write elsewhere: --out, MOLE_CACHE_DIR)",
  EACCES: "permission denied; make it writable (or write elsewhere: --out, MOLE_CACHE_DIR)",
  EROFS: "the file system is read-only; write elsewhere (--out, MOLE_CACHE_DIR)",
};

/**
 * A full disk, a quota or a permission problem while writing becomes a `WriteError` naming the file and
 * the fix; anything else is returned unchanged. `resume` tells what a rerun keeps.
 */
export function explainWriteError(e: unknown, resume = "then rerun"): unknown {
  if (!(e instanceof Error) || e instanceof MoleError) return e;
  const code = (e as { code?: string }).code ??
    (e instanceof Deno.errors.PermissionDenied ? "EACCES" : /os error 28\b/.test(e.message) ? "ENOSPC" : "");
  const fix = WRITE_FIXES[code];
  if (!fix) return e;
  const path = (e as { path?: string }).path;
  return new WriteError(`${path ? `cannot write ${path}` : "a write failed"}: ${fix}, ${resume}`);
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
