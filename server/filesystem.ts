// `async-uploads/filesystem`: the driver that keeps files on the server's own disk (no SDK needed).
export {
  FilesystemError,
  filesystemStorage,
  isFilesystemStorage,
  type FilesystemErrorKind,
  type FilesystemStorage,
  type FilesystemStorageOptions,
} from "./storage/filesystem.js";
