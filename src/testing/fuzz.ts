/**
 * Mutation fuzzing for the loaders: from valid seed files, a fixed-seed stream of corrupted inputs — flipped
 * bytes, truncations, spliced and duplicated chunks, inserted junk, numbers inflated to 10¹⁵ / 2⁵³ / −1 / 1e308
 * (lengths, offsets, shapes, sizes), numbers copied over other numbers (overlapping offsets), and a safetensors
 * header length rewritten. Each input must either load or raise the project's one-line error (a `MoleError`
 * whose message has no newline); anything else — another exception (a RangeError from a huge allocation, a
 * TypeError), or an input taking longer than `maxMs` — is a finding.
 */
import { MoleError } from "../errors.ts";
import { Rng } from "../util/rng.ts";

export interface Mutation {
  name: string;
  apply(seed: Uint8Array, rng: Rng, seeds: readonly Uint8Array[]): Uint8Array;
}

const HUGE = ["1000000000000000", "9007199254740993", "-1", "1e308", "4294967296", "0", "18446744073709551615"];

/** An index below n (0 when n is 0): Rng.int with an empty range guarded. */
const at = (rng: Rng, n: number) => rng.int(Math.max(1, n));

/** Spans of ASCII digits (with an optional leading minus) in `bytes`. */
function numberSpans(bytes: Uint8Array): [number, number][] {
  const spans: [number, number][] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] < 48 || bytes[i] > 57) continue;
    let j = i;
    while (j < bytes.length && bytes[j] >= 48 && bytes[j] <= 57) j++;
    spans.push([i > 0 && bytes[i - 1] === 45 ? i - 1 : i, j]);
    i = j;
  }
  return spans;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
};

export const MUTATIONS: Mutation[] = [
  {
    name: "flip bytes",
    apply: (s, rng) => {
      const out = s.slice();
      for (let k = 1 + at(rng, 8); k > 0; k--) out[at(rng, out.length)] ^= 1 + at(rng, 255);
      return out;
    },
  },
  { name: "truncate", apply: (s, rng) => s.slice(0, at(rng, s.length)) },
  {
    name: "splice",
    apply: (s, rng, seeds) => {
      const other = rng.pick(seeds);
      const a = at(rng, other.length);
      const b = a + at(rng, other.length - a);
      const p = at(rng, s.length);
      return concat(s.subarray(0, p), other.subarray(a, b), s.subarray(p + at(rng, 16)));
    },
  },
  {
    name: "duplicate chunk",
    apply: (s, rng) => {
      const a = at(rng, s.length);
      const b = a + at(rng, Math.min(64, s.length - a));
      return concat(s.subarray(0, b), s.subarray(a, b), s.subarray(b));
    },
  },
  {
    name: "insert junk",
    apply: (s, rng) => {
      const junk = Uint8Array.from({ length: 1 + at(rng, 16) }, () => at(rng, 256));
      const p = at(rng, s.length);
      return concat(s.subarray(0, p), junk, s.subarray(p));
    },
  },
  {
    name: "inflate a number",
    apply: (s, rng) => {
      const spans = numberSpans(s);
      if (!spans.length) return s.slice();
      const [a, b] = rng.pick(spans);
      return concat(s.subarray(0, a), new TextEncoder().encode(rng.pick(HUGE)), s.subarray(b));
    },
  },
  {
    name: "copy a number over another",
    apply: (s, rng) => {
      const spans = numberSpans(s);
      if (spans.length < 2) return s.slice();
      const [a, b] = rng.pick(spans);
      const [c, d] = rng.pick(spans);
      return concat(s.subarray(0, a), s.subarray(c, d), s.subarray(b));
    },
  },
  {
    name: "rewrite the length prefix",
    apply: (s, rng) => {
      const out = s.slice();
      if (out.length < 8) return out;
      const v = new DataView(out.buffer);
      const choices = [0n, 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(out.length), BigInt(Math.max(0, out.length - 9))];
      v.setBigUint64(0, rng.pick(choices), true);
      return out;
    },
  },
];

export interface FuzzReport {
  tried: number;
  loaded: number;
  rejected: number;
  /** Per mutation: inputs tried. */
  byMutation: Record<string, number>;
  /** Inputs that neither loaded nor raised a one-line MoleError, or ran too long. */
  findings: { index: number; mutation: string; what: string }[];
}

/**
 * Feed `n` mutated inputs (deterministic in `seed`) to `load`; stacked mutations (1–3 per input) reach states a
 * single one does not.
 */
export async function fuzz(
  seeds: readonly Uint8Array[],
  n: number,
  seed: number,
  load: (input: Uint8Array) => unknown | Promise<unknown>,
  maxMs = 2000,
): Promise<FuzzReport> {
  const rng = new Rng(seed);
  const report: FuzzReport = { tried: 0, loaded: 0, rejected: 0, byMutation: {}, findings: [] };
  for (let i = 0; i < n; i++) {
    let input = rng.pick(seeds);
    const names: string[] = [];
    for (let k = 1 + at(rng, 3); k > 0; k--) {
      const m = rng.pick(MUTATIONS);
      input = m.apply(input, rng, seeds);
      names.push(m.name);
    }
    const mutation = names.join(" + ");
    for (const name of names) report.byMutation[name] = (report.byMutation[name] ?? 0) + 1;
    report.tried++;
    const t0 = performance.now();
    try {
      await load(input);
      report.loaded++;
    } catch (e) {
      if (e instanceof MoleError && !e.message.includes("\n")) report.rejected++;
      else report.findings.push({ index: i, mutation, what: `${(e as Error).name}: ${(e as Error).message}` });
    }
    const ms = performance.now() - t0;
    if (ms > maxMs) report.findings.push({ index: i, mutation, what: `took ${ms.toFixed(0)} ms (limit ${maxMs})` });
  }
  return report;
}

/** Inputs per loader: 500 in the test suite, more with MOLE_FUZZ=<n> (`deno task fuzz --long`). */
export function fuzzBudget(): number {
  const n = Number(Deno.env.get("MOLE_FUZZ") ?? "500");
  return Number.isInteger(n) && n > 0 ? n : 500;
}
