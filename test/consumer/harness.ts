// The consumer-test harness: fresh projects that install the packed package from its tarball (no
// workspace links, the real registry), the plain-JavaScript server of test (a) started in one of them,
// and a browser that uploads through a page of that server and submits the form.
import { randomBytes } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import postgres from "postgres";
import { expect, inject } from "vitest";
import { watchPageErrors } from "../helpers/browser";
import { killAndWait } from "../helpers/kill-and-wait";
import { consumerEnv, runChecked, runCommand, type CommandResult, type RunOptions } from "./commands";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVER_SOURCE = fileURLToPath(new URL("./fixtures/server.mjs", import.meta.url));

/** What the consumer server (fixtures/server.mjs) needs besides async-uploads. */
export const SERVER_DEPENDENCIES = ["hono", "@hono/node-server", "drizzle-orm", "postgres"] as const;
/** The one field the consumer server registers (text files up to 256 KiB) and its form name. */
export const CONSUMER_FIELD = "consumer.file";
export const CONSUMER_FORM_NAME = "file";
/** Where the consumer server mounts the routes. */
export const CONSUMER_ENDPOINT = "/async-uploads";

export interface ConsumerProject {
  dir: string;
  /** Runs a command in the project; throws with its output unless it exits with 0. `node` is ours. */
  run(command: string, args: readonly string[], options?: Omit<RunOptions, "cwd">): Promise<CommandResult>;
  /** As `run`, but returns whatever the exit code (for tests of failures). */
  tryRun(command: string, args: readonly string[], options?: Omit<RunOptions, "cwd">): Promise<CommandResult>;
  remove(): Promise<void>;
}

export interface ConsumerProjectOptions {
  /** Package names; each is pinned to the version in this repository's node_modules. */
  dependencies?: readonly string[];
  devDependencies?: readonly string[];
  /** Files to write, by path relative to the project. */
  files?: Record<string, string>;
}

/**
 * A fresh project under the system's temp dir with `async-uploads` from the packed tarball and the
 * given packages, installed by `npm install` from the registry (through the shared ~/.npm cache).
 * Set `KEEP_CONSUMER_PROJECTS=1` to keep the directories for a look after the run.
 */
