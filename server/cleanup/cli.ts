import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import ms from "ms";
import type { AsyncUploads } from "../create-async-uploads.js";
import {
  cleanupTempFiles, CleanupUsageError, errorLine, validateCleanupOptions, type CleanupOptions, type CleanupSummary,
} from "./cleanup-temp-files.js";
import { createProgressWriter, formatSummary, type OutputStream } from "./report.js";

export const USAGE = `Usage: async-uploads cleanup-temp-files [options]

Removes uploads that were never saved: pending and failed rows older than the threshold, with their
temp objects, and committed rows as old whose temp object a crashed save left behind (the saved file
is never touched). Safe to run from cron on several machines at once.

Options:
  --older-than <duration>   remove rows older than this: 90m, 24h, 7d
                            (default: 24h, or the configured temp file lifetime if longer)
  --force                   allow --older-than below the upload URL lifetime (default 15m)
  --dry-run                 report what would be removed; change nothing
  --batch-size <n>          rows claimed per transaction, 1-10000 (default: 100)
  --max-duration <duration> stop cleanly between batches after this long
  --sleep <duration>        pause between batches (default: none)
  --field <fieldId>         only this field; repeat for several
  --config <path>           module whose default export is loadUploads()
                            (default: $ASYNC_UPLOADS_CONFIG, else the demo's server/demo/uploads-config.ts)
  --json                    print one JSON summary object on stdout, nothing else
  --quiet                   print nothing unless something failed
  -h, --help                show this help

Exit status: 0 done, 1 some items failed (they stay for the next run) or the run failed, 2 bad usage.
`;

