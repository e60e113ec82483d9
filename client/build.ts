import { build, type BuildOptions, type Plugin } from "esbuild";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
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
 *
 * What an element loads only when needed (`import()`: the upload engine with the first file, chunked
 * uploads for a large one, the following of the server's checks) goes into `chunks/` beside the
 * bundles, which import it by relative URL: serve the whole folder.
 */
export const BUNDLES = {
  "async-file-input.js": { entry: "async-file-input/bundle-entry.ts", external: [] as string[] },
  "async-file-input.no-lit.js": { entry: "async-file-input/bundle-entry.ts", external: NO_LIT },
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

/** Where the lazily loaded chunks go, relative to the bundles. */
export const CHUNK_DIR = "chunks";

/** Every file a build writes (source maps aside), by path relative to `outdir`: the bundles and their chunks (`chunks/…`). */
export type ClientFiles = Record<BundleName, Uint8Array> & Record<string, Uint8Array>;

/** Builds every minified ESM bundle and returns their code, and their chunks', by file name. */
export async function buildClient(options: BuildClientOptions = {}): Promise<ClientFiles> {
  const { write = true, outdir = CLIENT_DIST, sourcemap = true } = options;
  const shared: BuildOptions = {
    bundle: true,
    format: "esm",
    platform: "browser",
    // Every browser with form-associated custom elements (Chrome 77, Firefox 98, Safari 16.4) runs ES2022.
    target: "es2022",
    minify: true,
    // Module scripts are always read as UTF-8: "…" need not be written "\u2026".
    charset: "utf8",
    // The licences of what is bundled (Lit's) go to a file beside each bundle (`<name>.LEGAL.txt`, shipped
    // with them), which a comment at the end names: the notices are kept, the bytes every page loads are not.
    legalComments: "linked",
    tsconfig: join(root, "tsconfig.json"),
    sourcemap: write && sourcemap ? "linked" : false,
    write: false,
    // https://esbuild.github.io/api/#splitting — each `import()` becomes a chunk; shared code is not duplicated.
    splitting: true,
    outdir,
    chunkNames: `${CHUNK_DIR}/[name]-[hash]`,
    logLevel: "warning",
    plugins: [minifyTemplates(/[\\/]client[\\/].*\.ts$/)],
  };
  const outputs = await Promise.all(
    (Object.keys(BUNDLES) as BundleName[]).map(async (name) => {
      const { entry, external } = BUNDLES[name];
      const result = await build({
        ...shared,
        entryPoints: { [name.replace(/\.js$/, "")]: join(here, entry) },
        external: [...external],
        plugins: [...shared.plugins!, ...(entry === BUNDLES["async-file-input.js"].entry ? [shareWithElement(name)] : [])],
      });
      const files = result.outputFiles ?? [];
      if (!files.some((file) => relative(outdir, file.path) === name)) throw new Error(`[build:client] esbuild produced no ${name}`);
      return files;
    }),
  );
  const files: Record<string, Uint8Array> = {};
  // Chunk names carry a hash of their content: chunks of an older build would pile up.
  if (write) await rm(join(outdir, CHUNK_DIR), { recursive: true, force: true });
  for (const file of outputs.flat()) {
    const name = relative(outdir, file.path).split(sep).join("/");
    if (write) {
      await mkdir(dirname(file.path), { recursive: true });
      await writeFile(file.path, file.contents);
    }
    // With and without Lit, a chunk that does not touch Lit comes out the same, under the same name.
    if (!name.endsWith(".map")) files[name] = file.contents;
  }
  return files as ClientFiles;
}

/** The chunks a bundle may load, by path relative to `outdir`: those it imports, and theirs (not the other bundle's). */
export function chunksOf(files: ClientFiles, bundle: BundleName): string[] {
  const found = new Set<string>();
  const visit = (name: string) => {
    const folder = name.slice(0, name.lastIndexOf("/") + 1);
    for (const [, path] of new TextDecoder().decode(files[name]).matchAll(/"\.\/([\w/-]+\.js)"/g)) {
      const chunk = folder + path;
      if (files[chunk] && !found.has(chunk)) {
        found.add(chunk);
        visit(chunk);
      }
    }
  };
  visit(bundle);
  return [...found];
}

/** The modules only the file list's chunk (`async-file-input/file-list.ts`) reaches, Lit's directives included. */
const CHUNK_ONLY = /[\\/](client[\\/]async-file-input[\\/](file-list|file-list\.styles|file-row|upload-list)\.ts|node_modules[\\/]lit(-html)?[\\/](directive|directive-helpers|directives[\\/][\w-]+)\.js)$/;

/** What such a chunk takes from the element's file: Lit's core, the strings (a live binding) and the event classes. */
const FROM_ELEMENT = /[\\/](client[\\/]async-file-input[\\/](strings|events)\.ts|node_modules[\\/](lit[\\/]index|lit-html[\\/]lit-html)\.js)$/;

/**
 * esbuild moves code that an entry and one of its `import()` chunks both use into a third chunk, which
 * the entry then imports up front: the element's file would load Lit and the strings from a chunk. The
 * file list's chunk instead imports them from the element's file itself (`../async-file-input.js`,
 * which exports them, see `bundle-entry.ts`), already loaded by the time it is imported: one copy of
 * each. Without Lit inside, Lit stays the app's `lit` import as elsewhere. The rows' strings
 * (`row-strings.ts`) are left out of the element's file: the chunk brings them.
 */
function shareWithElement(bundle: string): Plugin {
  const again = Symbol("resolving");
  return {
    name: "share-with-element",
    setup(build) {
      // The rows' strings come with the chunk (`addDefaultStrings`), not in the element's file.
      build.onResolve({ filter: /[\\/]row-strings\.js$/ }, (args) =>
        /[\\/]client[\\/]async-file-input[\\/]strings\.ts$/.test(args.importer) ? { path: "row-strings", namespace: "empty" } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: "empty" }, () => ({ contents: "export const rowStrings = {};", loader: "js" }));
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === again || !CHUNK_ONLY.test(args.importer)) return undefined;
        const { path, external, errors } = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: again,
        });
        if (errors.length || external || !FROM_ELEMENT.test(path)) return undefined;
        return { path: `../${bundle}`, external: true };
      });
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = await buildClient();
  for (const [name, code] of Object.entries(files)) console.log(`dist/browser/${name}  ${code.byteLength} bytes`);
}
