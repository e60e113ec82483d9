/**
 * The peer: Uppy with its aws-s3 plugin signing through Companion (presigned POST to the same
 * s3rver bucket). `?dashboard=1` adds the Dashboard UI (files chosen through its own input, uploads
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

const uppy = new Uppy({ autoProceed: withDashboard }).use(AwsS3, {
  companionEndpoint,
  // 100 MiB is the plugin's own threshold; say it, so both file sets go as one POST per file.
  shouldUseMultipart: false,
  ...(limit ? { limit: Number(limit) } : {}),
});

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
