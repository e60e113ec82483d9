import { describeDownloadCentre } from "./suite";

describeDownloadCentre("filesystem", { full: true });
