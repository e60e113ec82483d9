import { describeDemoInBrowser } from "./suite";

describeDemoInBrowser("azure");