const OPTIONS = {
  "older-than": { type: "string" },
  force: { type: "boolean" },
  "dry-run": { type: "boolean" },
  "batch-size": { type: "string" },
  "max-duration": { type: "string" },
  sleep: { type: "string" },
  field: { type: "string", multiple: true },
  config: { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL("../demo/uploads-config.ts", import.meta.url));

/** What an app's configuration module's default export returns. */
export interface LoadedUploads {
  uploads: AsyncUploads;
  close(): Promise<void>;
}

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Stops the run between batches (SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

class UsageError extends Error {}

/** Runs `cleanup-temp-files` with `argv` (the arguments after the subcommand) and returns the exit code. */
export async function runCleanupCli(argv: readonly string[], io: CliIo): Promise<number> {
  const fail = (code: 1 | 2, message: string) => {
    io.stderr.write(`cleanup-temp-files: ${message}${code === 2 ? " (see --help)" : ""}\n`);
    return code;
  };
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout.write(USAGE);
    return 0;
  }
  let args: ReturnType<typeof parseCommandLine>;
  try {
    args = parseCommandLine(argv, io);
  } catch (error) {
    return fail(2, errorLine(error));
  }

  let loaded: LoadedUploads;
  try {
    loaded = await loadConfiguration(args.configPath);
  } catch (error) {
    return error instanceof UsageError ? fail(2, error.message) : fail(1, `cannot load ${args.configPath}: ${errorLine(error)}`);
  }
  const progress = createProgressWriter(io.stdout, args.options.dryRun ?? false);
  try {
    validateCleanupOptions(loaded.uploads, args.options);
    const { tempFileLifetimeMs } = loaded.uploads.settings;
    if (!args.quiet && !args.json && args.options.olderThanMs !== undefined && args.options.olderThanMs < tempFileLifetimeMs) {
      io.stderr.write(
        `cleanup-temp-files: note: --older-than is shorter than the temp file lifetime (${ms(tempFileLifetimeMs)}); ` +
          "uploads a form could still save will be removed, and such a save will ask for the file again\n",
      );
    }
    const showProgress = !args.quiet && !args.json;
    const summary = await cleanupTempFiles(loaded.uploads, {
      ...args.options,
      signal: io.signal,
      onProgress: showProgress ? (p) => progress.update(p) : undefined,
    });
    progress.finish();
    const code = summary.failed > 0 || summary.stoppedBy === "signal" || summary.stoppedBy === "storage-unavailable" ? 1 : 0;
    writeSummary(io, summary, args, code);
    return code;
  } catch (error) {
    progress.finish();
    return error instanceof CleanupUsageError ? fail(2, error.message) : fail(1, errorLine(error));
  } finally {
    await loaded.close().catch((error: unknown) => io.stderr.write(`cleanup-temp-files: closing: ${errorLine(error)}\n`));
  }
}

function writeSummary(io: CliIo, summary: CleanupSummary, args: { json: boolean; quiet: boolean }, code: number): void {
  if (args.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
  else if (!args.quiet) io.stdout.write(formatSummary(summary));
  // Quiet means quiet while all is well; cron mails whatever is printed, so a failure is.
  else if (code !== 0) io.stderr.write(formatSummary(summary));
}

function parseCommandLine(argv: readonly string[], io: CliIo) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
  const { values } = parsed;
  const batch = values["batch-size"];
  if (batch !== undefined && !/^[1-9]\d{0,4}$/.test(batch)) throw new UsageError(`--batch-size must be a whole number from 1 to 10000, not "${batch}"`);
  const fields = values.field ?? [];
  const emptyField = fields.find((field) => field.trim() === "");
  if (emptyField !== undefined) throw new UsageError("--field needs a field id");
  const options: CleanupOptions = {
    olderThanMs: parseDuration(values["older-than"], "--older-than"),
    force: values.force ?? false,
    dryRun: values["dry-run"] ?? false,
    batchSize: batch === undefined ? undefined : Number(batch),
    maxDurationMs: parseDuration(values["max-duration"], "--max-duration"),
    sleepMs: parseDuration(values.sleep, "--sleep"),
    fieldIds: fields,
  };
  const configPath = resolve(io.cwd, values.config ?? io.env.ASYNC_UPLOADS_CONFIG ?? DEFAULT_CONFIG_PATH);
  return { options, configPath, json: values.json ?? false, quiet: values.quiet ?? false };
}

/** `90m`, `24h`, `7d`, `1.5h`… A bare number is refused: `24` could mean hours or milliseconds. */
export function parseDuration(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const bad = () => new UsageError(`${name} must be a positive duration such as 90m, 24h or 7d, not "${text}"`);
  if (!/^\d+(\.\d+)?\s*[a-z]+$/i.test(text.trim())) throw bad();
  const value = ms(text.trim() as ms.StringValue) as number | undefined;
  if (value === undefined || !Number.isFinite(value) || value <= 0) throw bad();
  return value;
}

async function loadConfiguration(path: string): Promise<LoadedUploads> {
  if (!existsSync(path)) throw new UsageError(`configuration module ${path} does not exist (--config or ASYNC_UPLOADS_CONFIG)`);
  const module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  if (typeof module.default !== "function") {
    throw new UsageError(`${path} must default-export an async function loadUploads(): { uploads, close }`);
  }
  const loaded = (await module.default()) as Partial<LoadedUploads> | undefined;
  if (!loaded?.uploads?.registry || !loaded.uploads.settings || typeof loaded.close !== "function") {
    await loaded?.close?.();
    throw new UsageError(`${path}: loadUploads() must resolve to { uploads, close }`);
  }
  return loaded as LoadedUploads;
}

function parseArgsMessage(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${/'([^']*)'/.exec(message)?.[1] ?? message}`;
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return `unexpected argument ${/'([^']*)'/.exec(message)?.[1] ?? message}`;
  return message.split(". ")[0] ?? message;
}

/** The process entry: wires stdio, the environment and SIGINT/SIGTERM (finish the batch, then stop). */
export async function main(argv: readonly string[]): Promise<number> {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\ncleanup-temp-files: ${signal}: stopping after this batch (again to quit at once)\n`);
    controller.abort();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    return await runCleanupCli(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), signal: controller.signal });
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
