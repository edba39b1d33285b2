/**
 * The fault-injection switch itself (src/util/fault.ts) and the one-line form of write errors
 * (src/util/fs.ts explainWriteError): rule syntax, wildcards, hit counting, the ENOSPC stand-in.
 */
import { ConfigError, MoleError } from "../../src/errors.ts";
import { assert, assertEquals, assertThrows } from "../../src/testing/asserts.ts";
import { diskFullError, faultAt, faultValue, parseFaults, pointMatches, resetFaults } from "../../src/util/fault.ts";
import { explainWriteError, WriteError } from "../../src/util/fs.ts";

Deno.test("MOLE_FAULT rules: action, point (with *), @n; anything else is one line with the syntax", () => {
  assertEquals(parseFaults("kill:mid-cell@3, enospc:write:*.png,nan:train-loss"), [
    { action: "kill", point: "mid-cell", at: 3 },
    { action: "enospc", point: "write:*.png", at: 1 },
    { action: "nan", point: "train-loss", at: 1 },
  ]);
  assertEquals(parseFaults(""), []);
  for (const bad of ["explode:mid-cell", "kill", "kill:mid-cell@0", "kill:@2"]) {
    const e = assertThrows(() => parseFaults(bad), ConfigError);
    assert(e.message.startsWith(`MOLE_FAULT: cannot parse '${bad}'; expected <kill|enospc|nan|inf>:<point>`));
  }
  assert(pointMatches("write:*.png", "write:average.png"));
  assert(!pointMatches("write:*.png", "write:average.png.json"));
  assert(pointMatches("append:cells.jsonl", "append:cells.jsonl"));
  assert(!pointMatches("append:cells.jsonl", "append:cellsXjsonl"), "a dot is not a wildcard");
});

Deno.test("a rule fires once, at its n-th matching hit; other points are untouched", () => {
  resetFaults("enospc:append:*@2,inf:train-loss@3");
  try {
    assertEquals([faultAt("append:a"), faultAt("write:a"), faultAt("append:b"), faultAt("append:c")], [
      null,
      null,
      "enospc",
      null,
    ]);
    assertEquals([1, 2, 3, 4].map((x) => faultValue("train-loss", x)), [1, 2, Infinity, 4]);
  } finally {
    resetFaults(); // back to MOLE_FAULT (unset in tests)
  }
  assertEquals(faultAt("append:a"), null);
});

Deno.test("write errors a user can fix become one line naming the file and the fix; others pass through", () => {
  const full = Object.assign(diskFullError(), { path: "/r/cells.jsonl" });
  const e = explainWriteError(full, "then rerun");
  assert(e instanceof WriteError && e instanceof MoleError);
  assertEquals(
    e.message,
    "cannot write /r/cells.jsonl: the disk is full; free space there (or write elsewhere: --out, MOLE_CACHE_DIR), " +
      "then rerun",
  );
  const denied = explainWriteError(Object.assign(new Deno.errors.PermissionDenied("denied"), { path: "/r/x" }));
  assertEquals(
    (denied as Error).message,
    "cannot write /r/x: permission denied; make it writable (or write " +
      "elsewhere: --out, MOLE_CACHE_DIR), then rerun",
  );
  const other = new TypeError("a bug");
  assertEquals(explainWriteError(other), other);
  const known = new ConfigError("already one line");
  assertEquals(explainWriteError(known), known);
});
