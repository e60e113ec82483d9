/**
 * The floor for our component: the same protocol written by hand. For each file, `POST upload-url`
 * then one `XMLHttpRequest` doing exactly what the answer says, six files at a time (as the
 * component does), with an upload progress listener (as any uploader with a progress bar has, and
 * which makes the browser send a CORS preflight, as the component's does).
 */
import type { UploadTarget, UploadUrlResponse } from "../../shared/schemas";
import { FIELD_ID, ready, report } from "./harness";

const CONCURRENCY = 6;
const input = document.querySelector<HTMLInputElement>("input[type=file]")!;

input.addEventListener("change", async () => {
  const started = performance.now();
  const files = [...(input.files ?? [])];
  let next = 0;
  let done = 0;
  const errors: string[] = [];
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++]!;
      try {
        const contentType = file.type || "application/octet-stream";
        const response = await fetch("/async-uploads/upload-url", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ fieldId: FIELD_ID, filename: file.name, contentType, size: file.size }),
        });
        if (response.status !== 201) throw new Error(`upload-url answered ${response.status}`);
        const { upload } = (await response.json()) as UploadUrlResponse;
        await send(upload, file, contentType);
        done++;
      } catch (error) {
        errors.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  report({ ms: performance.now() - started, done, failed: errors.length, errors });
});

function send(target: UploadTarget, file: File, contentType: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method, target.url);
    let body: Blob | FormData = file;
    if (target.method === "POST") {
      const form = new FormData();
      for (const [name, value] of Object.entries(target.fields ?? {})) form.append(name, value);
      form.append("file", file);
      body = form;
    } else {
      xhr.setRequestHeader("Content-Type", contentType);
      for (const [name, value] of Object.entries(target.headers ?? {})) if (name.toLowerCase() !== "content-type") xhr.setRequestHeader(name, value);
    }
    let loaded = 0;
    xhr.upload.onprogress = (event) => (loaded = event.loaded);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(`storage answered ${xhr.status} after ${loaded} bytes`)));
    xhr.onerror = () => reject(new Error("network error"));
    xhr.send(body);
  });
}

ready();
