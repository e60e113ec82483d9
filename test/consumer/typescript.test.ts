// Consumer test (b): a TypeScript app that installs the packed tarball type-checks, with `strict`,
// under moduleResolution `bundler` and `nodenext`: a server (createAsyncUploads, the registry, the routes, a transaction with
// commit, a storage subpath), a client module (the element, its events, setStrings), a React 19 .tsx
// with <async-file-input> (async-uploads/react) and the Vue template typings (async-uploads/vue).
// The typings must also reject: the positive files hold `@ts-expect-error` lines (an unused one fails
// tsc), and a separate program with a wrong attribute type and a misspelled export must fail with
// exactly those errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConsumerProject, type ConsumerProject } from "./harness";

const SERVER_TS = `
import { AsyncUploadsError, MiB, createAsyncUploads, type CommitResult } from "async-uploads/server";
import { filesystemStorage } from "async-uploads/filesystem";
import { drizzle } from "drizzle-orm/postgres-js";
import { pgTable, text, uuid } from "drizzle-orm/pg-core";
import { Hono } from "hono";
import postgres from "postgres";

const documents = pgTable("documents", {
  id: uuid("id").primaryKey(),
  title: text("title").notNull(),
  attachmentKey: text("attachment_key"),
});

const db = drizzle(postgres(process.env.DATABASE_URL ?? "postgres://localhost/app"));
const uploads = createAsyncUploads({
  db,
  secret: process.env.ASYNC_UPLOADS_SECRET ?? "x".repeat(32),
  storage: filesystemStorage({ root: "./uploads" }),
  getPrincipal: (c) => c.req.header("x-user") ?? null,
});
uploads.registry.register("documents.attachment", {
  maxSize: 50 * MiB,
  accept: ["application/pdf", "image/*", ".docx"],
  uploadTo: ({ instanceId, fileId, filename }) => \`documents/\${instanceId}/\${fileId}/\${filename}\`,
  canUpload: ({ principal }) => principal !== null,
});

const app = new Hono();
app.route("/async-uploads", uploads.routes);
app.post("/documents", async (c) => {
  const form = await c.req.parseBody();
  const title = typeof form.title === "string" ? form.title : "";
  const attachment = typeof form.attachment === "string" ? form.attachment : "";
  const id = crypto.randomUUID();
  try {
    const result: CommitResult = await uploads.transaction(async (tx, commit) => {
      const committed = await commit({ fieldId: "documents.attachment", value: attachment, principal: c.req.header("x-user") ?? null, instanceId: id });
      await tx.insert(documents).values({ id, title, attachmentKey: committed.key });
      return committed;
    });
    const key: string | null = result.key;
    return c.json({ id, key, files: result.committed.map((file) => file.filename) }, 201);
  } catch (error) {
    if (error instanceof AsyncUploadsError) return c.json(error.toBody(), error.status);
    throw error;
  }
});
// @ts-expect-error: a field's maxSize is a number of bytes
uploads.registry.register("documents.cover", { maxSize: "5 MiB" });

export default app;
`;

const CLIENT_TS = `
import { AsyncFileInput, AsyncUploadCompleteEvent, setStrings, type AsyncFileInputStrings } from "async-uploads/client";

setStrings({ dropHere: "Déposez le fichier ici", uploaded: "Envoyé" } satisfies Partial<AsyncFileInputStrings>);

const input: AsyncFileInput | null = document.querySelector("async-file-input");
input?.addEventListener("async-upload-complete", (event) => {
  const key: string = event.detail.key;
  const file: File = event.detail.file;
  console.log(key, file.name, input.values, input.uploading);
});
document.querySelector("form")?.addEventListener("async-upload-complete", (event: AsyncUploadCompleteEvent) => console.log(event.detail.key));

const element = new AsyncFileInput();
element.fieldId = "documents.attachment";
element.maxSize = 5 * 1024 * 1024;
element.multiple = true;
document.querySelector("form")?.append(element);
// @ts-expect-error: the detail of async-upload-complete has no "url"
input?.addEventListener("async-upload-complete", (event) => event.detail.url);
`;

const FORM_TSX = `
import { useRef, useState } from "react";
import "async-uploads/client";
import type { AsyncFileInput } from "async-uploads/client";
import type {} from "async-uploads/react";

export function DocumentForm({ storedKey }: { storedKey?: string }) {
  const input = useRef<AsyncFileInput>(null);
  const [key, setKey] = useState("");
  return (
    <form method="post" action="/save">
      <async-file-input
        ref={input}
        name="file"
        field-id="consumer.file"
        endpoint="/async-uploads"
        accept="text/plain,.txt"
        max-size={262144}
        required
        defaultValue={storedKey}
        className="upload"
        onasync-upload-complete={(event) => setKey(event.detail.key)}
        onasync-upload-error={(event) => console.warn(event.detail.code, event.detail.message)}
        onChange={() => console.log(input.current?.values)}
      >
        <span slot="hint">A text file, up to 256 KiB</span>
      </async-file-input>
      <output>{key}</output>
      {/* @ts-expect-error: multiple is a boolean */}
      <async-file-input name="files" multiple="yes" />
      <button type="submit">Save</button>
    </form>
  );
}
`;

