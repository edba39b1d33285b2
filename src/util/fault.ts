/**
 * Fault injection for the reliability tests (`tests/faults/`). Named points in the write paths and the
 * training loop do nothing unless the environment variable `MOLE_FAULT` names them:
 *
 *   MOLE_FAULT=<action>:<point>[@<n>][,<action>:<point>[@<n>]…]
 *
 *   action  kill    SIGKILL this process there (a node dying, an OOM kill)
 *           enospc  fail as a full disk does (ENOSPC, "No space left on device (os error 28)")
 *           nan|inf make the loss at that point NaN or +Infinity (training diverged)
 *   point   mid-cell            every training step of a study cell (runner)
 *           train-loss          every update's loss (trainer; nan/inf)
 *           checkpoint-commit   a training checkpoint fully written, before its directory is renamed into place
 *           append:<file>       appending a line to <file> (fs.appendLine): the fault hits halfway through it
 *           write:<file>        replacing <file> (fs.atomicWrite): kill after the temp file is written, before
 *                               the rename; enospc halfway through writing the temp file
 *           <file> is a base name; `*` matches any characters (write:*.png).
 *   n       fire at the n-th time this process reaches a matching point (default 1), once.
 *
 * Example: `MOLE_FAULT=kill:mid-cell@6` dies in the second step of the second cell of a --quick grid.
 */
import { ConfigError } from "../errors.ts";

export const FAULT_ENV = "MOLE_FAULT";
export const FAULT_ACTIONS = ["kill", "enospc", "nan", "inf"] as const;
export type FaultAction = typeof FAULT_ACTIONS[number];

export interface FaultRule {
  action: FaultAction;
  /** The point pattern as written (`*` wildcards). */
  point: string;
  /** Fire at this hit (1-based). */
  at: number;
}

const RULE_RE = new RegExp(`^(${FAULT_ACTIONS.join("|")}):([^@,]+?)(?:@(\\d+))?$`);

/** Parse a MOLE_FAULT value; a malformed rule is a one-line ConfigError showing the syntax. */
export function parseFaults(spec: string): FaultRule[] {
  return spec.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
    const m = RULE_RE.exec(s);
    if (!m || (m[3] !== undefined && Number(m[3]) < 1)) {
      throw new ConfigError(
        `${FAULT_ENV}: cannot parse '${s}'; expected <${FAULT_ACTIONS.join("|")}>:<point>[@<n ≥ 1>], ` +
          "e.g. kill:mid-cell@3 or enospc:append:cells.jsonl",
      );
    }
    return { action: m[1] as FaultAction, point: m[2], at: m[3] === undefined ? 1 : Number(m[3]) };
  });
}

/** True when `point` matches `pattern` (`*` matches any run of characters). */
export function pointMatches(pattern: string, point: string): boolean {
  const re = pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${re}$`).test(point);
}

let rules: { rule: FaultRule; hits: number }[] | null = null;

function armed(): { rule: FaultRule; hits: number }[] {
  rules ??= parseFaults(Deno.env.get(FAULT_ENV) ?? "").map((rule) => ({ rule, hits: 0 }));
  return rules;
}

/** Parse MOLE_FAULT now, so a typo is a one-line error at startup rather than at the first fault point. */
export function checkFaults(): void {
  armed();
}

/** Test hook: re-read MOLE_FAULT (or use `spec`) and reset the hit counters. */
export function resetFaults(spec?: string): void {
  rules = spec === undefined ? null : parseFaults(spec).map((rule) => ({ rule, hits: 0 }));
}

/** Count a hit of `point`; the action to take now, or null (the usual case: no MOLE_FAULT at all). */
export function faultAt(point: string): FaultAction | null {
  const active = armed();
  if (active.length === 0) return null;
  let action: FaultAction | null = null;
  for (const r of active) {
    if (!pointMatches(r.rule.point, point)) continue;
    r.hits++;
    if (r.hits === r.rule.at) action ??= r.rule.action;
  }
  return action;
}

/** The error a full disk raises (the shape Deno gives a real ENOSPC). */
export function diskFullError(): Error {
  return Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
}

/** Carry out `action` at `point`: kill never returns, enospc throws, nan/inf are for `faultValue`. */
export function fire(action: FaultAction, point: string): void {
  if (action === "kill") {
    console.error(`[fault] ${FAULT_ENV}: SIGKILL at ${point}`);
    Deno.kill(Deno.pid, "SIGKILL");
    // SIGKILL is delivered before the next instruction matters; never continue past a kill point.
    for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
  if (action === "enospc") throw diskFullError();
}

/** A fault point: nothing unless MOLE_FAULT names it (then kill or fail as configured). */
export function faultPoint(point: string): void {
  const action = faultAt(point);
  if (action) fire(action, point);
}

/** A value point: `value`, or NaN / +Infinity when MOLE_FAULT says so (kill and enospc act as usual). */
export function faultValue(point: string, value: number): number {
  const action = faultAt(point);
  if (action === "nan") return NaN;
  if (action === "inf") return Infinity;
  if (action) fire(action, point);
  return value;
}
