import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

/** A setting that stops start-up; the message is one line and names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export type StorageConfig =
  | { backend: "filesystem"; root: string }
  | {
      backend: "s3";
      bucket: string;
      region: string;
      endpoint?: string;
      forcePathStyle: boolean;
      /** Absent: the AWS SDK's default chain (profiles, SSO, instance roles) finds credentials itself. */
      credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    }
  | { backend: "azure"; connectionString: string; container: string };

/** Everything the demo reads from the environment, checked. */
export interface DemoEnvConfig {
  port: number;
  /** Where PGlite, filesystem uploads and the generated secret live. @default ".data" */
  dataDir: string;
  /** PostgreSQL URL; absent means the embedded PGlite under `dataDir`. */
  databaseUrl?: string;
  storage: StorageConfig;
  /** `ASYNC_UPLOADS_SECRET`, or null when it must be generated (never in production). */
  secret: string | null;
  production: boolean;
}

type Env = Record<string, string | undefined>;

const MIN_SECRET_LENGTH = 32;

/** Reads and checks the demo's environment variables; throws `ConfigError` naming the first bad one. */
export function readEnvConfig(env: Env = process.env): DemoEnvConfig {
  const production = env.NODE_ENV === "production";
  const dataDir = resolve(value(env, "DATA_DIR") ?? ".data");
  const secret = value(env, "ASYNC_UPLOADS_SECRET") ?? null;
  if (secret !== null && secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`ASYNC_UPLOADS_SECRET must be at least ${MIN_SECRET_LENGTH} characters (try: openssl rand -hex 32)`);
  }
  if (secret === null && production) {
    throw new ConfigError("ASYNC_UPLOADS_SECRET is required when NODE_ENV=production (try: openssl rand -hex 32)");
  }
  const databaseUrl = value(env, "DATABASE_URL");
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("DATABASE_URL must be a postgres:// or postgresql:// URL (unset it to use the embedded PGlite)");
  }
  return { port: readPort(env), dataDir, databaseUrl, storage: readStorage(env, dataDir), secret, production };
}

function readPort(env: Env): number {
  const raw = value(env, "PORT");
  if (raw === undefined) return 3000;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65_535) throw new ConfigError(`PORT must be a whole number from 1 to 65535, not "${raw}"`);
  return port;
}

function readStorage(env: Env, dataDir: string): StorageConfig {
  const backend = value(env, "STORAGE_BACKEND") ?? "filesystem";
  switch (backend) {
    case "filesystem":
      return { backend, root: join(dataDir, "files") };
    case "s3":
      return readS3(env);
    case "azure":
      return readAzure(env);
    default:
      throw new ConfigError(`STORAGE_BACKEND must be filesystem, s3 or azure, not "${backend}"`);
  }
}

function readS3(env: Env): StorageConfig {
  const bucket = required(env, "S3_BUCKET", "STORAGE_BACKEND=s3");
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (dots allowed for older buckets)
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(`S3_BUCKET "${bucket}" is not a valid bucket name (3–63 lower-case letters, digits, dots, hyphens)`);
  }
  const region = value(env, "S3_REGION") ?? value(env, "AWS_REGION");
  if (region === undefined) throw new ConfigError("S3_REGION is required when STORAGE_BACKEND=s3 (e.g. eu-west-1; us-east-1 for most S3-compatible services)");
  if (!/^[a-z0-9-]{2,40}$/.test(region)) throw new ConfigError(`S3_REGION "${region}" is not a region name such as eu-west-1`);
  const endpoint = value(env, "S3_ENDPOINT");
  if (endpoint !== undefined && !isHttpUrl(endpoint)) throw new ConfigError(`S3_ENDPOINT must be an http(s) URL, not "${endpoint}"`);
  const forcePathStyle = readBoolean(env, "S3_FORCE_PATH_STYLE") ?? false;
  const accessKeyId = value(env, "AWS_ACCESS_KEY_ID");
  const secretAccessKey = value(env, "AWS_SECRET_ACCESS_KEY");
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    const missing = accessKeyId === undefined ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY";
    throw new ConfigError(`${missing} is required when the other half of the AWS key pair is set`);
  }
  const sessionToken = value(env, "AWS_SESSION_TOKEN");
  const credentials =
    accessKeyId !== undefined && secretAccessKey !== undefined
      ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }
      : undefined;
  return { backend: "s3", bucket, region, endpoint, forcePathStyle, credentials };
}

function readAzure(env: Env): StorageConfig {
  const connectionString = required(env, "AZURE_STORAGE_CONNECTION_STRING", "STORAGE_BACKEND=azure");
  const parts = new Map(
    connectionString
      .split(";")
      .filter((part) => part.includes("="))
      .map((part) => [part.slice(0, part.indexOf("=")).trim().toLowerCase(), part.slice(part.indexOf("=") + 1)] as const),
  );
  // Create-only SAS URLs for uploads are signed with the account key, so a key is needed.
  const developmentStorage = parts.get("usedevelopmentstorage")?.toLowerCase() === "true";
  if (!developmentStorage && (!parts.get("accountname") || !parts.get("accountkey"))) {
    throw new ConfigError("AZURE_STORAGE_CONNECTION_STRING must contain AccountName=… and AccountKey=… (the key signs upload URLs), or be UseDevelopmentStorage=true");
  }
  const container = required(env, "AZURE_CONTAINER", "STORAGE_BACKEND=azure");
  // https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata
  if (!/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/.test(container)) {
    throw new ConfigError(`AZURE_CONTAINER "${container}" is not a valid container name (3–63 lower-case letters, digits, single hyphens)`);
  }
  return { backend: "azure", connectionString, container };
}

/**
 * The secret: `ASYNC_UPLOADS_SECRET`, or outside production one generated once and kept in
 * `{dataDir}/secret` (mode 0600), so sessions and issued upload URLs survive a restart.
 */
export async function resolveSecret(config: Pick<DemoEnvConfig, "secret" | "dataDir" | "production">): Promise<string> {
  if (config.secret !== null) return config.secret;
  if (config.production) throw new ConfigError("ASYNC_UPLOADS_SECRET is required when NODE_ENV=production");
  const file = join(config.dataDir, "secret");
  try {
    const stored = (await readFile(file, "utf8")).trim();
    if (stored.length < MIN_SECRET_LENGTH) throw new ConfigError(`${file} holds a secret shorter than ${MIN_SECRET_LENGTH} characters; delete it to make a new one`);
    return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(config.dataDir, { recursive: true });
  const secret = randomBytes(32).toString("hex");
  // `wx`: if two processes start at once, the second fails here instead of overwriting the first's secret.
  await writeFile(file, `${secret}\n`, { mode: 0o600, flag: "wx" }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  await chmod(file, 0o600);
  return (await readFile(file, "utf8")).trim();
}

function value(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === "" ? undefined : raw;
}

function required(env: Env, name: string, when: string): string {
  const raw = value(env, name);
  if (raw === undefined) throw new ConfigError(`${name} is required when ${when}`);
  return raw;
}

function readBoolean(env: Env, name: string): boolean | undefined {
  const raw = value(env, name)?.toLowerCase();
  if (raw === undefined) return undefined;
  if (["1", "true", "yes"].includes(raw)) return true;
  if (["0", "false", "no"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, not "${env[name]}"`);
}

function isHttpUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
