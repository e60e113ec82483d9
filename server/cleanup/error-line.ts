/**
 * An error as one line, for the cleanup summary, its failures and the command's stderr: its message
 * (or its name or code when empty, as with AggregateError), then its causes' messages where they add
 * something (drizzle wraps the connection error as the cause). Node.js errors the command meets get
 * the words a person needs instead (see `nodeErrorLine`).
 */
export function errorLine(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error, depth = 0; current !== undefined && depth < 4; depth++) {
    const message = messageOf(current).replace(/\s+/g, " ").trim();
    if (!parts.some((part) => part.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const node = nodeErrorLine(error);
  if (node !== undefined) return node;
  let message = error.message;
  if (!message && error instanceof AggregateError) message = error.errors.map(errorLine).join("; ");
  return message || ((error as NodeJS.ErrnoException).code ?? error.name);
}

/** Node.js's own wording where it does not say what to do, or says it in a whole paragraph. */
function nodeErrorLine(error: Error): string | undefined {
  const { code } = error as NodeJS.ErrnoException;
  // parseArgs: "Unknown option '--x'. To specify a positional argument, …"
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${quoted(error.message)}`;
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return `unexpected argument ${quoted(error.message)}`;
  if (code?.startsWith("ERR_PARSE_ARGS_")) return error.message.split(". ")[0] ?? error.message;
  if (code === "ERR_UNKNOWN_FILE_EXTENSION" && /\.[cm]?tsx?$/.test(error.message)) {
    return `this Node.js (${process.version}) cannot import TypeScript: use Node.js 22.18 or newer, compile the module to .js, or run the command through tsx`;
  }
  // Node.js puts the line of a syntax error in a module only in the stack's first line ("/app/config.js:3").
  const line = error instanceof SyntaxError ? /^\S+:(\d+)\n/.exec(error.stack ?? "")?.[1] : undefined;
  return line ? `${error.message} (line ${line})` : undefined;
}

function quoted(message: string): string {
  return /'([^']*)'/.exec(message)?.[1] ?? message;
}
