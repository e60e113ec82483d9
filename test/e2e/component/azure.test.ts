import { describeComponent } from "./suite";

describeComponent("azure");
