/** Whether the S3 SDK threw one of these service errors (it names the error after the service's code). */
export function isS3Error(error: unknown, ...names: string[]): boolean {
  return error instanceof Error && names.includes(error.name);
}
