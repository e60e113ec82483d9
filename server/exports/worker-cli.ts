import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { failureWriter, loadConfigurationOrFail, runAsProcess, type CliIo } from "../cli/command.js";
import { errorLine } from "../cleanup/error-line.js";

export const WORKER_USAGE = `Usage: async-uploads worker --config <module>

Runs the background workers (exports, upload processing) of your app's configuration on this
machine, until SIGINT or SIGTERM: then it stops taking jobs, lets running ones finish for up to 10 s
(the rest are retried by another worker) and exits. Run as many as you like, on as many machines:
the job engine (pg-boss on your PostgreSQL) hands each job to one of them. The web instances may
then run with processing: { worker: false }; the configuration this command loads must not.

Configuration (required): --config <module>, or the environment variable ASYNC_UPLOADS_CONFIG, as for
cleanup-temp-files (a module whose loadUploads() resolves to { uploads, close }, where uploads is the
same createAsyncUploads() setup, with the same export types and fields, as your server's).

Options:
  --config <module>   the configuration module (path relative to the current directory)
  --quiet             print nothing unless something failed
  --debug             on failure, also print the error's stack
  -h, --help          show this help

Exit status: 0 stopped by a signal; 1 the workers could not start; 2 bad usage, or a configuration
module that is missing or exports the wrong thing.
`;

const OPTIONS = {
  config: { type: "string" },
  quiet: { type: "boolean" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `async-uploads worker` until `io.signal` aborts; returns the exit code. */
export async function runWorkerCli(argv: readonly string[], io: CliIo): Promise<number> {
  let debug = false;
  const fail = failureWriter("worker", io, () => debug);
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout.write(WORKER_USAGE);
    return 0;
  }
  let values: { config?: string; quiet?: boolean; debug?: boolean };
  try {
    values = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    return fail(2, errorLine(error));
  }
  debug = values.debug ?? false;
  const config = values.config || io.env.ASYNC_UPLOADS_CONFIG;
  if (!config) return fail(2, "no configuration: pass --config <module> or set ASYNC_UPLOADS_CONFIG");
  const configPath = resolve(io.cwd, config);
  const loaded = await loadConfigurationOrFail(configPath, fail);
  if (typeof loaded === "number") return loaded;
  try {
    if (io.signal?.aborted) return 0;
    try {
      await loaded.uploads.start();
    } catch (error) {
      return fail(1, `the workers could not start: ${errorLine(error)}`, error);
    }
    if (!values.quiet) io.stdout.write(`worker: started (pid ${process.pid}); SIGINT or SIGTERM to stop\n`);
    await new Promise<void>((resolveStop) => {
      if (!io.signal || io.signal.aborted) return resolveStop();
      io.signal.addEventListener("abort", () => resolveStop(), { once: true });
    });
    if (!values.quiet) io.stdout.write("worker: stopping (running jobs get up to 10 s)\n");
    await loaded.uploads.close();
    if (!values.quiet) io.stdout.write("worker: stopped\n");
    return 0;
  } finally {
    await loaded.close().catch((error: unknown) => io.stderr.write(`worker: closing: ${errorLine(error)}\n`));
  }
}

/** The process entry: SIGINT/SIGTERM stop the workers (a second one quits at once). */
export function main(argv: readonly string[]): Promise<number> {
  return runAsProcess(runWorkerCli, argv);
}