const VUE_TS = `
import type { GlobalComponents } from "vue";
import type {} from "async-uploads/vue";
import type { AsyncUploadCompleteEvent } from "async-uploads/client";

// What a template checker (vue-tsc) reads for <async-file-input>: props from $props, events from $emit.
type InVue = InstanceType<GlobalComponents["async-file-input"]>;
export const props: InVue["$props"] = { name: "file", fieldId: "consumer.file", maxSize: 262144, multiple: true, class: "upload" };
export const emit = (element: InVue, event: AsyncUploadCompleteEvent) => element.$emit("async-upload-complete", event);
// @ts-expect-error: maxSize is a number of bytes
export const wrong: InVue["$props"] = { maxSize: "big" };
`;

const NEGATIVE_TSX = `
import "async-uploads/client";
import type {} from "async-uploads/react";

export const Form = () => <async-file-input name="file" max-size="big" />;
`;

const NEGATIVE_TS = `
import { setString } from "async-uploads/client";

setString({ dropHere: "Drop" });
`;

const compilerOptions = {
  target: "ES2022",
  lib: ["ES2023", "DOM", "DOM.Iterable"],
  types: ["node"],
  jsx: "react-jsx",
  strict: true,
  noEmit: true,
  // As apps have it: drizzle-orm's own .d.ts files do not pass TypeScript 7's checks. A test below checks
  // the package's .d.ts files without it.
  skipLibCheck: true,
};

const tsconfig = (options: object, include: string[]) => `${JSON.stringify({ compilerOptions: { ...compilerOptions, ...options }, include }, null, 2)}\n`;

const BUNDLER = { module: "ESNext", moduleResolution: "bundler" };
const NODENEXT = { module: "NodeNext", moduleResolution: "NodeNext" };

describe("a TypeScript consumer (strict)", { timeout: 120_000 }, () => {
  let project: ConsumerProject;

  beforeAll(async () => {
    project = await createConsumerProject("typescript", {
      dependencies: ["lit", "hono", "drizzle-orm", "postgres", "react", "vue"],
      devDependencies: ["typescript", "@types/node", "@types/react"],
      files: {
        "src/server.ts": SERVER_TS,
        "src/client.ts": CLIENT_TS,
        "src/form.tsx": FORM_TSX,
        "src/vue-typings.ts": VUE_TS,
        "negative/wrong-attribute.tsx": NEGATIVE_TSX,
        "negative/misspelled-export.ts": NEGATIVE_TS,
        "tsconfig.bundler.json": tsconfig(BUNDLER, ["src"]),
        "tsconfig.nodenext.json": tsconfig(NODENEXT, ["src"]),
        "tsconfig.negative.json": tsconfig(BUNDLER, ["negative"]),
      },
    });
  }, 300_000);

  afterAll(async () => {
    await project?.remove();
  });

  it("runs this repository's TypeScript", async () => {
    const { stdout } = await project.run("npx", ["tsc", "--version"]);
    expect(stdout).toMatch(/^Version 7\./);
  });

  it.each([
    ["bundler", "tsconfig.bundler.json"],
    ["nodenext", "tsconfig.nodenext.json"],
  ])("type-checks the server, the client, the React form and the Vue typings under moduleResolution %s", async (_, config) => {
    const result = await project.tryRun("npx", ["tsc", "-p", config]);
    expect(result.code, `${result.stdout}${result.stderr}`).toBe(0);
  });

  it("has .d.ts files without errors of their own (skipLibCheck off: only drizzle-orm's fail)", async () => {
    const result = await project.tryRun("npx", ["tsc", "-p", "tsconfig.bundler.json", "--skipLibCheck", "false", "--pretty", "false"]);
    const errors = result.stdout.split("\n").filter((line) => /error TS\d+/.test(line));
    expect(errors.filter((line) => !line.startsWith("node_modules/drizzle-orm/")), result.stdout).toEqual([]);
    expect(result.stderr).toBe("");
  });

  it("fails on a wrong attribute type and on a misspelled export, with exactly those errors", async () => {
    const result = await project.tryRun("npx", ["tsc", "-p", "tsconfig.negative.json", "--pretty", "false"]);
    expect(result.code).not.toBe(0);
    const errors = result.stdout.split("\n").filter((line) => /error TS\d+/.test(line));
    expect(errors, result.stdout).toHaveLength(2);
    expect(errors[0]).toMatch(/^negative\/misspelled-export\.ts\(2,10\): error TS2724: .*'setString'.*'setStrings'/);
    expect(errors[1]).toMatch(/^negative\/wrong-attribute\.tsx\(5,\d+\): error TS2322: /);
    expect(result.stdout).toContain(`Types of property '"max-size"' are incompatible.`);
    expect(result.stdout).toContain("Type 'string' is not assignable to type 'number'.");
  });
});
