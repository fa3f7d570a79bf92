import type { IncomingMessage } from "node:http";
import { sameSecret } from "../middleware/auth.js";
import { type CorsSetting, originAllowed } from "../middleware/browser-origin.js";
import { type HostPolicy, hostAllowed, hostname } from "../middleware/host-check.js";

/** What a request to a load-balancing endpoint must pass: the same rules as the rest of the API (SPEC §1.1, §12). */
export interface AccessRules {
  apiKey: string | undefined;
  cors: CorsSetting;
  hosts: HostPolicy;
}

/**
 * Why a request may not reach a worker's server, as a status and a sentence, or undefined when it may:
 * a Host that is not one of the emulator's names, a web page from an origin the cors setting does not
 * allow, or a missing or wrong API key. CORS headers and preflights are the user's server's business.
 */
export function accessChecker(rules: AccessRules): (req: IncomingMessage) => [number, string] | undefined {
  const hostOk = hostAllowed(rules.hosts);
  const originOk = originAllowed(rules.cors);
  return (req) => {
    const host = req.headers.host;
    if (host !== undefined && !hostOk(hostname(host))) {
      return [403, `host "${hostname(host)}" is not a name of this emulator; add it to the allowedHosts option (--allowed-hosts ${hostname(host)}) to allow it`];
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !originOk(origin) && origin.toLowerCase() !== `http://${host?.toLowerCase()}`) {
      return [403, `web pages from ${origin} may not call this emulator; allow them with the cors option (--cors ${origin})`];
    }
    if (rules.apiKey !== undefined) {
      const given = req.headers.authorization;
      if (!given) return [401, "missing API key: send the header Authorization: Bearer <key>"];
      if (!sameSecret(given.replace(/^Bearer\s+/i, "").trim(), rules.apiKey)) return [401, "invalid API key"];
    }
    return undefined;
  };
}
