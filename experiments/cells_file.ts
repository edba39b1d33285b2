/**
 * An ad-hoc study from a JSON file (`deno task experiment --cells <file.json>`): a grid written as data, for a
 * question that does not deserve a study file. Each cell names a method and, optionally, overrides of the
 * preset's train/eval settings, or its own data/base; seeds come from --seeds and the preset from --quick /
 * --data / --base, as for every study. One table and one chart, grouped by label. Everything is validated
 * before anything runs: an unknown key or method is one line naming the file, the cell and the field (exit 2).
 *
 *   { "name": "lora-rank", "title": "LoRA rank", "cells": [
 *     { "label": "LoRA r4", "method": { "method": "lora", "rank": 4 } },
 *     { "label": "LoRA r16", "method": { "method": "lora", "rank": 16 }, "train": { "lr": 1e-3 } } ] }
 */
import { formatZodError, z } from "../src/config.ts";
import { TASKS } from "../src/data/types.ts";
import { ConfigError } from "../src/errors.ts";
import type { CellSpec } from "../src/experiment/spec.ts";
import type { Study, StudyOptions } from "../src/experiment/study.ts";
import { barWithErrorBars } from "../src/report/charts.ts";
import { aggregateBySeed, meanStdTable, tableRows } from "../src/report/tables.ts";
import { flatten, mainProtocol, preset } from "./common.ts";

const Obj = z.record(z.string(), z.unknown());

const CellEntrySchema = z.strictObject({
  label: z.string().min(1, "must not be empty"),
  /** Extra fields tables may group by; `label` is always one. */
  group: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  method: Obj,
  train: Obj.default({}),
  eval: Obj.default({}),
  /** Replace the preset's data or base spec (see src/experiment/spec.ts). */
  data: Obj.optional(),
  base: Obj.optional(),
});

export const CellsFileSchema = z.strictObject({
  name: z.string().regex(
    /^[a-z0-9][a-z0-9._-]*$/,
    "lowercase letters, digits, '.', '_' and '-' only (it names results/<name>/)",
  ),
  title: z.string().optional(),
  question: z.string().optional(),
  cells: z.array(CellEntrySchema).min(1, "needs at least one cell"),
});
export type CellsFile = z.output<typeof CellsFileSchema>;

/** The cells of a file for these options: each entry × each seed, the preset under the entry's overrides. */
export function fileCells(file: CellsFile, opts: StudyOptions): CellSpec[] {
  const p = preset(opts);
  return file.cells.flatMap((c) =>
    opts.seeds.map((seed) => ({
      label: c.label,
      group: { ...c.group, label: c.label },
      config: {
        method: c.method,
        base: c.base ?? p.base,
        data: c.data ?? p.data,
        train: { ...p.train, ...c.train },
        eval: { ...presetEval(p.eval, c.data), ...c.eval },
        seed,
      },
    }))
  );
}

/**
 * The preset's eval settings for a cell; a cell that brings its own non-embedded data drops the preset's
 * convergence curve (it reads the embedded suite's validation split, which LLM-Adapters data has not).
 */
function presetEval(e: Record<string, unknown>, data: Record<string, unknown> | undefined) {
  if (!data || data.kind === "embedded") return e;
  const { curve: _, ...rest } = e;
  return rest;
}

/** The study a parsed cells file describes. */
export function cellsStudy(file: CellsFile): Study {
  const flat = (rows: Parameters<Study["tables"]>[0]) => rows.map((r) => flatten(r, mainProtocol(rows)));
  return {
    name: file.name,
    title: file.title ?? file.name,
    question: file.question ?? `An ad-hoc grid of ${file.cells.length} configurations.`,
    cells: (opts) => fileCells(file, opts),
    tables(rows) {
      const f = flat(rows);
      const metrics = [...TASKS.filter((t) => f.some((r) => r[t] !== undefined)), "average"];
      const raw = aggregateBySeed(f, ["label"], [...metrics, "params", "trainSec", "activeExperts"]);
      const display = meanStdTable(raw, ["label"], metrics, { digits: 1 });
      return [{ name: "table", raw, display, caption: "Accuracy (%) per task and average, mean ± std over seeds" }];
    },
    charts(rows) {
      const raw = aggregateBySeed(flat(rows), ["label"], ["average"]);
      const data = tableRows(raw).map((o) => ({ label: o.label, average: o.average_mean, std: o.average_std }));
      return [{
        name: "average",
        caption: "Average accuracy per configuration (error bars: ±1 std over seeds)",
        spec: barWithErrorBars({
          data,
          x: "label",
          y: "average",
          yErr: "std",
          sort: null,
          title: file.title ?? file.name,
          subtitle: `${rows.length} runs · protocol: ${mainProtocol(rows)}`,
          xTitle: "configuration",
          yTitle: "accuracy (%)",
        }),
      }];
    },
  };
}

/** Read and validate a cells file; `reserved` are names it may not take (the registered studies). */
export async function loadCellsStudy(path: string, reserved: readonly string[] = []): Promise<Study> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message.split("\n")[0];
    throw new ConfigError(`--cells ${path}: ${why}; check the path`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message.split("\n")[0]}); fix the file`);
  }
  const r = CellsFileSchema.safeParse(json);
  if (!r.success) {
    // A misspelt key is both unknown and missing: name the misspelling, it is the fix.
    const unknownFirst = (i: z.core.$ZodIssue) => (i.code === "unrecognized_keys" ? 0 : 1);
    const issues = [...r.error.issues].sort((a, b) => unknownFirst(a) - unknownFirst(b));
    throw new ConfigError(formatZodError(new z.ZodError(issues), path));
  }
  const file = r.data;
  if (reserved.includes(file.name)) {
    throw new ConfigError(`${path}.name: '${file.name}' is a registered study; pick another name`);
  }
  return cellsStudy(file);
}
