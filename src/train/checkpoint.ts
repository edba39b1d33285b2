/**
 * Resumable training checkpoints: `<dir>/checkpoint-<step>/` holding `state.safetensors` (the trainable
 * parameters and AdamW's moments) and `trainer_state.json`. Each is written into a temporary directory and
 * renamed into place, so a crash leaves the previous checkpoint intact and never a half-written one; the
 * `.tmp-*` directory a killed writer leaves is ignored and removed when the run resumes. Fault point
 * `checkpoint-commit`: everything written, before the rename (src/util/fault.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { CheckpointError } from "../errors.ts";
import { type HostTensor, readSafetensorsFile, writeSafetensorsFile } from "../model/safetensors.ts";
import { faultPoint } from "../util/fault.ts";
import { atomicWriteJson, exists } from "../util/fs.ts";
import type { AdamW } from "./optim.ts";

export const STATE_FILE = "state.safetensors";
export const TRAINER_STATE = "trainer_state.json";
const DIR_RE = /^checkpoint-(\d{6,})$/;
const TMP_RE = /^\.tmp-[0-9a-f]{8}$/;

export interface TrainerState {
  /** Updates completed. */
  step: number;
  /** Hash of everything that fixes the run (model, method, data, train config, seed). */
  runHash: string;
  /** Loss of every completed update. */
  losses: number[];
  /** Training time spent before this checkpoint, ms. */
  elapsedMs: number;
  /** Real tokens seen. */
  tokens: number;
}

async function host(t: tf.Tensor): Promise<HostTensor> {
  return { shape: t.shape, data: (await t.data()) as Float32Array };
}

/** Write a checkpoint for `state.step`; keeps the newest `keep` checkpoints. Returns its directory. */
export async function saveCheckpoint(
  dir: string,
  params: Map<string, tf.Variable>,
  opt: AdamW,
  state: TrainerState,
  keep: number,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const final = join(dir, `checkpoint-${String(state.step).padStart(6, "0")}`);
  const tmp = join(dir, `.tmp-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.mkdir(tmp);
  try {
    const tensors = new Map<string, HostTensor>();
    for (const [name, p] of params) {
      tensors.set(`param.${name}`, await host(p));
      tensors.set(`adam_m.${name}`, await host(opt.m.get(name)!));
      tensors.set(`adam_v.${name}`, await host(opt.v.get(name)!));
    }
    await writeSafetensorsFile(join(tmp, STATE_FILE), tensors, { adam_step: String(opt.step) });
    await atomicWriteJson(join(tmp, TRAINER_STATE), state);
    faultPoint("checkpoint-commit");
    if (await exists(final)) await Deno.remove(final, { recursive: true });
    await Deno.rename(tmp, final);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  const all = await listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) await Deno.remove(old, { recursive: true });
  return final;
}

/** Complete checkpoint directories under `dir`, oldest first. */
export async function listCheckpoints(dir: string): Promise<string[]> {
  if (!(await exists(dir))) return [];
  const found: [number, string][] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = DIR_RE.exec(e.name);
    if (e.isDirectory && m) found.push([Number(m[1]), join(dir, e.name)]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

/** Remove the `.tmp-*` directories of checkpoints a killed run was writing; returns how many. */
export async function removePartialCheckpoints(dir: string): Promise<number> {
  if (!(await exists(dir))) return 0;
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && TMP_RE.test(e.name)) {
      await Deno.remove(join(dir, e.name), { recursive: true });
      n++;
    }
  }
  return n;
}

/** The newest checkpoint under `dir`, or null. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  return (await listCheckpoints(dir)).at(-1) ?? null;
}

/**
 * Restore parameters and optimizer moments from `ckpt` and return its trainer state. The run hash must match:
 * resuming a different configuration would silently mix two runs.
 */
export async function loadCheckpoint(
  ckpt: string,
  params: Map<string, tf.Variable>,
  opt: AdamW,
  runHash: string,
): Promise<TrainerState> {
  const statePath = join(ckpt, TRAINER_STATE);
  let state: TrainerState;
  try {
    state = JSON.parse(await Deno.readTextFile(statePath));
  } catch (e) {
    throw new CheckpointError(
      `${statePath}: unreadable trainer state (${
        (e as Error).message.split("\n")[0]
      }); delete ${ckpt} to restart from the previous checkpoint`,
    );
  }
  if (state.runHash !== runHash) {
    throw new CheckpointError(
      `${ckpt} belongs to another run (hash ${state.runHash}, this run ${runHash}); use a fresh output directory or delete it`,
    );
  }
  const { tensors, metadata } = await readSafetensorsFile(join(ckpt, STATE_FILE)).catch((e) => {
    if (!(e instanceof CheckpointError)) throw e;
    throw new CheckpointError(`${e.message}, or delete ${ckpt} to resume from the previous checkpoint`);
  });
  const get = (key: string, like: tf.Tensor) => {
    const h = tensors.get(key);
    if (!h || !tf.util.arraysEqual(h.shape, like.shape)) {
      throw new CheckpointError(`${ckpt}: ${key} is missing or has the wrong shape; delete the checkpoint to restart`);
    }
    return tf.tensor(h.data, h.shape);
  };
  for (const [name, p] of params) {
    const value = get(`param.${name}`, p);
    p.assign(value);
    value.dispose();
    opt.m.get(name)!.dispose();
    opt.v.get(name)!.dispose();
    opt.m.set(name, tf.keep(get(`adam_m.${name}`, p)));
    opt.v.set(name, tf.keep(get(`adam_v.${name}`, p)));
  }
  opt.step = Number(metadata.adam_step ?? state.step);
  return state;
}
