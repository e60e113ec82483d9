import { describeMultipart } from "./suite";

describeMultipart("filesystem");
