/**
 * `deno task fuzz [--long | --inputs N]`: the loaders' mutation fuzz corpus (tests/fuzz/) with more inputs than the
 * test suite's 500 per loader; prints inputs tried and outcomes per loader.
 */
import { parseArgs } from "node:util";

const HELP = `deno task fuzz — mutation-fuzz the safetensors, HF config, tokenizer and LLM-Adapters loaders

usage: deno task fuzz [--long] [--inputs N]

  --inputs N   inputs per loader (default 500, the test suite's corpus)
  --long       20,000 inputs per loader
  -h, --help   this text

Every input must load or raise the project's one-line error; anything else fails with the input's index and
mutations (the corpus is fixed by its seed, so a finding reproduces).`;

const { values } = parseArgs({
  args: Deno.args,
  options: { long: { type: "boolean" }, inputs: { type: "string" }, help: { type: "boolean", short: "h" } },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const n = values.inputs ? Number(values.inputs) : values.long ? 20000 : 500;
if (!Number.isInteger(n) || n < 1) {
  console.error(`error: --inputs must be a positive integer, got ${values.inputs}; e.g. --inputs 2000`);
  Deno.exit(2);
}
const { code } = await new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--frozen", "tests/fuzz/"],
  env: { MOLE_FUZZ: String(n) },
  stdout: "inherit",
  stderr: "inherit",
}).output();
Deno.exit(code);
