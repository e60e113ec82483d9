import type { StorageDriver } from "async-uploads/server";
import type { StorageConfig } from "./config";

/**
 * The storage driver for the configured backend. Each driver is its own subpath of the package,
 * imported only when chosen, so the demo on disk never loads a cloud SDK.
 */
export async function createStorage(config: StorageConfig): Promise<StorageDriver> {
  switch (config.backend) {
    case "filesystem": {
      const { filesystemStorage } = await import("async-uploads/filesystem");
      return filesystemStorage({ root: config.root });
    }
    case "s3": {
      const { s3Storage } = await import("async-uploads/s3");
      return s3Storage({
        bucket: config.bucket,
        region: config.region,
        endpoint: config.endpoint,
        forcePathStyle: config.forcePathStyle,
        credentials: config.credentials,
      });
    }
    case "azure": {
      const { azureStorage } = await import("async-uploads/azure");
      return azureStorage({ connectionString: config.connectionString, container: config.container });
    }
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
