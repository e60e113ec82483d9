export * from "./accept.js";
export * from "./errors.js";
export * from "./filename.js";
export * from "./format-bytes.js";
export * from "./multipart.js";
export * from "./multipart-schemas.js";
export * from "./schemas.js";
export * from "./sleep.js";
