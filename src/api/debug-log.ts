import { debuglog } from "node:util";

/** Lines about clients' own mistakes (a dropped upload, a malformed request): shown with NODE_DEBUG=emulator. */
export const debug = debuglog("emulator");