export async function createConsumerProject(name: string, options: ConsumerProjectOptions = {}): Promise<ConsumerProject> {
  const { dependencies = [], devDependencies = [], files = {} } = options;
  const dir = await mkdtemp(join(tmpdir(), `async-uploads-consumer-${name}-`));
  const packageJson = {
    name: `consumer-${name}`,
    private: true,
    type: "module",
    dependencies: { "async-uploads": `file:${packedTarball()}`, ...pinned(dependencies) },
    devDependencies: pinned(devDependencies),
  };
  await writeFile(join(dir, "package.json"), `${JSON.stringify(packageJson, null, 2)}\n`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  const project: ConsumerProject = {
    dir,
    run: (command, args, runOptions) => runChecked(command, args, { ...runOptions, cwd: dir }),
    tryRun: (command, args, runOptions) => runCommand(command, args, { ...runOptions, cwd: dir }),
    remove: async () => {
      if (!process.env.KEEP_CONSUMER_PROJECTS) await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await project.run("npm", ["install", "--no-audit", "--no-fund"]);
  } catch (error) {
    await project.remove();
    throw error;
  }
  return project;
}

/** The tarball global-setup.ts packed for this run. */
export function packedTarball(): string {
  const tarball = inject("asyncUploadsTarball");
  if (!tarball) {
    throw new Error("No packed tarball: test/consumer/global-setup.ts (run by test/global-setup.ts, vitest.config.ts `globalSetup`) must see this file selected");
  }
  return tarball;
}

/** Exact versions from this repository's node_modules, which package-lock.json pins. */
function pinned(names: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    names.map((name) => {
      const manifest = join(ROOT, "node_modules", name, "package.json");
      try {
        return [name, (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version];
      } catch {
        throw new Error(`A consumer needs ${name}, which is not in node_modules: add it to devDependencies so package-lock.json pins its version`);
      }
    }),
  );
}

/** Bytes on disk of the project's node_modules (`du -sb`). */
export async function installSize(project: ConsumerProject): Promise<number> {
  const { stdout } = await project.run("du", ["-sb", "node_modules"]);
  return Number(stdout.split("\t")[0]);
}

export interface ConsumerServer {
  url: string;
  /** The filesystem storage's root: a committed key `k` is the file `storageRoot/k`. */
  storageRoot: string;
  /** The PostgreSQL schema of this server's tables. */
  schema: string;
  /** The documents the server stored, from `GET /documents`. */
  documents(): Promise<ConsumerDocument[]>;
  /** What the server printed so far (for failure messages). */
  output(): string;
  /** Stops the server and drops its schema. */
  stop(): Promise<void>;
}

/** A row of the consumer app's own table, as `POST /save` and `GET /documents` return it. */
export interface ConsumerDocument {
  id: string;
  key: string;
  filename: string;
  size: number;
  contentType: string;
}

export interface ConsumerServerOptions {
  /** Served at `/` (pages, built apps); `index.html` for a directory. */
  staticDir?: string;
  /** @default DATABASE_URL, or postgres://postgres@127.0.0.1:5432/test */
  databaseUrl?: string;
}

/**
 * Starts fixtures/server.mjs in the project with our `node` and no loader: Hono on a free port of
 * 127.0.0.1, `connectDatabase` on a fresh PostgreSQL schema (dropped by `stop`), filesystem storage
 * in the project, routes at `/async-uploads`, `POST /save`, `GET /documents`. The project must have
 * `SERVER_DEPENDENCIES` installed.
 */
export async function startConsumerServer(project: ConsumerProject, options: ConsumerServerOptions = {}): Promise<ConsumerServer> {
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const suffix = randomBytes(6).toString("hex");
  const schema = `consumer_${suffix}`;
  const storageRoot = join(project.dir, `storage-${suffix}`);
  await mkdir(storageRoot);
  await copyFile(SERVER_SOURCE, join(project.dir, "server.mjs"));

  const child = spawn(process.execPath, ["server.mjs"], {
    cwd: project.dir,
    env: consumerEnv({
      PORT: "0",
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: schema,
      STORAGE_ROOT: storageRoot,
      STATIC_DIR: options.staticDir,
      ASYNC_UPLOADS_SECRET: randomBytes(32).toString("hex"),
    }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));

  const dropSchema = async () => {
    const admin = postgres(databaseUrl, { onnotice: () => {}, max: 1 });
    await admin.unsafe(`drop schema if exists "${schema}" cascade`);
    await admin.end({ timeout: 5 });
  };
  let url: string;
  try {
    url = await listeningUrl(child, () => output);
  } catch (error) {
    await killAndWait(child);
    await dropSchema();
    throw error;
  }
  return {
    url,
    storageRoot,
    schema,
    output: () => output,
    async documents() {
      const response = await fetch(`${url}/documents`);
      if (!response.ok) throw new Error(`GET /documents: ${response.status} ${await response.text()}\n${output}`);
      return (await response.json()) as ConsumerDocument[];
    },
    async stop() {
      await killAndWait(child);
      await dropSchema();
    },
  };
}

/** Waits for the server's "listening on <url>" line (it listens on port 0: no race for a free port). */
function listeningUrl(child: ChildProcess, output: () => string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`The consumer server did not start within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    const onData = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output());
      if (match) finish(() => resolve(match[1]!));
    };
    const onExit = (code: number | null) => fail(new Error(`The consumer server exited with ${code} before listening:\n${output()}`));
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
      settle();
    };
    const fail = (error: Error) => finish(() => reject(error));
    child.stdout!.on("data", onData);
    child.on("exit", onExit);
  });
}


/** A file for the page's file chooser. */
export interface PageFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

export function textFile(name = "consumer-notes.txt", text = "Uploaded from a consumer of the packed package.\n"): PageFile {
  return { name, mimeType: "text/plain", buffer: Buffer.from(text.repeat(20)) };
}

export interface UploadThroughPageOptions {
  /** Runs after the upload, before the form is submitted: checks of the page's own handling of it. */
  beforeSubmit?: (page: Page, key: string) => Promise<void>;
}

/**
 * Opens `pageUrl` (a page of `server` with a `<form method=post action=/save>` holding one
 * `<async-file-input>`), chooses `file` through the element's own file input, waits for its
 * `async-upload-complete` event, submits the form and checks that the server committed the bytes:
 * the page shows the saved document, `GET /documents` lists it and the final file holds the bytes.
 * The page must report no errors. Returns the committed document.
 */
export async function uploadThroughPage(
  browser: Browser,
  server: ConsumerServer,
  pageUrl: string,
  file: PageFile = textFile(),
  options: UploadThroughPageOptions = {},
): Promise<ConsumerDocument> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    await page.goto(pageUrl);
    await page.waitForFunction(() => customElements.get("async-file-input") !== undefined, undefined, { timeout: 15_000 }).catch((error: Error) => {
      throw new Error(`<async-file-input> was not defined on ${pageUrl} (${error.message}); the page reported: ${JSON.stringify(errors)}`);
    });

    const uploaded = page.evaluate(
      () =>
        new Promise<string>((resolve, reject) => {
          const element = document.querySelector("async-file-input")!;
          element.addEventListener("async-upload-complete", (event) => resolve(event.detail.key), { once: true });
          element.addEventListener("async-upload-error", (event) => reject(new Error(`upload failed: ${JSON.stringify(event.detail)}`)), { once: true });
        }),
    );
    await page.locator("async-file-input input[type=file]").setInputFiles([file]);
    const key = await uploaded;
    const formValue = await page.evaluate((name) => new FormData(document.querySelector("form")!).getAll(name).map(String), CONSUMER_FORM_NAME);
    expect(formValue, "the form carries the uploaded key").toEqual([key]);
    await options.beforeSubmit?.(page, key);

    await Promise.all([page.waitForURL(`${server.url}/save`), page.locator("form [type=submit]").click()]);
    const saved = JSON.parse(await page.locator("output#result").textContent() ?? "null") as ConsumerDocument;
    expect(saved, server.output()).toMatchObject({ filename: file.name, size: file.buffer.byteLength });
    await expectCommitted(server, saved, file.buffer, key);
    expect(errors).toEqual([]);
    return saved;
  } finally {
    await context.close();
  }
}

/**
 * Checks a document the consumer saved: it is in the app's table, its file holds `bytes`, and the
 * upload's temp object (`uploadedKey`) was moved away rather than copied.
 */
export async function expectCommitted(server: ConsumerServer, saved: ConsumerDocument, bytes: Buffer, uploadedKey: string): Promise<void> {
  expect(await server.documents()).toContainEqual(saved);
  expect(saved.key).not.toBe(uploadedKey);
  expect(Buffer.compare(await readFile(join(server.storageRoot, saved.key)), bytes), "committed bytes").toBe(0);
  await expect(readFile(join(server.storageRoot, uploadedKey)), "the temp object is gone").rejects.toMatchObject({ code: "ENOENT" });
}
