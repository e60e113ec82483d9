import { azureStorage } from "../storage/azure";
import { filesystemStorage } from "../storage/filesystem";
import { s3Storage } from "../storage/s3";
import type { StorageDriver } from "../storage/types";
import type { StorageConfig } from "./config";

/** The storage driver for the configured backend. */
export function createStorage(config: StorageConfig): StorageDriver {
  switch (config.backend) {
    case "filesystem":
      return filesystemStorage({ root: config.root });
    case "s3":
      return s3Storage({
        bucket: config.bucket,
        region: config.region,
        endpoint: config.endpoint,
        forcePathStyle: config.forcePathStyle,
        credentials: config.credentials,
      });
    case "azure":
      return azureStorage({ connectionString: config.connectionString, container: config.container });
  }
}

/** Where the configured storage is, for start-up messages (never includes credentials). */
export function describeStorage(config: StorageConfig): string {
  switch (config.backend) {
    case "filesystem":
      return `filesystem (${config.root})`;
    case "s3":
      return `s3 (bucket ${config.bucket}, region ${config.region}${config.endpoint ? `, endpoint ${config.endpoint}` : ""})`;
    case "azure":
      return `azure (container ${config.container}, account ${/AccountName=([^;]*)/i.exec(config.connectionString)?.[1] ?? "?"})`;
  }
}
