import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { failureWriter, loadConfigurationOrFail, runAsProcess, type CliIo } from "../cli/command.js";
import { parseDuration } from "../cleanup/cli.js";
import { errorLine } from "../cleanup/error-line.js";
import { CleanupUsageError } from "../cleanup/options.js";
import type { ExpiredExportsOptions, ExpiredExportsSummary } from "./cleanup-expired-exports.js";

export const EXPORTS_USAGE = `Usage: async-uploads cleanup-expired-exports --config <module> [options]

Removes the files of exports (issue 15) that expired more than the leeway ago, and marks them
expired. Safe to run on several machines at once: each file is deleted once, and the file of a
queued, running or retried export is never touched. uploads.start() also schedules it on the job
engine (exports.cleanupSchedule, default every 10 minutes), so a cron line is only needed when that
schedule is turned off.

Configuration (required): --config <module>, or the environment variable ASYNC_UPLOADS_CONFIG, as for
cleanup-temp-files (a module whose loadUploads() resolves to { uploads, close }).

Options:
  --config <module>         the configuration module (path relative to the current directory)
  --leeway <duration>       keep files this long past their expiry, so last-minute downloads finish:
                            0 or more, e.g. 30m, 2h (default: 1h)
  --dry-run                 report how many exports would expire; change nothing
  --batch-size <n>          rows claimed per transaction, 1-10000 (default: 100)
  --max-duration <duration> stop cleanly between batches after this long; at most 7d
  --sleep <duration>        pause between batches: 0 (the default) to 1h, e.g. 500ms
  --json                    print one JSON summary object on stdout, nothing else
  --quiet                   print nothing unless something failed
  --debug                   on failure, also print the error's stack
  -h, --help                show this help

Exit status: 0 done; 1 some files could not be deleted (they stay for the next run), or the run
failed; 2 bad usage, or a configuration module that is missing or exports the wrong thing.
`;

const OPTIONS = {
  leeway: { type: "string" },
  "dry-run": { type: "boolean" },
  "batch-size": { type: "string" },
  "max-duration": { type: "string" },
  sleep: { type: "string" },
  config: { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `cleanup-expired-exports` with `argv` (the arguments after the subcommand); returns the exit code. */
export async function runExportsCleanupCli(argv: readonly string[], io: CliIo): Promise<number> {
  let debug = false;
  const fail = failureWriter("cleanup-expired-exports", io, () => debug);
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout.write(EXPORTS_USAGE);
    return 0;
  }
  let args: ReturnType<typeof parseCommandLine>;
  try {
    args = parseCommandLine(argv, io);
  } catch (error) {
    return fail(2, errorLine(error));
  }
  debug = args.debug;
  const loaded = await loadConfigurationOrFail(args.configPath, fail);
  if (typeof loaded === "number") return loaded;
  try {
    const exports = (loaded.uploads as { exports?: { cleanupExpired?: (options: ExpiredExportsOptions) => Promise<ExpiredExportsSummary> } }).exports;
    if (typeof exports?.cleanupExpired !== "function") return fail(2, `${args.configPath}: uploads has no exports (an async-uploads without issue 15?)`);
    const summary = await exports.cleanupExpired({ ...args.options, signal: io.signal });
    const code = summary.failed > 0 || summary.stoppedBy === "signal" ? 1 : 0;
    if (args.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
    else if (!args.quiet || code !== 0) (args.quiet ? io.stderr : io.stdout).write(formatSummary(summary));
    return code;
  } catch (error) {
    return fail(1, errorLine(error), error);
  } finally {
    await loaded.close().catch((error: unknown) => io.stderr.write(`cleanup-expired-exports: closing: ${errorLine(error)}\n`));
  }
}

function formatSummary(summary: ExpiredExportsSummary): string {
  if (summary.dryRun) return `cleanup-expired-exports (dry run): ${summary.wouldExpire} export(s) would expire\n`;
  const stopped = summary.stoppedBy === "done" ? "" : ` (stopped: ${summary.stoppedBy})`;
  return `cleanup-expired-exports: ${summary.expired} expired, ${summary.failed} failed, ${summary.skipped} of types not registered here, in ${summary.durationMs} ms${stopped}\n`;
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
  const options: ExpiredExportsOptions = {
    leewayMs: parseDuration(values.leeway, "leeway"),
    dryRun: values["dry-run"] ?? false,
    batchSize: batch === undefined ? undefined : Number(batch),
    maxDurationMs: parseDuration(values["max-duration"], "max-duration"),
    sleepMs: parseDuration(values.sleep, "sleep"),
  };
  const config = values.config || io.env.ASYNC_UPLOADS_CONFIG;
  if (!config) throw new CleanupUsageError("no configuration: pass --config <module> or set ASYNC_UPLOADS_CONFIG");
  return { options, configPath: resolve(io.cwd, config), json: values.json ?? false, quiet: values.quiet ?? false, debug: values.debug ?? false };
}

/** The process entry: SIGINT/SIGTERM finish the batch, then stop (a second one quits at once). */
export function main(argv: readonly string[]): Promise<number> {
  return runAsProcess(runExportsCleanupCli, argv);
}
