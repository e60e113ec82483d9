import { build, type BuildOptions, type OutputFile } from "esbuild";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The one esbuild configuration every candidate is bundled with (bundle sizes, and the browser
 * bench's pages): minified ESM for the browser, everything bundled, CSS into a file beside the JS.
 */
export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  // Our component's decorators need the project's TS settings; the peers are plain JS.
  tsconfig: `${ROOT}tsconfig.json`,
  legalComments: "none",
  write: false,
  outdir: `${ROOT}bench/.bundles`,
  logLevel: "warning",
};

/**
 * Bundles an entry (source text, resolved from the project root); returns the JS and CSS outputs.
 * `pages`: for the browser bench's pages, whose sources import files of this repository bare
 * (`import "../../client/index"`): package.json's `sideEffects` names the built files only, so esbuild
 * would drop those imports whole (an empty page that never gets ready). `ignoreAnnotations` makes it
 * keep them (https://esbuild.github.io/api/#ignore-annotations); sizes are measured without it.
 */
export async function bundleEntry(entry: string, external: string[] = [], options: { pages?: boolean } = {}): Promise<OutputFile[]> {
  const result = await build({
    ...BUNDLE_OPTIONS,
    stdin: { contents: entry, resolveDir: ROOT, sourcefile: "entry.ts", loader: "ts" },
    external,
    ignoreAnnotations: options.pages ?? false,
  });
  return (result.outputFiles ?? []).filter((file) => /\.(js|css)$/.test(file.path));
}
