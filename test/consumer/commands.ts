import { spawn } from "node:child_process";

export interface CommandResult {
  /** Exit code, or null when the command was ended by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  /** Added to (or, with `undefined`, removed from) the consumer environment. */
  env?: Record<string, string | undefined>;
  /** @default 240 s (an `npm install` on a cold cache) */
  timeoutMs?: number;
}

/** A command that exited with a code other than 0; the message carries its output. */
export class CommandFailedError extends Error {
  constructor(
    readonly command: string,
    readonly result: CommandResult,
  ) {
    super(`\`${command}\` exited with ${result.code ?? "a signal"}\n--- stdout\n${tail(result.stdout)}\n--- stderr\n${tail(result.stderr)}`);
    this.name = "CommandFailedError";
  }
}

/**
 * The environment a consumer's commands run in: ours, without what would make them behave unlike a
 * fresh project. `npm test` exports the outer package's `npm_package_*`/`npm_lifecycle_*` variables,
 * vitest sets `NODE_ENV=test` and `VITEST*` (Vite builds read them), and `NODE_OPTIONS` could carry a
 * loader such as tsx into the "no TS loader" server.
 */
export function consumerEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(npm_package_|npm_lifecycle_|VITEST)/.test(name)) continue;
    if (["npm_config_local_prefix", "npm_command", "INIT_CWD", "NODE_OPTIONS", "NODE_ENV", "TEST"].includes(name)) continue;
    env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/**
 * Runs a command to its end and returns its output whatever its exit code. `node` means the Node.js
 * running the tests (`process.execPath`), so consumers run on the version under test.
 */
export function runCommand(command: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
  const executable = command === "node" ? process.execPath : command;
  const { cwd, env, timeoutMs = 240_000 } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { cwd, env: consumerEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`\`${[command, ...args].join(" ")}\` did not finish within ${timeoutMs} ms\n${tail(stderr)}`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `runCommand`, failing with the command's output unless it exits with 0. */
export async function runChecked(command: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) throw new CommandFailedError([command, ...args].join(" "), result);
  return result;
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
