/**
 * The peer: Uppy with its aws-s3 plugin signing through Companion (presigned POST, or multipart
 * above 100 MiB, to the same bucket). `?dashboard=1` adds the Dashboard UI (files chosen through its own input, uploads
 * start on their own); otherwise Uppy runs headless and the page calls `upload()` right after
 * adding the files. `?limit=N` sets the plugin's concurrency (default: the plugin's own, 6).
 */
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";
import Dashboard from "@uppy/dashboard";
import "@uppy/core/css/style.css";
import "@uppy/dashboard/css/style.css";
import { params, ready, report } from "./harness";

const companionEndpoint = params.get("companion")!;
const limit = params.get("limit");
const withDashboard = params.get("dashboard") === "1";

// The plugin's defaults: one presigned POST per file up to 100 MiB, above that an S3 multipart upload.
const uppy = new Uppy({ autoProceed: withDashboard }).use(AwsS3, { companionEndpoint, ...(limit ? { limit: Number(limit) } : {}) });

let started = 0;
const finish = (result: { successful?: unknown[]; failed?: Array<{ error?: unknown }> } | undefined) => {
  const failed = result?.failed ?? [];
  report({ ms: performance.now() - started, done: result?.successful?.length ?? 0, failed: failed.length, errors: failed.map((file) => String(file.error)) });
};

if (withDashboard) {
  uppy.use(Dashboard, { inline: true, target: "#uploader", height: 400 });
  document.addEventListener("change", () => (started = performance.now()), true);
  uppy.on("complete", finish);
} else {
  const input = document.querySelector<HTMLInputElement>("input[type=file]")!;
  input.addEventListener("change", async () => {
    started = performance.now();
    uppy.addFiles([...(input.files ?? [])].map((file) => ({ name: file.name, type: file.type, data: file, source: "Local" })));
    finish(await uppy.upload());
  });
}

ready();
