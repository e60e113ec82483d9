import { describeDownloadCentre } from "./suite";

// S3 on Ceph's RADOS Gateway: the exports are written with multipart uploads and downloaded from signed URLs.
describeDownloadCentre("s3", { full: false });
