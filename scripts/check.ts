/** `deno task check`: the quality gate — `deno fmt --check`, `deno lint`, `deno check` — stopping at the first failure. */
import { type CommandSpec, parseCommand, runMain } from "../src/cli/cli.ts";
import { MoleError } from "../src/errors.ts";

const spec: CommandSpec = {
  name: "deno task check",
  summary: "formatting, lint and type check of the whole repository (CI runs it before the tests)",
  flags: {},
  examples: ["deno task check", "deno fmt   # to fix formatting"],
};

const STEPS: [string, string[]][] = [
  ["format", ["fmt", "--check"]],
  ["lint", ["lint"]],
  ["type check", ["check", "--frozen", "."]],
];

await runMain(async () => {
  if (!parseCommand(spec, Deno.args)) return;
  for (const [name, args] of STEPS) {
    const { code } = await new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "inherit" }).output();
    if (code !== 0) throw new MoleError(`${name} failed (deno ${args.join(" ")}); fix the issues above`);
    console.log(`✓ ${name}`);
  }
});
