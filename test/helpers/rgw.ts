import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./emulators";
import { killAndWait } from "./kill-and-wait";

/**
 * Ceph's RADOS Gateway: a real S3 implementation that checks SigV4 signatures and POST policies (s3rver
 * checks neither). One throwaway cluster (a monitor, one in-memory OSD, the gateway) in a temporary
 * directory with its own configuration, run directory and admin sockets, on free 127.0.0.1 ports, so
 * that nothing of a system-wide Ceph is used or touched. Starting costs ~12–17 s, so the test run starts
 * it once (test/helpers/rgw-global-setup.ts) and each test file makes its own bucket.
 */

const run = promisify(execFile);

/** What a test needs to reach the gateway as its one user. */
export interface RgwEndpoint {
  /** `http://127.0.0.1:{port}` (path-style buckets). */
  endpoint: string;
  /** RGW accepts any region in a signature's scope; the SDK needs one. */
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface RgwCluster extends RgwEndpoint {
  /** The temporary directory holding the configuration, run directory, logs and OSD data. */
  directory: string;
  /** Kills the daemons and removes the directory. */
  stop(): Promise<void>;
}

/** Every cluster's directory is `{tmpdir}/async-uploads-rgw-*`: the pattern `killStaleRgw` looks for. */
const DIRECTORY_PREFIX = "async-uploads-rgw-";
/** The process that started a cluster; the cluster is stale once that process is gone. */
const OWNER_FILE = "owner.pid";
const DAEMONS_FILE = "daemons.pid";

function configuration(directory: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
# Loopback only and throwaway: no keys.
auth cluster required = none
auth service required = none
auth client required = none
# With auth off, radosgw hangs at start unless the monitor connection is plain crc.
ms mon client mode = crc
# One OSD: pools of one replica, and no warnings about it.
mon allow pool size one = true
osd pool default size = 1
osd pool default min size = 1
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
# In memory (memstore), capped; a test object is at most a few hundred MiB.
osd objectstore = memstore
memstore device bytes = ${2 * 1024 ** 3}
osd data = ${directory}/$name
mon data = ${directory}/$name
run dir = ${directory}/run
admin socket = ${directory}/run/$name.asok
pid file = ${directory}/run/$name.pid
log file = ${directory}/log/$name.log
# The monitor's cluster and audit logs go to /var/log/ceph unless told otherwise.
mon cluster log to file = false
keyring = ${directory}/keyring
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
# Deleted objects' data is garbage-collected after 2 hours by default: memory that never comes back.
rgw gc obj min wait = 5
rgw gc processor period = 10
`;
}

/**
 * Starts a cluster and its gateway with one user. Kills the daemons of clusters whose starting process
 * died first (an interrupted run), so that they never pile up.
 */
export async function startRgw(): Promise<RgwCluster> {
  const missing = await missingCommands(["monmaptool", "ceph-mon", "ceph-osd", "ceph", "radosgw", "radosgw-admin"]);
  if (missing.length > 0) {
    throw new Error(`Ceph's RADOS Gateway (the S3 of the tests) needs ${missing.join(", ")}: install Debian's ceph-mon ceph-osd radosgw ceph-common (.ci/install-ceph.sh)`);
  }
  await killStaleRgw();
  const directory = await mkdtemp(join(tmpdir(), DIRECTORY_PREFIX));
  await writeFile(join(directory, OWNER_FILE), String(process.pid));
  const children: ChildProcess[] = [];
  const killAll = () => children.forEach((child) => child.kill("SIGKILL"));
  // If this process exits without calling stop(); and if it is killed outright, the watchdog.
  process.on("exit", killAll);
  const watchdog = startWatchdog(directory);
  const stop = async () => {
    // SIGKILL at once: the data is throwaway, and an OSD whose monitor is gone ignores SIGTERM.
    await Promise.all(children.reverse().map((child) => killAndWait(child, 0)));
    watchdog.kill("SIGKILL");
    process.off("exit", killAll);
    await rm(directory, { recursive: true, force: true });
  };
  try {
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const conf = join(directory, "ceph.conf");
    const fsid = randomUUID();
    await writeFile(conf, configuration(directory, fsid, monPort, rgwPort));
    await Promise.all(["run", "log", "mon.a", "osd.0"].map((name) => mkdir(join(directory, name))));
    const daemon = async (command: string, args: string[]) => {
      const child = spawn(command, ["-f", "-c", conf, ...args], { stdio: "ignore" });
      children.push(child);
      await appendPid(directory, child);
      return child;
    };
    const ceph = (command: string, args: string[]) => run(command, ["-c", conf, ...args], { timeout: 60_000 });

    await run("monmaptool", ["--create", "--add", "a", `v2:127.0.0.1:${monPort}`, "--fsid", fsid, join(directory, "monmap")]);
    await ceph("ceph-mon", ["-i", "a", "--mkfs", "--monmap", join(directory, "monmap")]);
    await daemon("ceph-mon", ["-i", "a"]);
    await ceph("ceph", ["--connect-timeout", "30", "osd", "create"]);
    await ceph("ceph-osd", ["-i", "0", "--mkfs"]);
    await daemon("ceph-osd", ["-i", "0"]);
    const gateway = await daemon("radosgw", ["-n", "client.rgw"]);
    const credentials = { accessKeyId: "ASYNCUPLOADSTEST", secretAccessKey: randomUUID() };
    await ceph("radosgw-admin", [
      ...["user", "create", "--uid", "async-uploads", "--display-name", "async-uploads tests"],
      ...["--access-key", credentials.accessKeyId, "--secret-key", credentials.secretAccessKey],
    ]);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitForAnswer(gateway, endpoint, directory);
    return { endpoint, region: "us-east-1", credentials, directory, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A shell in its own process group that outlives this process only to clean up after it: once this
 * process is gone (killed with SIGKILL, say, so no exit handler ran), it kills the cluster's daemons and
 * removes the directory, within a second.
 */
function startWatchdog(directory: string): ChildProcess {
  const script = `
    while kill -0 "$1" 2>/dev/null; do sleep 1; done
    for pid in $(cat "$2/${DAEMONS_FILE}" 2>/dev/null); do
      case "$(tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null)" in *"$2"*) kill -9 "$pid" ;; esac
    done
    rm -rf "$2"`;
  const watchdog = spawn("sh", ["-c", script, "rgw-watchdog", String(process.pid), directory], { detached: true, stdio: "ignore" });
  watchdog.unref();
  return watchdog;
}

async function missingCommands(commands: string[]): Promise<string[]> {
  const found = await Promise.all(commands.map((command) => run("sh", ["-c", 'command -v "$1"', "sh", command]).then(() => true, () => false)));
  return commands.filter((_, i) => !found[i]);
}

async function appendPid(directory: string, child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  const file = join(directory, DAEMONS_FILE);
  const known = await readFile(file, "utf8").catch(() => "");
  await writeFile(file, `${known}${child.pid}\n`);
}

/** Resolves once the gateway answers HTTP; rejects if it exits first or takes longer than `timeoutMs`. */
async function waitForAnswer(gateway: ChildProcess, endpoint: string, directory: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gateway.exitCode !== null || gateway.signalCode !== null) {
      throw new Error(`radosgw exited (${gateway.exitCode ?? gateway.signalCode}): ${await logTail(directory, "client.rgw")}`);
    }
    try {
      await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`radosgw did not answer within ${timeoutMs} ms: ${await logTail(directory, "client.rgw")}`);
}

async function logTail(directory: string, name: string): Promise<string> {
  const log = await readFile(join(directory, "log", `${name}.log`), "utf8").catch(() => "(no log)");
  return log.slice(-2000);
}

/**
 * Kills the daemons of every cluster (in `{tmpdir}/async-uploads-rgw-*`) whose starting process is gone,
 * and removes its directory. A cluster of a run still going (another person's, on a shared machine) is
 * left alone. A daemon is killed only if its command line names that directory, so a reused pid is safe.
 */
export async function killStaleRgw(): Promise<void> {
  const names = (await readdir(tmpdir())).filter((name) => name.startsWith(DIRECTORY_PREFIX));
  for (const name of names) {
    const directory = join(tmpdir(), name);
    const owner = Number(await readFile(join(directory, OWNER_FILE), "utf8").catch(() => "NaN"));
    if (Number.isInteger(owner) ? isAlive(owner) : await isYoung(directory)) continue;
    const pids = (await readFile(join(directory, DAEMONS_FILE), "utf8").catch(() => "")).split("\n").map(Number);
    for (const pid of pids.filter((pid) => Number.isInteger(pid) && pid > 0)) {
      const commandLine = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (commandLine.includes(directory)) process.kill(pid, "SIGKILL");
    }
    await rm(directory, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A directory without an owner file is being set up if it is less than a minute old. */
async function isYoung(directory: string): Promise<boolean> {
  const { mtimeMs } = await stat(directory).catch(() => ({ mtimeMs: 0 }));
  return Date.now() - mtimeMs < 60_000;
}
