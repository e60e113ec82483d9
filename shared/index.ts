export * from "./accept";
export * from "./errors";
export * from "./filename";
export * from "./format-bytes";
export * from "./multipart";
export * from "./multipart-schemas";
export * from "./schemas";
export * from "./sleep";
