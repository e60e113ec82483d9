// `async-uploads/azure`: the Azure Blob Storage driver, on its own subpath so that only apps using
// Azure load (and install) its SDK. Loaded through `importPeer` so a missing SDK is reported in one line.
import { importPeer } from "./peer-dependency.js";

const driver = await importPeer(() => import("./storage/azure.js"), ["@azure/storage-blob"], "async-uploads/azure");

/** A storage driver for Azure Blob Storage (and Azurite). */
export const azureStorage: typeof driver.azureStorage = driver.azureStorage;
export type { AzureConnectionStringOptions, AzureContainerClientOptions, AzureStorageOptions } from "./storage/azure.js";
