import { describeComponent } from "./suite";

describeComponent("filesystem");
