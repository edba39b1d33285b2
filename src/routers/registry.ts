/**
 * Every routing method by name. Adding a method = one file exporting its schema and `SiteMethod` (or
 * `BlockMethod`) + one line here + one row in `src/moe/methods_test.ts`.
 */
import { parseConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { type AdaMoleConfig, adamoleMethod } from "./adamole.ts";
import { type DynMoleConfig, dynmoleMethod } from "./dynmole.ts";
import { type LoraConfig, loraMethod } from "./lora.ts";
import type { SiteMethod } from "./method.ts";
import { type BlockMethod, type MoaSoftConfig, moaSoftMethod, type MoaSparseConfig, moaSparseMethod } from "./moa.ts";
import { type MolaConfig, molaMethod } from "./mola.ts";
import { type ThresholdConfig, thresholdMethod } from "./threshold.ts";
import { type TopKConfig, topkMethod } from "./topk.ts";

export type SiteMethodConfig = LoraConfig | TopKConfig | ThresholdConfig | MolaConfig | AdaMoleConfig | DynMoleConfig;
export type BlockMethodConfig = MoaSoftConfig | MoaSparseConfig;
export type MethodConfig = SiteMethodConfig | BlockMethodConfig;
export type MethodName = MethodConfig["method"];

// deno-lint-ignore no-explicit-any
type AnySiteMethod = SiteMethod<any>;
// deno-lint-ignore no-explicit-any
type AnyBlockMethod = BlockMethod<any>;

export const METHODS: Record<MethodName, AnySiteMethod | AnyBlockMethod> = {
  lora: loraMethod,
  topk: topkMethod,
  threshold: thresholdMethod,
  mola: molaMethod,
  adamole: adamoleMethod,
  dynmole: dynmoleMethod,
  "moa-soft": moaSoftMethod,
  "moa-sparse": moaSparseMethod,
};

export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

export function getMethod(name: string): AnySiteMethod | AnyBlockMethod {
  const m = METHODS[name as MethodName];
  if (!m) throw new ConfigError(`method: unknown method '${name}'; allowed: ${METHOD_NAMES.join("|")}`);
  return m;
}

/** Validate a method config: `{method: "<name>", ...overrides}`; defaults fill the rest, unknown keys fail. */
export function parseMethodConfig(value: unknown, where = "method"): MethodConfig {
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(
      `${where}: expected an object like {"method": "topk"}; allowed methods: ${METHOD_NAMES.join("|")}`,
    );
  }
  const name = (value as { method?: unknown }).method;
  if (typeof name !== "string") {
    throw new ConfigError(`${where}.method: missing; allowed: ${METHOD_NAMES.join("|")}`);
  }
  if (!(name in METHODS)) {
    throw new ConfigError(`${where}.method: unknown method '${name}'; allowed: ${METHOD_NAMES.join("|")}`);
  }
  return parseConfig(METHODS[name as MethodName].schema, value, where) as MethodConfig;
}

/** The method's defaults (from methods.md), with `overrides` applied and validated. */
export function methodConfig(name: MethodName, overrides: Record<string, unknown> = {}): MethodConfig {
  return parseMethodConfig({ ...overrides, method: name });
}

export function isBlockMethod(cfg: MethodConfig): cfg is BlockMethodConfig {
  return METHODS[cfg.method].kind === "block";
}
