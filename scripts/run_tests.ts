/**
 * `deno task test [files…] [deno test flags…]` (not named test.ts: deno test would collect it as a test
 * module): runs `deno test`, streams its output, and ends with the plain summary line CI reads —
 * `N passed, N failed` — counted from deno's JUnit report (skipped tests, if any, on the line before).
 * Exits with deno test's code.
 */
if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(`deno task test — run the test suite (every *_test.ts) and end with "N passed, N failed"

usage: deno task test [files or directories…] [deno test flags…]

Any other flag goes to \`deno test\` (e.g. --filter <pattern>, --fail-fast); see \`deno test --help\`.

examples:
  deno task test
  deno task test src/routers
  deno task test --filter adamole`);
  Deno.exit(0);
}

const junit = await Deno.makeTempFile({ prefix: "mole-junit-", suffix: ".xml" });
const args = ["test", "-A", "--frozen", `--junit-path=${junit}`, ...Deno.args];
const child = new Deno.Command(Deno.execPath(), {
  args,
  stdout: "inherit",
  stderr: "inherit",
  env: { NO_COLOR: "1" },
}).spawn();
const { code } = await child.status;

let xml = "";
try {
  xml = await Deno.readTextFile(junit);
} catch {
  // deno test died before writing the report (e.g. a type error): counted as one failure below.
}
await Deno.remove(junit).catch(() => {});

/** Count top-level test cases: steps (named `parent > step`) are folded into their parent's result. */
function summarize(report: string): { passed: number; failed: number; skipped: number } {
  const cases = [...report.matchAll(/<testcase\b[^>]*?\bname="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)]
    .map((m) => ({ name: m[1], body: m[3] ?? "" }));
  const names = new Set(cases.map((c) => c.name));
  const isStep = (name: string) => [...names].some((n) => n !== name && name.startsWith(`${n} &gt; `));
  const s = { passed: 0, failed: 0, skipped: 0 };
  for (const c of cases) {
    if (isStep(c.name)) continue;
    if (/<(failure|error)\b/.test(c.body)) s.failed++;
    else if (/<skipped\b/.test(c.body)) s.skipped++;
    else s.passed++;
  }
  return s;
}

const s = summarize(xml);
if (code !== 0 && s.failed === 0) s.failed = 1; // a crash or type error with no failing case recorded
if (s.skipped > 0) console.log(`\n${s.skipped} skipped`);
console.log(`\n${s.passed} passed, ${s.failed} failed`);
Deno.exit(code);
