import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { AsyncUploads } from "../create-async-uploads.js";
import { errorLine } from "../cleanup/error-line.js";
import { CleanupUsageError } from "../cleanup/options.js";
import type { OutputStream } from "../cleanup/report.js";

/**
 * What every `async-uploads` command shares: its I/O, one-line failures with exit codes 1 and 2, the
 * app's configuration module, and the process entry that turns SIGINT/SIGTERM into an abort signal.
 * Each command (cleanup-temp-files, cleanup-expired-exports, worker) only parses its options and runs.
 */

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Aborted by SIGINT/SIGTERM: a command stops between batches, a worker stops taking jobs. */
  signal?: AbortSignal;
}

/** What an app's configuration module's loadUploads() (its default export) resolves to. */
export interface LoadedUploads {
  uploads: AsyncUploads;
  close(): Promise<void>;
}

/** Writes a failure as `command: message` on one line and returns its exit code: 1 the run failed, 2 bad usage. */
export type Fail = (code: 1 | 2, message: string, error?: unknown) => 1 | 2;

/** The `fail` of a command; with `debug()` true the error's stack follows the line. */
export function failureWriter(command: string, io: CliIo, debug: () => boolean): Fail {
  return (code, message, error) => {
    io.stderr.write(`${command}: ${oneReadableLine(message)}${code === 2 ? " (see --help)" : ""}\n`);
    if (debug() && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    return code;
  };
}

/**
 * A message as one line a terminal shows as it is: arguments and paths can hold newlines, controls or
 * bidi characters (a generated or pasted cron line), which are written as `\uXXXX` escapes.
 */
export function oneReadableLine(message: string): string {
  return message.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (char) => `\\u${char.codePointAt(0)!.toString(16).padStart(4, "0")}`);
}

/**
 * Imports the configuration module and calls its loader. A module that is missing, cannot be imported
 * or exports the wrong thing is a usage error (exit 2: running again will not help); a loader that
 * throws (a database that is down) is a failed run (exit 1).
 */
export async function loadConfiguration(path: string): Promise<LoadedUploads> {
  if (!existsSync(path)) throw new CleanupUsageError(`configuration module ${path} does not exist`);
  let module: { default?: unknown; loadUploads?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as typeof module;
  } catch (error) {
    throw new CleanupUsageError(`cannot import ${path}: ${errorLine(error)}`, { cause: error });
  }
  const loadUploads = typeof module.default === "function" ? module.default : module.loadUploads;
  if (typeof loadUploads !== "function") {
    throw new CleanupUsageError(`${path} must export an async function loadUploads() (default or named) resolving to { uploads, close }`);
  }
  const loaded = (await loadUploads()) as Partial<LoadedUploads> | null | undefined;
  if (!loaded?.uploads?.registry || !loaded.uploads.settings || typeof loaded.close !== "function") {
    // It may have opened a database: close it so the process can exit, but report the shape.
    await Promise.resolve(typeof loaded?.close === "function" ? loaded.close() : undefined).catch(() => {});
    throw new CleanupUsageError(`${path}: loadUploads() must resolve to { uploads, close }, where uploads is what createAsyncUploads() returns`);
  }
  return loaded as LoadedUploads;
}

/** `loadConfiguration` for a command: the loaded uploads, or the exit code of a failure already written. */
export async function loadConfigurationOrFail(path: string, fail: Fail): Promise<LoadedUploads | 1 | 2> {
  try {
    return await loadConfiguration(path);
  } catch (error) {
    if (error instanceof CleanupUsageError) return fail(2, error.message, error.cause);
    return fail(1, `cannot load ${path}: ${errorLine(error)}`, error);
  }
}

/**
 * The process entry of a command: stdio, the environment, and SIGINT/SIGTERM, which abort `io.signal`
 * (saying `onStop` when given); a second signal quits at once.
 */
export async function runAsProcess(
  run: (argv: readonly string[], io: CliIo) => Promise<number>,
  argv: readonly string[],
  onStop?: (signal: NodeJS.Signals) => string,
): Promise<number> {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    if (onStop) process.stderr.write(onStop(signal));
    controller.abort();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    return await run(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), signal: controller.signal });
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
