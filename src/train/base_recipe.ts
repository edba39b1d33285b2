/**
 * The embedded base model recipe: a tiny Llama pretrained once on the embedded suite's corpus, cached on disk
 * under the hash of everything that determines it (recipe, suite, code version). A second run reuses the
 * cache; a corrupt cache (unreadable, truncated, or a checksum mismatch) is reported and rebuilt.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import {
  buildEmbeddedSuite,
  type EmbeddedSuite,
  SUITE_PRESETS,
  SUITE_VERSION,
  suiteConfig,
  type SuiteConfigInput,
  type SuitePreset,
} from "../data/suite.ts";
import { WordTokenizer } from "../data/word_tokenizer.ts";
import { parseConfig, z } from "../config.ts";
import { CheckpointError } from "../errors.ts";
import { BaseWeights } from "../model/base.ts";
import { parseLlamaConfig } from "../model/config.ts";
import { loadHfModel, saveHfModel } from "../model/hf_model.ts";
import { LlamaModel } from "../model/llama.ts";
import { configHash, sha256Hex } from "../util/hash.ts";
import { atomicWriteJson, exists } from "../util/fs.ts";
import { Rng } from "../util/rng.ts";
import { parseTrainConfig } from "./config.ts";
import { packedData, tokenizeDocs } from "./pretrain.ts";
import { type StepInfo, train } from "./trainer.ts";

/** Bump when pretraining code changes what a recipe produces. */
export const BASE_RECIPE_VERSION = 2;

export const BaseRecipeSchema = z.strictObject({
  suite: z.enum(Object.keys(SUITE_PRESETS) as [SuitePreset, ...SuitePreset[]]).default("default"),
  suiteSeed: z.number().int().min(0).default(0),
  /** Overrides merged into the suite preset (e.g. `{"tasks": {"holdout": "questions"}}`). */
  suiteOverrides: z.record(z.string(), z.unknown()).default({}),
  model: z.strictObject({
    dModel: z.number().int().positive().default(128),
    nLayers: z.number().int().positive().default(2),
    nHeads: z.number().int().positive().default(4),
    nKvHeads: z.number().int().positive().default(2),
    dFF: z.number().int().positive().default(344),
    maxSeqLen: z.number().int().positive().default(128),
  }).prefault({}),
  pretrain: z.strictObject({
    steps: z.number().int().min(1).default(900),
    batchSize: z.number().int().min(1).default(32),
    seqLen: z.number().int().min(8).default(64),
    lr: z.number().positive().max(1).default(3e-3),
    warmupSteps: z.number().int().min(0).default(30),
    weightDecay: z.number().min(0).default(0.01),
  }).prefault({}),
  seed: z.number().int().min(0).default(0),
});
export type BaseRecipe = z.output<typeof BaseRecipeSchema>;

export function parseBaseRecipe(value: unknown, where = "base"): BaseRecipe {
  return parseConfig(BaseRecipeSchema, value ?? {}, where);
}

/** The suite config a recipe builds. */
export function recipeSuite(recipe: BaseRecipe) {
  return suiteConfig(recipe.suite, recipe.suiteOverrides as SuiteConfigInput);
}

export interface PreparedBase {
  base: BaseWeights;
  tokenizer: WordTokenizer;
  suite: EmbeddedSuite;
  /** Cache key. */
  hash: string;
  dir: string;
  reused: boolean;
  /** Pretraining wall time (this run's or the cached run's), ms, and its final loss. */
  pretrainMs: number;
  finalLoss: number;
}

const MANIFEST = "recipe.json";
const TOKENIZER = "word_tokenizer.json";
const WEIGHTS = "model.safetensors";

/** Where caches live: $MOLE_CACHE_DIR, else `.cache/` in the working directory. */
export function cacheRoot(): string {
  return Deno.env.get("MOLE_CACHE_DIR") ?? join(Deno.cwd(), ".cache");
}

/** Cache key: the recipe, the suite config and both generators' versions (a new suite means a new base). */
export async function baseHash(recipe: BaseRecipe): Promise<string> {
  return await configHash({
    kind: "embedded-base",
    version: BASE_RECIPE_VERSION,
    suiteVersion: SUITE_VERSION,
    recipe,
    suite: recipeSuite(recipe),
  });
}

async function loadCached(
  dir: string,
  hash: string,
): Promise<{ base: BaseWeights; tokenizer: WordTokenizer; manifest: Manifest }> {
  const manifest = JSON.parse(await Deno.readTextFile(join(dir, MANIFEST))) as Manifest;
  if (manifest.hash !== hash) throw new CheckpointError(`${dir}: manifest hash ${manifest.hash} is not ${hash}`);
  const digest = await sha256Hex(await Deno.readFile(join(dir, WEIGHTS)));
  if (digest !== manifest.weightsSha256) {
    throw new CheckpointError(`${join(dir, WEIGHTS)}: checksum mismatch (corrupt or modified)`);
  }
  const tokenizer = WordTokenizer.fromJSON(JSON.parse(await Deno.readTextFile(join(dir, TOKENIZER))));
  const { base } = await loadHfModel(dir);
  return { base, tokenizer, manifest };
}

