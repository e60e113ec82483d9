import { describeDemoInBrowser } from "./suite";

describeDemoInBrowser("s3");
