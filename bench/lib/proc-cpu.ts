import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time of every process under this one, from the kernel (`/proc/<pid>/stat` utime + stime), so
 * that a browser run says which process did the work: the storage emulator, our server, Companion,
 * and Chromium's browser, renderer, network and other helper processes. Linux only; elsewhere empty.
 */

const TICK_MS = 10; // USER_HZ is 100 on Linux
const labelCache = new Map<number, string>();

interface Proc {
  ppid: number;
  ms: number;
  comm: string;
}

function readProcs(): Map<number, Proc> {
  const procs = new Map<number, Proc>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return procs;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may contain spaces: the fields follow the last `)`.
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      procs.set(Number(entry), { ppid: Number(fields[1]), ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS, comm });
    } catch {
      // Exited between readdir and read.
    }
  }
  return procs;
}

/** Chromium's processes by their `--type` (the network service is a utility process of its own sub-type). */
function chromiumLabel(pid: number, comm: string): string {
  const cached = labelCache.get(pid);
  if (cached) return cached;
  let label = comm;
  try {
    // Chromium rewrites its helpers' command lines (spaces, not NULs, between arguments).
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split(/[\0 ]/);
    const type = args.find((arg) => arg.startsWith("--type="))?.slice(7);
    const sub = args.find((arg) => arg.startsWith("--utility-sub-type="))?.slice(19);
    if (/chrom/i.test(comm) || args[0]?.includes("chrom")) label = `chromium ${sub?.includes("network") ? "network" : sub?.includes("storage") ? "storage-svc" : (type ?? "browser")}`;
  } catch {
    // Exited.
  }
  labelCache.set(pid, label);
  return label;
}

export type CpuSnapshot = Map<number, { label: string; ms: number }>;

/**
 * Every descendant of this process with its label: `roots` names subtrees (a child's pid → its label,
 * such as "s3rver"), everything else is labelled by Chromium process type or command name.
 */
export function cpuSnapshot(roots: Record<number, string>): CpuSnapshot {
  const procs = readProcs();
  const snapshot: CpuSnapshot = new Map();
  for (const [pid, proc] of procs) {
    let label: string | undefined;
    let inTree = false;
    for (let at = pid, depth = 0; at > 1 && depth < 30; at = procs.get(at)?.ppid ?? 0, depth++) {
      if (label === undefined && roots[at] !== undefined) label = roots[at];
      if (at === process.pid) {
        inTree = true;
        break;
      }
    }
    if (!inTree) continue;
    snapshot.set(pid, { label: label ?? (pid === process.pid ? "bench (Playwright driver)" : chromiumLabel(pid, proc.comm)), ms: proc.ms });
  }
  return snapshot;
}

/** CPU ms per label between two snapshots (a process that started in between counts from zero). */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): Map<string, number> {
  const byLabel = new Map<string, number>();
  for (const [pid, { label, ms }] of after) {
    const spent = ms - (before.get(pid)?.ms ?? 0);
    if (spent > 0) byLabel.set(label, (byLabel.get(label) ?? 0) + spent);
  }
  return byLabel;
}
