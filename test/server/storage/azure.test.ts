import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { azureStorage } from "../../../server/storage/azure";
import { startAzurite, type AzuriteInstance } from "../../helpers/emulators";
import { bytes, describeStorageContract, uploadLikeBrowser } from "./contract";

const noLocalUrls = { localUrl: () => "unused" };

describeStorageContract("azurite", async () => {
  const azurite = await startAzurite({ container: "contract" });
  return { driver: azureStorage({ connectionString: azurite.connectionString, container: azurite.container }), teardown: azurite.stop };
});

describe("azure driver against Azurite", () => {
  let azurite: AzuriteInstance;
  let storage: ReturnType<typeof azureStorage>;
  const expiresAt = new Date(Date.now() + 10 * 60_000);
  beforeAll(async () => {
    azurite = await startAzurite({ container: "extras" });
    storage = azureStorage({ connectionString: azurite.connectionString, container: azurite.container });
  });
  afterAll(() => azurite.stop());

  async function upload(key: string, content: Uint8Array<ArrayBuffer>, driver = storage) {
    const target = await driver.createUploadTarget({ key, contentType: "application/pdf", size: content.length, expiresAt }, noLocalUrls);
    const response = await uploadLikeBrowser(target, content, "application/pdf");
    expect(response.status).toBe(201);
    return target;
  }

  it("issues a create-only SAS for one blob that expires with the upload", async () => {
    const target = await storage.createUploadTarget({ key: "a/b c.pdf", contentType: "application/pdf", size: 10, expiresAt }, noLocalUrls);
    expect(target).toMatchObject({ method: "PUT", headers: { "x-ms-blob-type": "BlockBlob", "Content-Type": "application/pdf" } });
    const url = new URL(target.url);
    expect(url.pathname).toBe("/devstoreaccount1/extras/a/b%20c.pdf");
    expect(url.searchParams.get("sp")).toBe("c");
    expect(url.searchParams.get("sr")).toBe("b");
    const expiry = new Date(url.searchParams.get("se") ?? "").getTime();
    expect(Math.abs(expiry - expiresAt.getTime())).toBeLessThanOrEqual(1000);
  });

  it("refuses a second PUT to the same create-only URL and keeps the first blob", async () => {
    const first = bytes(50);
    const target = await upload("twice/file.pdf", first);
    const second = await uploadLikeBrowser(target, bytes(50), "application/pdf");
    // Azurite, like Azure, does not let `sp=c` overwrite an existing blob.
    expect(second.status).toBe(403);
    expect(await second.text()).toContain("AuthorizationPermissionMismatch");
    expect(await storage.readFirstBytes("twice/file.pdf", 100)).toEqual(first);
  });

  it("issues a read-only download SAS with the disposition and type fixed by the signature", async () => {
    const url = new URL(
      await storage.createDownloadUrl({ key: "k.pdf", filename: "résumé 2024.pdf", contentType: "application/pdf", expiresAt }, noLocalUrls),
    );
    expect(url.searchParams.get("sp")).toBe("r");
    expect(url.searchParams.get("sr")).toBe("b");
    expect(url.searchParams.get("rscd")).toBe(`attachment; filename="resume 2024.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf`);
    expect(url.searchParams.get("rsct")).toBe("application/pdf");
  });

  it("copies with the asynchronous Copy Blob above the threshold", async () => {
    const asyncCopy = azureStorage({ connectionString: azurite.connectionString, container: azurite.container, asyncCopyThreshold: 0 });
    const [first, second] = [bytes(3000), bytes(2000)];
    await upload("async/first.pdf", first);
    await upload("async/second.pdf", second);
    await asyncCopy.copy("async/first.pdf", "async/final.pdf");
    expect(await asyncCopy.readFirstBytes("async/final.pdf", 5000)).toEqual(first);
    expect(await asyncCopy.stat("async/final.pdf")).toEqual({ size: 3000, contentType: "application/pdf" });
    await asyncCopy.copy("async/second.pdf", "async/final.pdf");
    expect(await asyncCopy.readFirstBytes("async/final.pdf", 5000)).toEqual(second);
    await expect(asyncCopy.copy("async/missing.pdf", "async/x.pdf")).rejects.toThrow("[azure] copy failed");
  });

  it("works with a ContainerClient and a shared key credential", async () => {
    const credential = new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey);
    const containerClient = new BlobServiceClient(azurite.blobEndpoint, credential).getContainerClient(azurite.container);
    const driver = azureStorage({ containerClient, credential });
    const content = bytes(64);
    await upload("client/file.pdf", content, driver);
    expect(await driver.readFirstBytes("client/file.pdf", 64)).toEqual(content);
  });

  it("refuses a connection string without an account key", () => {
    const sasOnly = `BlobEndpoint=${azurite.blobEndpoint};SharedAccessSignature=sv=2020-08-04&sig=x`;
    expect(() => azureStorage({ connectionString: sasOnly, container: "extras" })).toThrow("[azure]");
  });

  it("throws, rather than answering null, for a missing container or a wrong key", async () => {
    const noContainer = azureStorage({ connectionString: azurite.connectionString, container: "no-such-container" });
    await expect(noContainer.stat("a")).rejects.toThrow(/^\[azure\] stat failed .*ContainerNotFound/);
    await expect(noContainer.readFirstBytes("a", 4)).rejects.toThrow(/^\[azure\] readFirstBytes failed .*ContainerNotFound/);
    const wrongKey = azurite.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.alloc(64, 1).toString("base64")}`);
    const stranger = azureStorage({ connectionString: wrongKey, container: azurite.container });
    await expect(stranger.stat("a")).rejects.toThrow(/^\[azure\] stat failed .*HTTP 403/);
    await expect(stranger.delete("a")).rejects.toThrow(/^\[azure\] delete failed .*HTTP 403/);
  });
});
