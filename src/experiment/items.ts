/**
 * Per-item correctness of one evaluation, stored compactly in each result row so the report can pair cells
 * item by item (shared/design/statistics.md): per task a base64 bitset in the task's record order, and a short
 * hash of the evaluated items' identities so rows evaluated on different items are never paired.
 */
import type { QARecord, TaskName } from "../data/types.ts";
import { sha256Hex } from "../util/hash.ts";

/** Which items of each task were answered correctly (bit i of `bits`: the task's i-th record). */
export interface ItemResults {
  /** 16 hex chars of SHA-256 over every evaluated record's task, instruction and input, in order. */
  hash: string;
  perTask: Partial<Record<TaskName, { n: number; bits: string }>>;
}

/** Base64 of a bitset: item i is bit (i mod 8) of byte ⌊i / 8⌋ (least significant bit first). */
export function encodeBits(correct: ArrayLike<number | boolean>): string {
  const bytes = new Uint8Array(Math.ceil(correct.length / 8));
  for (let i = 0; i < correct.length; i++) if (correct[i]) bytes[i >> 3] |= 1 << (i & 7);
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

/** The `n` 0/1 values `encodeBits` stored. */
export function decodeBits(bits: string, n: number): Uint8Array {
  const raw = atob(bits);
  if (raw.length !== Math.ceil(n / 8)) {
    throw new Error(`item bitset holds ${raw.length} bytes, ${n} items need ${Math.ceil(n / 8)}`);
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (raw.charCodeAt(i >> 3) >> (i & 7)) & 1;
  return out;
}

/** Short hash of the evaluated items' identities (task, instruction, input), in evaluation order. */
export async function itemsHash(records: QARecord[]): Promise<string> {
  const text = records.map((r) => `${r.task}\u0000${r.instruction}\u0000${r.input}`).join("\u0001");
  return (await sha256Hex(text)).slice(0, 16);
}

/**
 * Per-task bitsets from per-record correctness (`correct[i]` for `records[i]`); each task's bits follow the
 * order its records have in `records`.
 */
export function itemResults(records: QARecord[], correct: ArrayLike<number | boolean>, hash: string): ItemResults {
  if (correct.length !== records.length) {
    throw new Error(`itemResults: ${correct.length} results for ${records.length} records`);
  }
  const byTask = new Map<TaskName, number[]>();
  records.forEach((r, i) => {
    let xs = byTask.get(r.task);
    if (!xs) byTask.set(r.task, xs = []);
    xs.push(correct[i] ? 1 : 0);
  });
  const perTask: ItemResults["perTask"] = {};
  for (const [t, xs] of byTask) perTask[t] = { n: xs.length, bits: encodeBits(xs) };
  return { hash, perTask };
}

/** The decoded 0/1 correctness of one task (null when the task was not evaluated). */
export function taskItems(items: ItemResults, task: TaskName): Uint8Array | null {
  const t = items.perTask[task];
  return t ? decodeBits(t.bits, t.n) : null;
}
