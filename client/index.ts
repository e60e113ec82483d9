/**
 * `<async-file-input>`: importing this module defines the element. Everything an app may need to type
 * its listeners or translate the strings is exported from here.
 */
export { AsyncFileInput } from "./async-file-input/async-file-input";
export * from "./async-file-input/events";
export { defaultStrings, setStrings, type AsyncFileInputStrings } from "./async-file-input/strings";
export type { UploadFailureCode, UploadFailureInfo } from "./async-file-input/upload-failure";
