/**
 * `deno task notebooks [name…]`: install the Deno Jupyter kernel if needed, execute every notebook headless
 * with Debian's Jupyter client (scripts/run_nb.py: drains late outputs, fails on a cell error or on a
 * "display" cell without output), and write the executed copies to results/notebooks/.
 */
import { join } from "node:path";
import { type CommandSpec, parseCommand, runMain, validateFlags } from "../src/cli/cli.ts";
import { z } from "../src/config.ts";
import { MoleError } from "../src/errors.ts";

const spec: CommandSpec = {
  name: "deno task notebooks",
  summary: "execute every notebook headless with the Deno kernel; executed copies go to results/notebooks/",
  positionals: [{
    name: "notebook",
    description: "names to run (default: all in notebooks/)",
    optional: true,
    variadic: true,
  }],
  flags: {
    out: { type: "string", description: "where executed copies go", default: "results/notebooks", value: "<dir>" },
    quick: { type: "boolean", description: "use the tiny base recipe (sets MOLE_QUICK=1 for the kernel)" },
  },
  notes: ["Needs Debian's jupyter-nbconvert, jupyter-client and python3-nbclient (.ci/run installs them)."],
  examples: ["deno task notebooks", "deno task notebooks --quick quickstart"],
};

const Flags = z.object({ out: z.string().default("results/notebooks"), quick: z.boolean().default(false) });
const PYTHON = "/usr/bin/python3";

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const o = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  return { ok: o.success, out: new TextDecoder().decode(o.stdout), err: new TextDecoder().decode(o.stderr) };
}

await runMain(async () => {
  const p = parseCommand(spec, Deno.args);
  if (!p) return;
  const flags = validateFlags(Flags, p.flags);
  const names = p.positionals;
  if (!(await run(PYTHON, ["-c", "import nbclient, nbformat"]).catch(() => ({ ok: false }))).ok) {
    throw new MoleError(
      "Jupyter's Python client is missing: apt-get install jupyter-nbconvert jupyter-client python3-nbclient",
    );
  }
  const install = await run(Deno.execPath(), ["jupyter", "--install", "--force"]);
  if (!install.ok) throw new MoleError(`deno jupyter --install failed: ${install.err.trim().split("\n").at(-1)}`);
  const dir = join(Deno.cwd(), "notebooks");
  const all = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".ipynb")).map((e) => e.name.slice(0, -6))
    .sort();
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length) throw new MoleError(`unknown notebook ${unknown[0]}; available: ${all.join(", ")}`);
  const todo = names.length ? names : all;
  const env: Record<string, string> = { NO_COLOR: "1", ...(flags.quick ? { MOLE_QUICK: "1" } : {}) };
  let failed = 0;
  for (const name of todo) {
    const t0 = performance.now();
    const dst = join(Deno.cwd(), flags.out, `${name}.ipynb`);
    const r = await run(PYTHON, [join(Deno.cwd(), "scripts", "run_nb.py"), join(dir, `${name}.ipynb`), dst], env);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (r.ok) console.log(`✓ ${name} (${secs} s) → ${join(flags.out, `${name}.ipynb`)}`);
    else {
      failed++;
      console.error(`✗ ${name} (${secs} s): ${r.err.trim().split("\n").filter((l) => !l.includes("unstable")).at(-1)}`);
    }
  }
  if (failed) throw new MoleError(`${failed} of ${todo.length} notebooks failed; executed copies are in ${flags.out}/`);
});
