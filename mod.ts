/**
 * MoLE Lab — Mixture-of-LoRA-Experts fine-tuning on a Llama-style model, in TypeScript with TensorFlow.js.
 *
 * The public API: backends, the MoE-LoRA methods and their building blocks, the model and its checkpoints,
 * data, training and evaluation, studies, and the tables/charts/notebook displays of results.
 *
 * @example
 * ```ts
 * import { initBackend, methodConfig, prepareBase, LlamaModel, Rng } from "./mod.ts";
 * await initBackend("auto");
 * const { base } = await prepareBase();                    // the cached embedded base model
 * const model = new LlamaModel(base, methodConfig("adamole"), new Rng(0));
 * ```
 */

// Backends
export {
  BACKEND_CHOICES,
  BACKEND_NAMES,
  type BackendChoice,
  BackendError,
  type BackendInfo,
  type BackendName,
  currentBackend,
  describeBackend,
  initBackend,
} from "./src/backend/backend.ts";

// Errors and configuration
export { CheckpointError, ConfigError, DataError, MoleError, NonFiniteLossError, UsageError } from "./src/errors.ts";
export { formatZodError, parseConfig } from "./src/config.ts";

// Methods: registry, configs, routers, adapters, losses
export {
  getMethod,
  isBlockMethod,
  METHOD_NAMES,
  type MethodConfig,
  methodConfig,
  type MethodName,
  METHODS,
  parseMethodConfig,
} from "./src/routers/registry.ts";
export type { AuxLoss, RouteContext, Router, Routing, SiteAux } from "./src/routers/types.ts";
export type { SiteInfo, SiteMethod } from "./src/routers/method.ts";
export { TopKRouter } from "./src/routers/topk.ts";
export { ThresholdRouter } from "./src/routers/threshold.ts";
export { expertsForLayer } from "./src/routers/mola.ts";
export { AdaMoleRouter, ThresholdNet } from "./src/routers/adamole.ts";
export { dynamicMask, DynMoleRouter } from "./src/routers/dynmole.ts";
export { type BlockMethod, MOA_PRESETS, MOA_TYPES, MoaRouter, type MoaType, resolveTypes } from "./src/routers/moa.ts";
export {
  aggregateLoadBalance,
  loadBalance,
  normalizedRenyi,
  normalizedShannon,
  normalizedTsallis,
  tsallisEntropy,
} from "./src/routers/losses.ts";
export { dropoutMask, LoraBank, type Target, TARGETS } from "./src/adapters/lora.ts";
export { ParallelAdapter } from "./src/adapters/parallel.ts";
export { PromptExpert } from "./src/adapters/prompt.ts";
export type { Adapter, AdapterKind } from "./src/adapters/types.ts";
export { type ForwardContext, forwardContext, MoeLinear } from "./src/moe/moe_linear.ts";
export { createSite } from "./src/moe/site.ts";
export { collectStats, type SiteStats, siteStats } from "./src/moe/stats.ts";

// Model and checkpoints
export { type LlamaConfig, parseLlamaConfig } from "./src/model/config.ts";
export { BaseWeights } from "./src/model/base.ts";
export { LlamaModel, lmLoss } from "./src/model/llama.ts";
export { type HfModel, loadHfModel, saveHfModel, type SaveHfOptions } from "./src/model/hf_model.ts";
export { mergeLora } from "./src/model/merge.ts";
export { llamaConfigFromHf, llamaConfigToHf, readHfConfig } from "./src/model/hf_config.ts";
export { HfTokenizer, loadHfTokenizer } from "./src/model/hf_tokenizer.ts";
export {
  type HostTensor,
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
} from "./src/model/safetensors.ts";
export { loadAdapterInto, readAdapterMethod, saveAdapter } from "./src/model/adapter_io.ts";
export { adapterFlops } from "./src/model/flops.ts";

// Data
export { type QARecord, type Splits, type TaskName, TASKS } from "./src/data/types.ts";
export type { Tokenizer } from "./src/data/tokenizer.ts";
export { WordTokenizer } from "./src/data/word_tokenizer.ts";
export { buildEmbeddedSuite, type EmbeddedSuite, mixTrain, suiteConfig } from "./src/data/suite.ts";
export { answerWords, buildPrompt, extractAnswer, TEMPLATE_NAMES, type TemplateName } from "./src/data/prompt.ts";
export { loadCommonsenseTest, loadCommonsenseTrain } from "./src/data/commonsense.ts";
export { type Batch, collate, encodeExamples, makeBatches } from "./src/data/batch.ts";

// Training and evaluation
export { parseTrainConfig, type TrainConfig } from "./src/train/config.ts";
export { type StepInfo, train, type TrainData, type TrainResult } from "./src/train/trainer.ts";
export { AdamW } from "./src/train/optim.ts";
export { learningRate, SCHEDULES } from "./src/train/schedule.ts";
export { type EvalResult, evaluate, type Protocol, PROTOCOLS } from "./src/train/evaluate.ts";
export { type CurvePoint, curvePoint } from "./src/train/curve.ts";
export { prepareBase, type PreparedBase } from "./src/train/base_recipe.ts";

// Studies
export { type CellRow, runCell, Workbench } from "./src/experiment/cell.ts";
export { readRows, runStudy } from "./src/experiment/runner.ts";
export { claimVerdict, protocolsOf, studyCharts, studyTables } from "./src/experiment/study.ts";
export type { ClaimCheck, Study, StudyOptions } from "./src/experiment/study.ts";
export { contrastTable, FROZEN_BASE, pairedClaim, pairedSeedClaim, perTaskContrasts } from "./src/experiment/claims.ts";
export { decodeBits, encodeBits, type ItemResults } from "./src/experiment/items.ts";
export {
  formatInterval,
  hierarchicalPairedBootstrap,
  type Interval,
  pairedSeedBootstrap,
  seedMeanBootstrap,
  type Verdict,
  verdictOf,
} from "./src/report/paired.ts";
export { curveChart, curveSummary, fasterClaim, stepsToFraction } from "./src/report/convergence.ts";
export { STUDIES, STUDY_NAMES } from "./experiments/registry.ts";

// Results: tables, charts, notebook displays, the report
export { aggregateBySeed, meanStdTable, tableRows, toCSV, toHTML, toMarkdown } from "./src/report/tables.ts";
export {
  barWithErrorBars,
  heatmap,
  lineOverTime,
  lineWithBand,
  renderPng,
  renderSvg,
  scatter,
  writeChart,
} from "./src/report/charts.ts";
export { displayChart, displayTable, markdown, show } from "./src/report/display.ts";
export { writeReport } from "./src/report/report.ts";

// Utilities
export { Rng } from "./src/util/rng.ts";
