/**
 * Our component as an app uses it: `<async-file-input multiple>` in a form. The files are chosen
 * through its own file input (in its shadow root); the page counts its `async-upload-complete` and
 * `async-upload-error` events.
 */
import "../../client/index";
import { params, ready, report } from "./harness";

const element = document.querySelector("async-file-input")!;
// `?field=` picks the server-side field (the bench has one with chunked uploads turned off).
element.setAttribute("field-id", params.get("field") ?? "bench.file");
await customElements.whenDefined("async-file-input");
await (element as HTMLElement & { updateComplete: Promise<unknown> }).updateComplete;

let started = 0;
let expected = 0;
let done = 0;
const errors: string[] = [];
// Capturing on the shadow root runs before the component's own listener on the input.
element.shadowRoot!.addEventListener(
  "change",
  (event) => {
    const input = event.target as HTMLInputElement;
    if (input.type !== "file") return;
    started = performance.now();
    expected = input.files?.length ?? 0;
  },
  true,
);
const settle = () => {
  if (done + errors.length === expected) report({ ms: performance.now() - started, done, failed: errors.length, errors });
};
element.addEventListener("async-upload-complete", () => {
  done++;
  settle();
});
element.addEventListener("async-upload-error", (event) => {
  errors.push(JSON.stringify((event as CustomEvent).detail ?? {}).slice(0, 200));
  settle();
});

ready();
