import { describeJsonRoutes } from "./json-routes-suite";

// upload-url and multipart/* on azure (Azurite).
describeJsonRoutes("azure", 40);
