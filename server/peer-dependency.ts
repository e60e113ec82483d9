/**
 * Thrown when an optional peer dependency the app chose to use is not installed. The message is one
 * line naming what to install, instead of a loader's stack trace from deep inside node_modules.
 */
export class MissingPeerDependencyError extends Error {
  override name = "MissingPeerDependencyError";
  /** The package that is not installed. */
  declare readonly packageName: string;

  constructor(packageName: string, neededBy: string, install: readonly string[]) {
    super(`[async-uploads] ${neededBy} needs the package "${packageName}", which is not installed: npm install ${install.join(" ")}`);
    // Not enumerable: Node prints an uncaught error's own enumerable properties after its message.
    Object.defineProperty(this, "packageName", { value: packageName, enumerable: false });
    // One line is the whole story; the frames would only point into the module loader.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * Runs `load` (a dynamic import of a module that uses the optional peer dependencies `packages`),
 * turning "one of them is not installed" into a `MissingPeerDependencyError`.
 */
export async function importPeer<T>(load: () => Promise<T>, packages: readonly string[], neededBy: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const missing = packages.find((name) => isMissing(error, name));
    if (missing) throw new MissingPeerDependencyError(missing, neededBy, packages);
    throw error;
  }
}

function isMissing(error: unknown, packageName: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  // Node: "Cannot find package 'x' imported from …"; bundlers and tsx: "Cannot find module 'x'".
  return (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && typeof message === "string" && message.includes(`'${packageName}'`);
}
