import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, readEnvConfig, resolveSecret } from "../../../demo/config";

const S3 = { STORAGE_BACKEND: "s3", S3_BUCKET: "my-bucket", S3_REGION: "eu-west-1" };
const AZURE_KEY = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net";

describe("demo configuration from the environment", () => {
  it("defaults to PGlite and the filesystem under .data on port 3000", () => {
    const config = readEnvConfig({});
    expect(config).toMatchObject({ port: 3000, databaseUrl: undefined, secret: null, production: false });
    expect(config.storage).toEqual({ backend: "filesystem", root: join(process.cwd(), ".data", "files") });
  });

  it("reads S3 and Azure settings", () => {
    expect(
      readEnvConfig({ ...S3, S3_ENDPOINT: "http://127.0.0.1:9000", S3_FORCE_PATH_STYLE: "true", AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" })
        .storage,
    ).toEqual({
      backend: "s3",
      bucket: "my-bucket",
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
      credentials: { accessKeyId: "k", secretAccessKey: "s" },
    });
    expect(readEnvConfig({ ...S3, S3_REGION: "", AWS_REGION: "us-east-2" }).storage).toMatchObject({ region: "us-east-2", credentials: undefined });
    expect(readEnvConfig({ STORAGE_BACKEND: "azure", AZURE_STORAGE_CONNECTION_STRING: AZURE_KEY, AZURE_CONTAINER: "uploads" }).storage).toEqual({
      backend: "azure",
      connectionString: AZURE_KEY,
      container: "uploads",
    });
  });

  it.each([
    [{ STORAGE_BACKEND: "gcs" }, /^STORAGE_BACKEND must be filesystem, s3 or azure/],
    [{ STORAGE_BACKEND: "s3" }, /^S3_BUCKET is required when STORAGE_BACKEND=s3$/],
    [{ ...S3, S3_BUCKET: "My_Bucket" }, /^S3_BUCKET "My_Bucket" is not a valid bucket name/],
    [{ ...S3, S3_REGION: undefined }, /^S3_REGION is required/],
    [{ ...S3, S3_ENDPOINT: "minio:9000" }, /^S3_ENDPOINT must be an http\(s\) URL/],
    [{ ...S3, S3_FORCE_PATH_STYLE: "sometimes" }, /^S3_FORCE_PATH_STYLE must be true or false/],
    [{ ...S3, AWS_ACCESS_KEY_ID: "k" }, /^AWS_SECRET_ACCESS_KEY is required/],
    [{ STORAGE_BACKEND: "azure", AZURE_CONTAINER: "x" }, /^AZURE_STORAGE_CONNECTION_STRING is required/],
    [{ STORAGE_BACKEND: "azure", AZURE_STORAGE_CONNECTION_STRING: "AccountName=a;SharedAccessSignature=sv=1" }, /^AZURE_STORAGE_CONNECTION_STRING must contain/],
    [{ STORAGE_BACKEND: "azure", AZURE_STORAGE_CONNECTION_STRING: AZURE_KEY }, /^AZURE_CONTAINER is required/],
    [{ STORAGE_BACKEND: "azure", AZURE_STORAGE_CONNECTION_STRING: AZURE_KEY, AZURE_CONTAINER: "Up--loads" }, /^AZURE_CONTAINER "Up--loads" is not a valid/],
    [{ PORT: "80a" }, /^PORT must be a whole number/],
    [{ PORT: "0" }, /^PORT must be a whole number/],
    [{ DATABASE_URL: "mysql://db" }, /^DATABASE_URL must be a postgres:\/\//],
    [{ ASYNC_UPLOADS_SECRET: "too-short" }, /^ASYNC_UPLOADS_SECRET must be at least 32 characters/],
    [{ NODE_ENV: "production" }, /^ASYNC_UPLOADS_SECRET is required when NODE_ENV=production/],
  ])("stops on %j with one line naming the setting", (env, message) => {
    let error: unknown;
    try {
      readEnvConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("\n");
  });
});

describe("the demo secret", () => {
  let dataDir: string | undefined;
  afterEach(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("is generated once into DATA_DIR/secret with mode 0600 and reused", async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), "demo-secret-")), "nested");
    const first = await resolveSecret({ secret: null, dataDir, production: false });
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(join(dataDir, "secret"))).mode & 0o777).toBe(0o600);
    expect((await readFile(join(dataDir, "secret"), "utf8")).trim()).toBe(first);
    expect(await resolveSecret({ secret: null, dataDir, production: false })).toBe(first);
  });

  it("uses ASYNC_UPLOADS_SECRET as given and never generates one in production", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "demo-secret-"));
    const given = "x".repeat(40);
    expect(await resolveSecret({ secret: given, dataDir, production: true })).toBe(given);
    await expect(resolveSecret({ secret: null, dataDir, production: true })).rejects.toBeInstanceOf(ConfigError);
  });
});
