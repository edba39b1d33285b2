/** What every result carries about where it ran: commit, backend, versions, machine. */
import * as tf from "@tensorflow/tfjs";
import { currentBackend } from "../backend/backend.ts";

/** The git commit of the working tree (with "+dirty" when it has uncommitted changes), or "unknown". */
export async function gitCommit(cwd = Deno.cwd()): Promise<string> {
  try {
    const run = async (args: string[]) => {
      const out = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "null" }).output();
      return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
    };
    const head = await run(["rev-parse", "HEAD"]);
    if (!head) return "unknown";
    const dirty = await run(["status", "--porcelain", "--untracked-files=no"]);
    return dirty ? `${head}+dirty` : head;
  } catch {
    return "unknown";
  }
}

export async function environment() {
  const backend = currentBackend();
  return {
    commit: await gitCommit(),
    backend: backend ? { requested: backend.requested, name: backend.name, detail: backend.detail } : tf.getBackend(),
    versions: {
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
      tfjs: tf.version.tfjs,
    },
    machine: {
      os: Deno.build.os,
      arch: Deno.build.arch,
      cpus: navigator.hardwareConcurrency,
      memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    },
  };
}
