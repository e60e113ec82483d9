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

// Each command's module is loaded only when it is the one asked for.
const COMMANDS: Record<string, () => Promise<{ main(argv: readonly string[]): Promise<number> }>> = {
  "cleanup-temp-files": () => import("../server/cleanup/cli.js"),
  "cleanup-expired-exports": () => import("../server/exports/cleanup-cli.js"),
  worker: () => import("../server/exports/worker-cli.js"),
};

const load = command === undefined ? undefined : Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
if (load) {
  const code = await (await load()).main(args);
  process.exitCode = code;
  // Exit even if a driver keeps an idle socket open; unref'd, so a clean exit is not delayed.
  setTimeout(() => process.exit(code), 2000).unref();
} else if (command === "--help" || command === "-h" || command === "help") {
  process.stdout.write(USAGE);
} else {
  process.stderr.write(command === undefined ? "async-uploads: missing command\n" : `async-uploads: unknown command "${command}"\n`);
  process.stderr.write(USAGE);
  process.exitCode = 2;
}
