/**
 * Crash-safe file writes: write a temp file beside the target, fsync, then rename over it, so a reader
 * (or a resumed run) sees either the old file or the new one, never half of one.
 *
 * `setWriteFault` lets fault-injection tests make the next writes fail, as a full disk would.
 */
import { dirname } from "node:path";

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

/** Atomically replace `path` with `data` (creating parent directories). */
export async function atomicWrite(path: string, data: string | Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    checkFault(path);
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
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
  const f = await Deno.open(path, { read: true, append: true, create: true });
  try {
    await f.lock(true);
    // A writer killed mid-line leaves no newline: start on a fresh line so rows never merge with a fragment.
    const size = (await f.stat()).size;
    let prefix = "";
    if (size > 0) {
      const last = new Uint8Array(1);
      await f.seek(size - 1, Deno.SeekMode.Start);
      await f.read(last);
      if (last[0] !== 0x0a) prefix = "\n";
    }
    const bytes = new TextEncoder().encode(prefix + line + "\n");
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.sync();
    await f.unlock();
  } finally {
    f.close();
  }
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
