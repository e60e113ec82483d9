// `npm run build`: what the package ships, in dist/ (never committed).
//   dist/{server,client,shared,bin}  JavaScript and .d.ts from tsc (tsconfig.build.json)
//   dist/drizzle                     the library's SQL migrations, beside the code that applies them
//   dist/browser                     ready-to-serve ES modules of <async-file-input>, with Lit and without
import { execFileSync } from "node:child_process";
import { chmod, cp, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { buildClient } from "../client/build.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = fileURLToPath(new URL("../dist", import.meta.url));

await rm(dist, { recursive: true, force: true });
execFileSync(`${root}/node_modules/.bin/tsc`, ["-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
await cp(`${root}/drizzle`, `${dist}/drizzle`, { recursive: true });
await chmod(`${dist}/bin/async-uploads.js`, 0o755);
const bundles = await buildClient({ sourcemap: false });
for (const [name, code] of Object.entries(bundles)) console.log(`dist/browser/${name}  ${code.byteLength} bytes`);
