/**
 * `<async-download-centre>` and `<async-export-button>` (exports: files built in the background).
 * Importing this module defines both elements. It is an entry of its own (`async-uploads/download-centre`,
 * `dist/browser/async-download-centre.js`) so that a page with only the file input loads none of it.
 */
export { AsyncDownloadCentre } from "./download-centre.js";
export { AsyncExportButton } from "./export-button.js";
export * from "./events.js";
export { ExportRequestError, fileUrl, filenameOf } from "./exports-api.js";
export { defaultDownloadStrings, setDownloadStrings, type DownloadCentreStrings } from "./strings.js";
export type { ExportStatus, ExportSummary } from "../../shared/exports.js";
