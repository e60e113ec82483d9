/**
 * Files one `POST {base}/upload-url` may ask targets for at once (`{files: [...]}`). Apart from
 * `schemas.ts` so that the browser bundle can read it without zod.
 */
export const MAX_UPLOAD_URL_BATCH = 100;
