/**
 * The CLI convention every `deno task` follows: `node:util` parseArgs, `--help` everywhere, flags
 * validated with zod, and a bad flag answered by one line naming the flag and the allowed values, exit 2.
 */
import { parseArgs } from "node:util";
import type { z } from "zod";
import { BACKEND_CHOICES } from "../backend/backend.ts";
import { MoleError, UsageError } from "../errors.ts";

export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  description: string;
  /** Shown in help; parsing leaves absent flags undefined so schemas supply defaults. */
  default?: string | boolean;
  /** Allowed values, checked before the schema runs. */
  choices?: readonly string[];
  multiple?: boolean;
  /** Placeholder in help, e.g. `<n>`. */
  value?: string;
}

export interface CommandSpec {
  /** As typed: `deno task experiment`. */
  name: string;
  summary: string;
  /** The last one may be `variadic` (any number of values). */
  positionals?: { name: string; description: string; optional?: boolean; variadic?: boolean }[];
  flags: Record<string, FlagSpec>;
  examples?: string[];
  /** Extra help paragraphs (environment variables, notes). */
  notes?: string[];
}

/** The `--backend` flag shared by every command that computes. */
export const BACKEND_FLAG: FlagSpec = {
  type: "string",
  short: "b",
  description: "tensor backend (env MOLE_BACKEND); auto = webgpu on a real GPU, else blas, else wasm, else cpu",
  choices: BACKEND_CHOICES,
  default: "auto",
  value: "<name>",
};

export function helpText(spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) => {
    const n = p.variadic ? `${p.name}…` : p.name;
    return p.optional ? `[${n}]` : `<${n}>`;
  }).join(" ");
  const lines = [`${spec.name} — ${spec.summary}`, "", `usage: ${spec.name}${pos ? " " + pos : ""} [flags]`];
  if (spec.positionals?.length) {
    lines.push("", "arguments:");
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(24)} ${p.description}`);
  }
  lines.push("", "flags:");
  const entries: [string, FlagSpec][] = [
    ...Object.entries(spec.flags),
    ["help", { type: "boolean", short: "h", description: "show this help and exit" }],
  ];
  for (const [name, f] of entries) {
    const head = `${f.short ? `-${f.short}, ` : "    "}--${name}${
      f.type === "string" ? ` ${f.value ?? "<value>"}` : ""
    }`;
    let desc = f.description;
    if (f.choices) desc += ` (${f.choices.join("|")})`;
    if (f.default !== undefined && f.default !== false) desc += ` [default: ${f.default}]`;
    lines.push(`  ${head.padEnd(30)} ${desc}`);
  }
  for (const n of spec.notes ?? []) lines.push("", n);
  if (spec.examples?.length) {
    lines.push("", "examples:");
    for (const e of spec.examples) lines.push(`  ${e}`);
  }
  return lines.join("\n");
}

export type ParsedFlags = Record<string, string | boolean | string[] | undefined>;

/**
 * Parse `argv` against `spec`. Returns null after printing help for `--help`; throws `UsageError` (one
 * line, naming the flag) for unknown flags, missing values and values outside `choices`.
 */
export function parseCommand(
  spec: CommandSpec,
  argv: string[],
): { flags: ParsedFlags; positionals: string[] } | null {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${usageMessage((e as Error).message)}; see ${spec.name} --help`);
  }
  if (parsed.values.help) {
    console.log(helpText(spec));
    return null;
  }
  const flags = parsed.values as ParsedFlags;
  for (const [name, f] of Object.entries(spec.flags)) {
    const v = flags[name];
    if (f.choices && typeof v === "string" && !f.choices.includes(v)) {
      throw new UsageError(`--${name}: unknown value '${v}'; allowed: ${f.choices.join("|")}`);
    }
  }
  const maxPos = spec.positionals?.at(-1)?.variadic ? Infinity : spec.positionals?.length ?? 0;
  if (parsed.positionals.length > maxPos) {
    throw new UsageError(
      `unexpected argument '${parsed.positionals[maxPos]}'; ${spec.name} takes ${
        maxPos ? spec.positionals!.map((p) => p.name).join(", ") : "no arguments"
      }; see --help`,
    );
  }
  const required = (spec.positionals ?? []).filter((p) => !p.optional);
  if (parsed.positionals.length < required.length) {
    throw new UsageError(`missing argument <${required[parsed.positionals.length].name}>; see ${spec.name} --help`);
  }
  return { flags, positionals: parsed.positionals };
}

/** node:util's messages, shortened to name the flag. */
function usageMessage(msg: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(msg);
  if (unknown) return `unknown flag ${unknown[1]}`;
  const missing = /Option '([^']+)' argument missing/.exec(msg);
  if (missing) return `${missing[1].split(",").pop()!.trim().split(" ")[0]}: missing value`;
  const type = /Option '([^']+)' does not take an argument/.exec(msg);
  if (type) return `${type[1].split(",").pop()!.trim()}: takes no value`;
  return msg.split("\n")[0];
}

/** Validate parsed flags with a zod schema; an issue becomes `--flag-name: message` (exit 2). */
export function validateFlags<S extends z.ZodType>(schema: S, flags: ParsedFlags): z.output<S> {
  const r = schema.safeParse(flags);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = issue.path.map(String).join(".");
  throw new UsageError(`${key ? `--${key}` : "flags"}: ${issue.message}`);
}

/**
 * Run a command's body: a `MoleError` prints `error: <one line>` and exits with its code (2 for usage
 * and config errors); anything else prints the message and stack and exits 1.
 */
export async function runMain(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof MoleError) {
      console.error(`error: ${e.message}`);
      Deno.exit(e.exitCode);
    }
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    Deno.exit(1);
  }
}
