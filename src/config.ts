/**
 * Typed, validated configuration with zod: one schema per unit, defaults beside it, unknown keys
 * rejected, and errors reduced to one line naming the field.
 */
import { z } from "zod";
import { ConfigError } from "./errors.ts";

export { z };

/** One line for the first problem zod found: `<where>.<path>: <message>`. */
export function formatZodError(error: z.ZodError, where: string): string {
  const issue = error.issues[0];
  const path = issue.path.map(String).join(".");
  const field = [where, path].filter(Boolean).join(".");
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}; ` +
      "remove or rename (unknown keys are rejected)";
  } else if (issue.code === "invalid_value" && "values" in issue) {
    message = `must be one of ${(issue.values as unknown[]).map(String).join("|")}`;
  }
  return `${field}: ${message}`;
}

/** Parse `value` with `schema`; throw a one-line `ConfigError` naming `where` and the field. */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ConfigError(formatZodError(r.error, where));
  return r.data;
}
