/**
 * A real single-node Slurm cluster for slurm_test.ts, after /work/shared/design/slurm.md, with everything in
 * a temp directory: its own munge key and socket, a minimal slurm.conf on private ports, state, spool, logs
 * and pid files. Clients find it through SLURM_CONF (`cluster.env`). Needs root and Debian's `slurmctld
 * slurmd slurm-client munge` (installed with apt-get when missing); `stop()` ends exactly the daemons it
 * started, by their pid files.
 */
import { join } from "node:path";

export const SLURM_PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"];
const BINARIES = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/bin/squeue"];

async function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  try {
    const o = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { ok: o.success, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
  } catch (e) {
    return { ok: false, out: "", err: (e as Error).message };
  }
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const installed = () => BINARIES.every(existsSync);

/** Why the cluster cannot run here (one line), or null; installs the packages with apt-get when missing. */
export async function slurmUnavailable(): Promise<string | null> {
  if (Deno.build.os !== "linux") return `Slurm needs Linux (this is ${Deno.build.os})`;
  if (Deno.uid() !== 0) return "starting munged/slurmctld/slurmd needs root (.ci/run runs as root)";
  if (installed()) return null;
  if (!(await sh("apt-get", ["--version"])).ok) return `no apt-get to install ${SLURM_PACKAGES.join(" ")}`;
  const env = { DEBIAN_FRONTEND: "noninteractive", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
  const update = await sh("apt-get", ["update", "-q"], env);
  const install = update.ok
    ? await sh("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...SLURM_PACKAGES], env)
    : update;
  if (!install.ok || !installed()) {
    return `apt-get install ${SLURM_PACKAGES.join(" ")} failed: ${install.err.trim().split("\n").at(-1)}`;
  }
  return null;
}

export interface Cluster {
  /** Environment for Slurm clients (sbatch, squeue, …): SLURM_CONF. */
  env: Record<string, string>;
  dir: string;
  stop(): Promise<void>;
}

function slurmConf(dir: string, host: string, port: number): string {
  const memMiB = Math.floor(Deno.systemMemoryInfo().total / 2 ** 20 / 2);
  return [
    "ClusterName=molelab",
    `SlurmctldHost=${host}`,
    `SlurmctldPort=${port}`,
    `SlurmdPort=${port + 1}`,
    "AuthType=auth/munge",
    "CredType=cred/munge",
    `AuthInfo=socket=${join(dir, "munge", "munge.sock")}`,
    "SlurmUser=root",
    "SlurmdUser=root",
    `StateSaveLocation=${join(dir, "state")}`,
    `SlurmdSpoolDir=${join(dir, "spool")}`,
    `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
    `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
    `SlurmctldLogFile=${join(dir, "log", "slurmctld.log")}`,
    `SlurmdLogFile=${join(dir, "log", "slurmd.log")}`,
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_CPU",
    "ReturnToService=2",
    "MpiDefault=none",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    `NodeName=${host} CPUs=${navigator.hardwareConcurrency} RealMemory=${memMiB} State=UNKNOWN`,
    `PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
    "",
  ].join("\n");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => existsSync(`/proc/${pid}`);

async function readPid(path: string): Promise<number | null> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** Poll `check` every 500 ms until it returns true or `ms` pass; false on timeout. */
export async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(500);
  }
  return false;
}

/** Start munged, slurmctld and slurmd in a temp directory; resolves once `sinfo` shows the node idle. */
export async function startCluster(): Promise<Cluster> {
  const dir = await Deno.makeTempDir({ prefix: "mole-slurm-" });
  for (const d of ["munge", "state", "spool", "log"]) await Deno.mkdir(join(dir, d), { mode: 0o700 });
  const key = join(dir, "munge", "munge.key");
  await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(1024)), { mode: 0o400 });
  const conf = join(dir, "slurm.conf");
  const host = (await sh("hostname", ["-s"])).out.trim() || Deno.hostname();
  await Deno.writeTextFile(conf, slurmConf(dir, host, 20000 + Math.floor(Math.random() * 20000) * 2));
  const env = { SLURM_CONF: conf };
  const pidFiles = [join(dir, "slurmd.pid"), join(dir, "slurmctld.pid"), join(dir, "munge", "munged.pid")];
  const pids: number[] = [];
  const stop = async () => {
    for (const f of pidFiles) {
      const pid = await readPid(f);
      if (pid !== null && !pids.includes(pid)) pids.push(pid);
    }
    for (const pid of pids) if (alive(pid)) Deno.kill(pid, "SIGTERM");
    await waitFor(() => Promise.resolve(!pids.some(alive)), 15000);
    for (const pid of pids) if (alive(pid)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const start = async (cmd: string, args: string[], pidFile: string) => {
    const r = await sh(cmd, args, env);
    const pid = await waitFor(async () => (await readPid(pidFile)) !== null, 10000) ? await readPid(pidFile) : null;
    if (!r.ok || pid === null) {
      const log = await Deno.readTextFile(join(dir, "log", `${cmd.split("/").at(-1)}.log`)).catch(() => "");
      throw new Error(`${cmd} did not start: ${(r.err || log).trim().split("\n").at(-1)}`);
    }
    pids.push(pid);
  };
  try {
    const m = (f: string) => join(dir, "munge", f);
    await start("/usr/sbin/munged", [
      "--force",
      `--socket=${m("munge.sock")}`,
      `--key-file=${key}`,
      `--pid-file=${m("munged.pid")}`,
      `--seed-file=${m("munged.seed")}`,
      `--log-file=${join(dir, "log", "munged.log")}`,
    ], m("munged.pid"));
    await start("/usr/sbin/slurmctld", ["-f", conf], pidFiles[1]);
    await start("/usr/sbin/slurmd", ["-f", conf], pidFiles[0]);
    const idle = await waitFor(async () => (await sh("sinfo", ["-h", "-o", "%T"], env)).out.trim() === "idle", 30000);
    if (!idle) throw new Error(`the node never became idle: ${(await sh("sinfo", [], env)).out.trim()}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { env, dir, stop };
}

/** Job ids still queued or running among `ids`. */
export async function queued(ids: string[], env: Record<string, string>): Promise<string[]> {
  const r = await sh("squeue", ["-h", "-o", "%i", "-j", ids.join(",")], env);
  return r.out.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/** A finished job's state from `scontrol show job` (COMPLETED, FAILED, CANCELLED, …). */
export async function jobState(id: string, env: Record<string, string>): Promise<string> {
  const r = await sh("scontrol", ["show", "job", "-o", id], env);
  return /JobState=(\S+)/.exec(r.out)?.[1] ?? `unknown (${(r.err || r.out).trim().split("\n")[0]})`;
}
