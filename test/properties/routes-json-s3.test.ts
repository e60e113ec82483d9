import { describeJsonRoutes } from "./json-routes-suite";

// upload-url and multipart/* on s3 (Ceph RGW: each check lists the bucket and its unfinished uploads, about 0.2 s an input).
describeJsonRoutes("s3", 10);
