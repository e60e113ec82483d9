import { describeMultipart } from "./suite";

describeMultipart("s3");
