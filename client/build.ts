import { build, type BuildOptions } from "esbuild";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { minifyTemplates } from "./minify-templates.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

/** Where `npm run build:client` writes; dist/ is not committed. */
export const CLIENT_DIST = join(root, "dist/browser");

const NO_LIT = ["lit", "lit/*", "@lit/*", "lit-html", "lit-html/*", "lit-element/*"];

/**
 * The bundles: each element with Lit inside, and with `lit` left as imports for apps that already ship
 * it. The download centre (`<async-download-centre>`, `<async-export-button>`) is a file of its own, so
 * a page with only the file input never loads it (and the file input's bundle is unchanged by it).
 */
export const BUNDLES = {
  "async-file-input.js": { entry: "index.ts", external: [] as string[] },
  "async-file-input.no-lit.js": { entry: "index.ts", external: NO_LIT },
  "async-download-centre.js": { entry: "download-centre/index.ts", external: [] as string[] },
  "async-download-centre.no-lit.js": { entry: "download-centre/index.ts", external: NO_LIT },
} as const;

export type BundleName = keyof typeof BUNDLES;

export interface BuildClientOptions {
  /** Write to `outdir` (with source maps), or only return the code. @default true */
  write?: boolean;
  /** @default dist/browser */
  outdir?: string;
  /** Write linked source maps beside the bundles (for the demo and tests; the package ships none). @default true */
  sourcemap?: boolean;
}

/** Builds every minified ESM bundle and returns their code by file name. */
export async function buildClient(options: BuildClientOptions = {}): Promise<Record<BundleName, Uint8Array>> {
  const { write = true, outdir = CLIENT_DIST, sourcemap = true } = options;
  const shared: BuildOptions = {
    bundle: true,
    format: "esm",
    platform: "browser",
    // Every browser with form-associated custom elements (Chrome 77, Firefox 98, Safari 16.4) runs ES2022.
    target: "es2022",
    minify: true,
    legalComments: "eof",
    tsconfig: join(root, "tsconfig.json"),
    sourcemap: write && sourcemap ? "linked" : false,
    write,
    logLevel: "warning",
    plugins: [minifyTemplates(/[\\/]client[\\/].*\.ts$/)],
  };
  const results = await Promise.all(
    (Object.keys(BUNDLES) as BundleName[]).map(async (name) => {
      const { entry, external } = BUNDLES[name];
      const result = await build({ ...shared, entryPoints: [join(here, entry)], outfile: join(outdir, name), external: [...external] });
      const code = write
        ? await import("node:fs/promises").then((fs) => fs.readFile(join(outdir, name)))
        : result.outputFiles?.find((file) => basename(file.path) === name)?.contents;
      if (!code) throw new Error(`[build:client] esbuild produced no ${name}`);
      return [name, new Uint8Array(code)] as const;
    }),
  );
  return Object.fromEntries(results) as Record<BundleName, Uint8Array>;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = await buildClient();
  for (const [name, code] of Object.entries(files)) console.log(`dist/browser/${name}  ${code.byteLength} bytes`);
}
