// `async-uploads/server`: everything an app needs on the server but the storage drivers, which live on
// their own subpaths (`async-uploads/s3`, `/azure`, `/filesystem`) so an app loads only the SDK it uses.
export { createAsyncUploads, type AsyncUploads, type AsyncUploadsOptions } from "./create-async-uploads.js";
export { cleanupTempFiles, type CleanupOptions, type CleanupProgress, type CleanupSummary } from "./cleanup/cleanup-temp-files.js";
export type { LoadedUploads } from "./cli/command.js";
export type { CommitRequest, CommitResult, CommittedFile } from "./commit/commit.js";
export type { CommitInTransaction, Save } from "./commit/transaction.js";
export { connectDatabase, type Connection, type ConnectOptions, type Database } from "./db/database.js";
export { DatabaseInUseError } from "./db/directory-lock.js";
export { MIGRATIONS_FOLDER, MIGRATIONS_TABLE, migrateAsyncUploads, type MigrateOptions } from "./db/migrate.js";
export { asyncTempFile, type AsyncTempFile } from "./db/schema.js";
export { AsyncUploadsError } from "./errors.js";
export {
  ExportCriteriaError,
  type AsyncUploadsExports,
  type ExportDefinition,
  type ExportOutput,
  type ExportReadyContext,
  type ExportRequest,
  type ExportRequestContext,
  type ExportRequestResult,
  type ExportsOptions,
  type ExportWriteContext,
} from "./exports/types.js";
export { asyncExport, type AsyncExport } from "./db/export-schema.js";
export { postgresFanout, type Fanout, type LiveMessage, type PostgresFanoutOptions } from "./live/fanout.js";
export { userTopic, type LiveChannel, type LiveOptions, type LiveSnapshot, type SnapshotProvider } from "./live/live-channel.js";
export { MissingPeerDependencyError } from "./peer-dependency.js";
export type { PendingUpload, PendingUploadQuery } from "./pending-upload.js";
export type { ProcessingContext, ProcessingStep, ProcessingStepResult } from "./processing/types.js";
export type { ProcessingOptions } from "./processing/options.js";
export { FieldRegistry, GiB, KiB, MiB, type Field, type FieldOptions } from "./registry.js";
// The routes' own guard, for an app's routes that refuse bodies too (the demo's form posts use it).
export { settleRequestBody } from "./routes/request-body.js";
export type { StorageDriver } from "./storage/types.js";
