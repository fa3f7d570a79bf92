import { BlockList, isIP } from "node:net";

/** Addresses where clouds answer with instance credentials, and link-local ranges generally. */
const blocked = new BlockList();
blocked.addSubnet("169.254.0.0", 16, "ipv4");
blocked.addSubnet("fe80::", 10, "ipv6");
blocked.addAddress("100.100.100.200", "ipv4"); // Alibaba Cloud metadata
blocked.addAddress("192.0.0.192", "ipv4"); // Oracle Cloud metadata
blocked.addAddress("fd00:ec2::254", "ipv6"); // AWS metadata over IPv6

const METADATA_NAMES = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"]);

/** The allowWebhookHosts option as webhookHostProblem compares it: lower case, IPv6 without brackets. */
export function webhookHostSet(hosts: readonly string[]): ReadonlySet<string> {
  return new Set(hosts.map(canonicalHost));
}

function canonicalHost(host: string): string {
  return host.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
}

/**
 * Why a webhook URL must not be called (a link-local or cloud metadata address), or undefined when it
 * may. Names listed in `allowed` are always let through. Addresses in every notation come out of
 * `new URL` in one canonical form (`http://2852039166/` has the hostname `169.254.169.254`).
 */
export function webhookHostProblem(url: URL, allowed: ReadonlySet<string>): string | undefined {
  const host = canonicalHost(url.hostname);
  if (allowed.has(host)) return undefined;
  const family = isIP(host);
  const refused = family === 0 ? METADATA_NAMES.has(host) : blocked.check(host, family === 6 ? "ipv6" : "ipv4");
  if (!refused) return undefined;
  return `"webhook" points at ${host}, a link-local or cloud metadata address; list it in the allowWebhookHosts option to call it anyway`;
}
