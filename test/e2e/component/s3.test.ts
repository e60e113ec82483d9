import { describeComponent } from "./suite";

describeComponent("s3");
