import { describeJsonRoutes } from "./json-routes-suite";

// upload-url and multipart/* on filesystem.
describeJsonRoutes("filesystem", 100);
