import type { QARecord, TaskName } from "../data/types.ts";
import { assertEquals, assertNotEquals, assertThrows } from "../testing/asserts.ts";
import { Rng } from "../util/rng.ts";
import { decodeBits, encodeBits, itemResults, itemsHash, taskItems } from "./items.ts";

Deno.test("item bitsets round-trip: empty, 1, 8, 9 and 2000 items", () => {
  const rng = new Rng(4);
  for (const n of [0, 1, 8, 9, 2000]) {
    const xs = Uint8Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
    const bits = encodeBits(xs);
    assertEquals(decodeBits(bits, n), xs, `n = ${n}`);
    assertEquals(atob(bits).length, Math.ceil(n / 8));
  }
  assertEquals(encodeBits([]), "");
  assertEquals(encodeBits([1]), "AQ==");
  // bit i is bit (i mod 8) of byte ⌊i/8⌋: items 0, 2, 8 → bytes 0b101, 0b1
  assertEquals(encodeBits([1, 0, 1, 0, 0, 0, 0, 0, 1]), btoa("\x05\x01"));
  assertEquals(decodeBits(encodeBits([true, false, true]), 3), Uint8Array.from([1, 0, 1]));
  assertThrows(() => decodeBits("AQ==", 9), Error, "9 items need 2");
});

function rec(task: TaskName, instruction: string): QARecord {
  return { task, instruction, input: "", output: "", answer: "" };
}

Deno.test("itemResults: per-task bitsets in each task's record order; hash changes with the items", async () => {
  const records = [rec("boolq", "a"), rec("piqa", "b"), rec("boolq", "c"), rec("boolq", "d")];
  const hash = await itemsHash(records);
  assertEquals(hash.length, 16);
  const items = itemResults(records, [1, 0, 0, 1], hash);
  assertEquals(items.perTask.boolq!.n, 3);
  assertEquals(taskItems(items, "boolq"), Uint8Array.from([1, 0, 1]));
  assertEquals(taskItems(items, "piqa"), Uint8Array.from([0]));
  assertEquals(taskItems(items, "hellaswag"), null);
  assertEquals(await itemsHash(records), hash);
  assertNotEquals(await itemsHash([...records.slice(0, 3), rec("boolq", "e")]), hash);
  assertNotEquals(await itemsHash([records[1], records[0], records[2], records[3]]), hash);
  assertThrows(() => itemResults(records, [1], hash), Error, "1 results for 4 records");
});
