import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { killAndWait } from "../../test/helpers/kill-and-wait";
import { onInterrupt } from "./cleanup";

/**
 * Servers under load run in their own Node process (so that the load generator and the server do not
 * share an event loop, and the server's memory is its own). They are TypeScript files run through
 * tsx; the parent and the child talk over Node's IPC channel.
 */

const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));

type Message = { id?: number; type: string; [key: string]: unknown };

export interface Child<Info> {
  pid: number;
  /** What the child sent with `ready` (its URL, …). */
  info: Info;
  /** Sends a request and resolves with the child's reply. */
  request<T = Record<string, unknown>>(type: string, payload?: Record<string, unknown>): Promise<T>;
  /** Peak resident memory of the process from the kernel (`VmHWM`), in bytes. */
  vmHwm(): number | null;
  stop(): Promise<void>;
}

/** Starts `bench/{script}` with tsx and waits until it reports `ready` (or fails). */
export async function startChild<Info = Record<string, unknown>>(
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<Child<Info>> {
  const child: ChildProcess = fork(`${BENCH_DIR}${script}`, args, {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, NODE_NO_WARNINGS: "1", ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.on("exit", killOnExit);
  let forget = () => {};
  let nextId = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let readyResolve!: (info: Info) => void;
  let readyReject!: (error: Error) => void;
  const ready = new Promise<Info>((resolve, reject) => ((readyResolve = resolve), (readyReject = reject)));

  child.on("message", (message: Message) => {
    if (message.type === "ready") return readyResolve(message.info as Info);
    if (message.type === "fatal") return readyReject(new Error(`[bench] ${script}: ${String(message.error)}`));
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.type === "error") waiter.reject(new Error(`[bench] ${script}: ${String(message.error)}`));
    else waiter.resolve(message.reply);
  });
  child.on("exit", (code, signal) => {
    const error = new Error(`[bench] ${script} exited (${code ?? signal})`);
    readyReject(error);
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  });

  const stop = async () => {
    process.off("exit", killOnExit);
    forget();
    await killAndWait(child);
  };

  forget = onInterrupt(stop);
  let info: Info;
  try {
    info = await withTimeout(ready, 60_000, `${script} did not start within 60 s`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pid: child.pid!,
    info,
    request<T>(type: string, payload: Record<string, unknown> = {}) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ ...payload, id, type });
      });
    },
    vmHwm: () => readVmHwm(child.pid!),
    stop,
  };
}

/** `VmHWM` of a process from `/proc/{pid}/status`, in bytes; null where there is no procfs. */
export function readVmHwm(pid: number): number | null {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`[bench] ${message}`)), ms))),
  ]);
}

// ---- the child's side ----

type Handler = (payload: Record<string, unknown>) => unknown;

/**
 * In a child: answers the parent's requests with `handlers`, samples its own RSS every 50 ms (for
 * peak-memory figures: `peak-reset` and `peak` requests), and reports `ready` with `info`.
 */
export function serveParent(info: Record<string, unknown>, handlers: Record<string, Handler> = {}, onStop?: () => Promise<void>): void {
  const memory = { peak: process.memoryUsage.rss(), samples: 0 };
  const sampler = setInterval(() => {
    memory.peak = Math.max(memory.peak, process.memoryUsage.rss());
    memory.samples++;
  }, 50);
  sampler.unref();
  const all: Record<string, Handler> = {
    /** Starts a new peak-memory window; returns the RSS now. */
    "peak-reset": () => {
      memory.peak = process.memoryUsage.rss();
      memory.samples = 0;
      return { rss: memory.peak };
    },
    peak: () => {
      memory.peak = Math.max(memory.peak, process.memoryUsage.rss());
      return { peakRss: memory.peak, samples: memory.samples, rss: process.memoryUsage.rss() };
    },
    ...handlers,
  };
  process.on("message", (message: Message) => {
    const handler = all[message.type];
    if (!handler) return process.send?.({ id: message.id, type: "error", error: `unknown request ${message.type}` });
    Promise.resolve()
      .then(() => handler(message))
      .then(
        (reply) => process.send?.({ id: message.id, type: "reply", reply }),
        (error: unknown) => process.send?.({ id: message.id, type: "error", error: String(error) }),
      );
  });
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    // Never hang on the way out: a server that does not close in 5 s is left to the exit.
    const timeout = new Promise((resolve) => setTimeout(resolve, 5000).unref());
    void Promise.race([Promise.resolve().then(onStop).catch((error: unknown) => console.error(error)), timeout]).finally(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("disconnect", shutdown);
  process.send?.({ type: "ready", info });
}

/** In a child: reports a start-up failure to the parent, then exits. */
export function failStart(error: unknown): void {
  const message = { type: "fatal", error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  if (!process.send) {
    console.error(message.error);
    process.exit(1);
  }
  process.send(message, () => process.exit(1));
}
