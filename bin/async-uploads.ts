#!/usr/bin/env node
// The `async-uploads` command. The subcommand is dispatched here so that an unknown one fails before
// anything else is loaded.
export {};
const USAGE = `Usage: async-uploads <command> [options]

Commands:
  cleanup-temp-files   remove uploads that were never saved (see: async-uploads cleanup-temp-files --help)
  cleanup-expired-exports  remove the files of expired exports (see: async-uploads cleanup-expired-exports --help)
  worker               run the background workers (exports, processing) until stopped (see: async-uploads worker --help)
`;

const [command, ...args] = process.argv.slice(2);

if (command === "cleanup-temp-files") {
  const { main } = await import("../server/cleanup/cli.js");
  const code = await main(args);
  process.exitCode = code;
  // Exit even if a driver keeps an idle socket open; unref'd, so a clean exit is not delayed.
  setTimeout(() => process.exit(code), 2000).unref();
} else if (command === "cleanup-expired-exports") {
  const { main } = await import("../server/exports/cleanup-cli.js");
  const code = await main(args);
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
} else if (command === "worker") {
  const { main } = await import("../server/exports/worker-cli.js");
  const code = await main(args);
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
} else if (command === "--help" || command === "-h" || command === "help") {
  process.stdout.write(USAGE);
} else {
  process.stderr.write(command === undefined ? "async-uploads: missing command\n" : `async-uploads: unknown command "${command}"\n`);
  process.stderr.write(USAGE);
  process.exitCode = 2;
}
