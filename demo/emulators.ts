import { startAzurite, startS3rver } from "../test/helpers/emulators";

/**
 * `npm run emulators`: s3rver (S3) and Azurite (Azure Blob) on 127.0.0.1, each with its bucket or
 * container created and CORS open, so the S3 and Azure paths of the demo can be tried without a cloud
 * account. Prints the variables for `npm start` and runs until Ctrl-C. Data lives only as long as the
 * emulators do.
 */
async function main(): Promise<void> {
  const [s3, azurite] = await Promise.all([startS3rver({ bucket: "async-uploads" }), startAzurite({ container: "async-uploads" })]);
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const s3Env = [
    "STORAGE_BACKEND=s3",
    `S3_BUCKET=${s3.bucket}`,
    `S3_REGION=${s3.region}`,
    `S3_ENDPOINT=${s3.endpoint}`,
    "S3_FORCE_PATH_STYLE=true",
    `AWS_ACCESS_KEY_ID=${s3.credentials.accessKeyId}`,
    `AWS_SECRET_ACCESS_KEY=${s3.credentials.secretAccessKey}`,
  ];
  const azureEnv = ["STORAGE_BACKEND=azure", `AZURE_CONTAINER=${azurite.container}`, `AZURE_STORAGE_CONNECTION_STRING=${quote(azurite.connectionString)}`];
  console.log(`s3rver  ${s3.endpoint} (bucket ${s3.bucket})`);
  console.log(`Azurite ${azurite.blobEndpoint} (container ${azurite.container})`);
  console.log("\nIn another terminal, start the demo on S3:\n");
  console.log(`  ${s3Env.join(" \\\n  ")} \\\n  npm start`);
  console.log("\nor on Azure Blob:\n");
  console.log(`  ${azureEnv.join(" \\\n  ")} \\\n  npm start`);
  console.log("\nThe emulators keep their data in memory or a temp folder until stopped. Ctrl-C to stop.");

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    Promise.allSettled([s3.stop(), azurite.stop()]).then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error("Cannot start the emulators:", error);
  process.exit(1);
});