/**
 * Remove unfinished cache builds (`base-<hash>.tmp-*`) a killed run left, unless one is being written right now
 * (younger than an hour: a parallel process may still be pretraining into it).
 */
async function removeStaleBuilds(root: string, prefix: string): Promise<void> {
  if (!(await exists(root))) return;
  for await (const e of Deno.readDir(root)) {
    if (!e.isDirectory || !e.name.startsWith(prefix)) continue;
    const path = join(root, e.name);
    const age = Date.now() - ((await Deno.stat(path)).mtime?.getTime() ?? Date.now());
    if (age > 3_600_000) await Deno.remove(path, { recursive: true }).catch(() => {});
  }
}

interface Manifest {
  hash: string;
  recipe: BaseRecipe;
  weightsSha256: string;
  pretrainMs: number;
  finalLoss: number;
  losses: number[];
  backend: string;
  created: string;
}

/**
 * The recipe's pretrained base (frozen), from the cache or trained now. `log` receives one line per event;
 * `onStep` reports pretraining progress.
 */
export async function prepareBase(
  recipeInput: unknown = {},
  opts: { log?: (line: string) => void; onLog?: (s: StepInfo) => void; cacheDir?: string } = {},
): Promise<PreparedBase> {
  const log = opts.log ?? (() => {});
  const recipe = parseBaseRecipe(recipeInput);
  const hash = await baseHash(recipe);
  const suite = buildEmbeddedSuite(recipeSuite(recipe), recipe.suiteSeed);
  const root = opts.cacheDir ?? cacheRoot();
  const dir = join(root, `base-${hash}`);
  await removeStaleBuilds(root, `base-${hash}.tmp-`);
  if (await exists(dir)) {
    try {
      const { base, tokenizer, manifest } = await loadCached(dir, hash);
      log(`base model: reusing ${dir} (pretrained in ${(manifest.pretrainMs / 1000).toFixed(1)} s)`);
      const { pretrainMs, finalLoss } = manifest;
      return { base, tokenizer, suite, hash, dir, reused: true, pretrainMs, finalLoss };
    } catch (e) {
      log(`base model: cache ${dir} is unusable (${(e as Error).message.split("\n")[0]}); rebuilding it`);
      await Deno.remove(dir, { recursive: true });
    }
  }
  const tokenizer = suite.tokenizer;
  const m = recipe.model;
  const cfg = parseLlamaConfig({
    vocabSize: tokenizer.vocabSize,
    dModel: m.dModel,
    nLayers: m.nLayers,
    nHeads: m.nHeads,
    nKvHeads: m.nKvHeads,
    headDim: m.dModel / m.nHeads,
    dFF: m.dFF,
    maxSeqLen: m.maxSeqLen,
    tieEmbeddings: true,
  });
  log(
    `base model: pretraining ${cfg.nLayers}×${cfg.dModel} Llama on ${suite.pretraining.length} documents (${recipe.pretrain.steps} steps)`,
  );
  const base = BaseWeights.random(cfg, new Rng(recipe.seed).fork("base-init"));
  base.setTrainable(true);
  const model = new LlamaModel(base, null, new Rng(recipe.seed));
  const p = recipe.pretrain;
  const data = packedData(tokenizeDocs(tokenizer, suite.pretraining), p.seqLen, p.batchSize, recipe.seed);
  const result = await train(model, data, {
    config: parseTrainConfig({
      lr: p.lr,
      schedule: "cosine",
      warmupSteps: p.warmupSteps,
      weightDecay: p.weightDecay,
      batchSize: p.batchSize,
      maxSteps: p.steps,
      logEvery: 50,
    }),
    seed: recipe.seed,
    runHash: hash,
    hooks: { onLog: opts.onLog },
  });
  model.dispose();
  base.setTrainable(false);

  const tmp = `${dir}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await saveHfModel(tmp, base);
  await atomicWriteJson(join(tmp, TOKENIZER), tokenizer.toJSON());
  const manifest: Manifest = {
    hash,
    recipe,
    weightsSha256: await sha256Hex(await Deno.readFile(join(tmp, WEIGHTS))),
    pretrainMs: result.elapsedMs,
    finalLoss: result.finalLoss,
    losses: result.losses,
    backend: tf.getBackend(),
    created: new Date().toISOString(),
  };
  await atomicWriteJson(join(tmp, MANIFEST), manifest);
  try {
    await Deno.rename(tmp, dir);
  } catch (e) {
    // Another process (a parallel shard) cached the same recipe first: keep its copy (same hash, same weights).
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (!(await exists(join(dir, MANIFEST)))) throw e;
    log(`base model: another process cached ${dir} first; using it`);
  }
  log(
    `base model: pretrained in ${(result.elapsedMs / 1000).toFixed(1)} s, final loss ${
      result.finalLoss.toFixed(3)
    }; cached at ${dir}`,
  );
  return {
    base,
    tokenizer,
    suite,
    hash,
    dir,
    reused: false,
    pretrainMs: result.elapsedMs,
    finalLoss: result.finalLoss,
  };
}
