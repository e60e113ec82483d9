/**
 * `<async-file-input>`: importing this module defines the element. Everything an app may need to type
 * its listeners or translate the strings is exported from here.
 */
export { AsyncFileInput } from "./async-file-input/async-file-input.js";
export * from "./async-file-input/events.js";
export { defaultStrings, setStrings, type AsyncFileInputStrings } from "./async-file-input/strings.js";
export type { UploadFailureCode, UploadFailureInfo } from "./async-file-input/upload-failure.js";
export { subscribeLive } from "./live/subscribe-live.js";
export type { LiveChannelEvent, LiveRefusal, LiveSubscribeOptions } from "./live/live-channel.js";
export type { FileCheck } from "./async-file-input/file-row.js";
