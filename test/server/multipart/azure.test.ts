import { describeMultipart } from "./suite";

describeMultipart("azure");
