import { describeComponent } from "./suite";

// S3 with presigned PUT URLs (s3.test.ts covers presigned POST, the default).
describeComponent("s3-put");
