import { resolve } from "node:path";
import { parseArgs } from "node:util";
import ms from "ms";
import { failureWriter, loadConfigurationOrFail, runAsProcess, type CliIo } from "../cli/command.js";
import { runCleanup, type CleanupSummary } from "./cleanup-temp-files.js";
import { errorLine } from "./error-line.js";
import {
  checkDuration, CleanupUsageError, DURATION_LIMITS, validateCleanupOptions, type CleanupOptions, type DurationOption,
} from "./options.js";
import { createProgressWriter, formatSummary } from "./report.js";

export const USAGE = `Usage: async-uploads cleanup-temp-files --config <module> [options]

Removes uploads that were never saved: pending, failed and canceled rows older than the threshold,
with their temp objects; committed rows as old whose temp object a crashed save left behind (the
saved file is never touched); and files a save replaced or removed whose deletion a crash
interrupted. Safe to run from cron on several machines at once.

Configuration (required): --config <module>, or the environment variable ASYNC_UPLOADS_CONFIG.
  The module exports, as its default export or as a named export loadUploads, an async function loadUploads()
  that resolves to { uploads, close }: the same createAsyncUploads() setup (database, storage,
  fields) your server uses, and a function that closes its database connection.
  A .js or .mjs module always works. A .ts module works on Node.js 22.18 or newer, which strips
  types natively: erasable syntax only (no enums or parameter properties), and its relative imports
  must name real files (./db.ts, not ./db). Otherwise compile it, or run this command through tsx.

Report: rows removed with their objects (an object already gone counts as removed) and the bytes
freed, taken from the sizes the uploads declared (the storage held them to it); objects are not
looked at one by one. In --json, "objectsDeleted" equals "removed".

Options:
  --config <module>         the configuration module (path relative to the current directory)
  --older-than <duration>   remove rows older than this: 90m, 24h, 7d; at most 100y
                            (default: 24h, or the configured temp file lifetime if longer)
  --force                   allow --older-than below the upload URL lifetime (default 15m)
  --dry-run                 report what would be removed; change nothing
  --batch-size <n>          rows claimed per transaction, 1-10000 (default: 250)
  --max-duration <duration> stop cleanly between batches after this long; at most 7d
  --sleep <duration>        pause between batches: 0 (the default) to 1h, e.g. 500ms
  --field <fieldId>         only this field; repeat for several
  --json                    print one JSON summary object on stdout, nothing else
  --quiet                   print nothing unless something failed
  --debug                   on failure, also print the error's stack
  -h, --help                show this help

Exit status: 0 done; 1 some items failed (they stay for the next run), or loadUploads() or the run
failed; 2 bad usage, or a configuration module that is missing, cannot be imported or exports the
wrong thing.
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
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `cleanup-temp-files` with `argv` (the arguments after the subcommand) and returns the exit code. */
export async function runCleanupCli(argv: readonly string[], io: CliIo): Promise<number> {
  let debug = false;
  const fail = failureWriter("cleanup-temp-files", io, () => debug);
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
  debug = args.debug;

  // Only the configuration module's loader opens a database or touches the disk, and it is called only
  // once the module is known to export one: a mistyped cron line must fail loudly, not create files.
  const loaded = await loadConfigurationOrFail(args.configPath, fail);
  if (typeof loaded === "number") return loaded;
  const progress = createProgressWriter(io.stdout, args.options.dryRun ?? false);
  try {
    const showProgress = !args.quiet && !args.json;
    const settings = validateCleanupOptions(loaded.uploads, {
      ...args.options,
      signal: io.signal,
      onProgress: showProgress ? (p) => progress.update(p) : undefined,
    });
    const { tempFileLifetimeMs } = loaded.uploads.settings;
    if (!args.quiet && !args.json && args.options.olderThanMs !== undefined && args.options.olderThanMs < tempFileLifetimeMs) {
      io.stderr.write(
        `cleanup-temp-files: note: --older-than is shorter than the temp file lifetime (${ms(tempFileLifetimeMs)}); ` +
          "uploads a form could still save will be removed, and such a save will ask for the file again\n",
      );
    }
    const summary = await runCleanup(loaded.uploads, settings);
    progress.finish();
    const code = summary.failed > 0 || summary.stoppedBy === "signal" || summary.stoppedBy === "storage-unavailable" ? 1 : 0;
    writeSummary(io, summary, args, code);
    return code;
  } catch (error) {
    progress.finish();
    return error instanceof CleanupUsageError ? fail(2, error.message) : fail(1, errorLine(error), error);
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
    throw new CleanupUsageError(errorLine(error));
  }
  const { values } = parsed;
  const batch = values["batch-size"];
  if (batch !== undefined && !/^[1-9]\d{0,4}$/.test(batch)) throw new CleanupUsageError(`--batch-size must be a whole number from 1 to 10000, not "${batch}"`);
  const fields = values.field ?? [];
  const emptyField = fields.find((field) => field.trim() === "");
  if (emptyField !== undefined) throw new CleanupUsageError("--field needs a field id");
  const options: CleanupOptions = {
    olderThanMs: parseDuration(values["older-than"], "older-than"),
    force: values.force ?? false,
    dryRun: values["dry-run"] ?? false,
    batchSize: batch === undefined ? undefined : Number(batch),
    maxDurationMs: parseDuration(values["max-duration"], "max-duration"),
    sleepMs: parseDuration(values.sleep, "sleep"),
    fieldIds: fields,
  };
  // No default: the command cannot guess an app's database and storage (an empty value counts as none).
  const config = values.config || io.env.ASYNC_UPLOADS_CONFIG;
  if (!config) throw new CleanupUsageError("no configuration: pass --config <module> or set ASYNC_UPLOADS_CONFIG");
  return {
    options, configPath: resolve(io.cwd, config), json: values.json ?? false, quiet: values.quiet ?? false, debug: values.debug ?? false,
  };
}

/**
 * `90m`, `24h`, `7d`, `1.5h`… within the option's limits (`DURATION_LIMITS`). A bare number is refused,
 * as `24` could mean hours or milliseconds, except `0` where zero is allowed (`--sleep 0`, the default).
 */
export function parseDuration(text: string | undefined, option: DurationOption): number | undefined {
  if (text === undefined) return undefined;
  const name = `--${option}`;
  const trimmed = text.trim();
  const zeroAllowed = DURATION_LIMITS[option].min === 0;
  if (zeroAllowed && /^0+(\.0+)?$/.test(trimmed)) return 0;
  const kind = zeroAllowed ? "duration of zero or more" : "positive duration";
  const bad = () => new CleanupUsageError(`${name} must be a ${kind} such as 90m, 24h or 7d, not ${JSON.stringify(text)}`);
  if (!/^\d+(\.\d+)?\s*[a-z]+$/i.test(trimmed)) throw bad();
  const value = ms(trimmed as ms.StringValue) as number | undefined;
  if (value === undefined || !Number.isFinite(value)) throw bad();
  if (value === 0 && !zeroAllowed) throw bad();
  checkDuration(value, option, name, JSON.stringify(text));
  return value;
}

/** The process entry: SIGINT/SIGTERM finish the batch, then stop. */
export function main(argv: readonly string[]): Promise<number> {
  return runAsProcess(runCleanupCli, argv, (signal) => `\ncleanup-temp-files: ${signal}: stopping after this batch (again to quit at once)\n`);
}
