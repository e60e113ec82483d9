import { describeDownloadCentre } from "./suite";

// Azure on Azurite: the exports are written as staged blocks and downloaded from SAS URLs.
describeDownloadCentre("azure", { full: false });
