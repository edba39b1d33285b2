/** Every study, by the name `deno task experiment <study>` takes. One line per study file. */
import type { Study } from "../src/experiment/study.ts";
import { adamoleThreshold } from "./adamole_threshold.ts";
import { compare } from "./compare.ts";
import { dynmoleQ } from "./dynmole_q.ts";
import { moaSparsity } from "./moa_sparsity.ts";

export const STUDIES: Record<string, Study> = {
  [compare.name]: compare,
  [adamoleThreshold.name]: adamoleThreshold,
  [dynmoleQ.name]: dynmoleQ,
  [moaSparsity.name]: moaSparsity,
};

export const STUDY_NAMES = Object.keys(STUDIES);
