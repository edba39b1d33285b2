import { assertEquals } from "../testing/asserts.ts";
import { fmtTime } from "./progress.ts";

Deno.test("times read m:ss, rounding to the second first", () => {
  assertEquals([fmtTime(0), fmtTime(59.4), fmtTime(59.6), fmtTime(299.7), fmtTime(3601)], [
    "0:00",
    "0:59",
    "1:00",
    "5:00",
    "60:01",
  ]);
  assertEquals(fmtTime(Infinity), "--:--");
});
