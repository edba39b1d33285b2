/**
 * Typed, validated configuration with zod: one schema per unit, defaults beside it, unknown keys
 * rejected, and errors reduced to one line naming the field.
 */
import { z } from "zod";
import { ConfigError } from "./errors.ts";

export { z };

type Issue = z.core.$ZodIssue;

/** For a union, the failing branch that got furthest (its first issue has the deepest path). */
function deepestIssue(issue: Issue): Issue {
  if (issue.code !== "invalid_union" || !issue.errors?.length) return issue;
  const candidates = issue.errors.map((branch) => branch[0]).filter(Boolean).map((i) => ({
    ...deepestIssue(i),
    path: [...issue.path, ...deepestIssue(i).path],
  }));
  return candidates.sort((a, b) => b.path.length - a.path.length)[0] ?? issue;
}

/** One line for the first problem zod found: `<where>.<path>: <message>`. */
export function formatZodError(error: z.ZodError, where: string): string {
  // A misspelt key shows up twice: unknown, and the intended key missing. Name the misspelling.
  const first = error.issues.find((i) => i.code === "unrecognized_keys") ?? error.issues[0];
  const issue = deepestIssue(first);
  const path = issue.path.map(String).join(".");
  const field = [where, path].filter(Boolean).join(".");
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}; ` +
      "remove or rename (unknown keys are rejected)";
  } else if (issue.code === "invalid_value" && "values" in issue) {
    message = `must be one of ${(issue.values as unknown[]).map(String).join("|")}`;
  }
  return `${field}: ${message.split("\n")[0]}`;
}

/** Parse `value` with `schema`; throw a one-line `ConfigError` naming `where` and the field. */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ConfigError(formatZodError(r.error, where));
  return r.data;
}
