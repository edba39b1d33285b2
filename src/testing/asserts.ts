/**
 * Test assertions. Deno's `@std/assert` lives on JSR, which is unreachable here, so the project keeps
 * its own small set with the same names and meanings, built on `node:assert`'s deep equality.
 */
import { isDeepStrictEqual } from "node:util";

export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}values differ\n  actual:   ${fmt(actual)}\n  expected: ${fmt(expected)}`,
    );
  }
}

export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (isDeepStrictEqual(actual, expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}values are equal: ${fmt(actual)}`);
  }
}

/**
 * Every value of every output identical bit for bit (Object.is: −0 ≠ +0, NaN = NaN). `what` names the case in
 * the message, which gives the first differing output and index.
 */
export function assertBitIdentical(actual: number[][], expected: number[][], what: string): void {
  assertEquals(actual.length, expected.length, `${what}: number of outputs`);
  for (const [i, v] of actual.entries()) {
    assertEquals(v.length, expected[i].length, `${what}: length of output ${i}`);
    for (let j = 0; j < v.length; j++) {
      if (!Object.is(v[j], expected[i][j])) {
        throw new AssertionError(`${what}: output ${i}[${j}] is ${v[j]}, expected ${expected[i][j]} (bit-identical)`);
      }
    }
  }
}

/** |actual − expected| ≤ tolerance (default 1e-7 relative to expected, at least 1e-7). */
export function assertAlmostEquals(actual: number, expected: number, tolerance?: number, msg?: string): void {
  const tol = tolerance ?? Math.max(1e-7, Math.abs(expected) * 1e-7);
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}${actual} is not within ${tol} of ${expected} (Δ = ${Math.abs(actual - expected)})`,
    );
  }
}

/** Element-wise |a − e| ≤ atol + rtol·|e|, reporting the first offending index. */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol = 1e-5,
  rtol = 0,
  msg?: string,
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError(`${msg ? msg + ": " : ""}length ${actual.length} vs ${expected.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    const tol = atol + rtol * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new AssertionError(
        `${msg ? msg + ": " : ""}index ${i}: ${actual[i]} vs ${expected[i]} (|Δ| = ${
          Math.abs(actual[i] - expected[i])
        } > ${tol})`,
      );
    }
  }
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function checkError<E extends Error>(e: unknown, cls?: ErrorClass<E>, includes?: string): E {
  if (cls && !(e instanceof cls)) {
    throw new AssertionError(`expected ${cls.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : fmt(e)}`);
  }
  if (includes !== undefined && !(e as Error).message.includes(includes)) {
    throw new AssertionError(`error message "${(e as Error).message}" does not include "${includes}"`);
  }
  return e as E;
}

export function assertThrows<E extends Error = Error>(fn: () => unknown, cls?: ErrorClass<E>, includes?: string): E {
  try {
    fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new AssertionError("expected the function to throw");
}

export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  cls?: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new AssertionError("expected the promise to reject");
}

function fmt(v: unknown): string {
  try {
    return Deno.inspect(v, { depth: 4, iterableLimit: 20 });
  } catch {
    return String(v);
  }
}
