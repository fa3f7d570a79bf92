import { describe, expect, it } from "vitest";
import { hostAllowed, hostname, isLoopback } from "../../../src/api/middleware/host-check.js";

describe("hostname", () => {
  it("takes the name out of a Host header or a bound address", () => {
    expect(hostname("Example.COM:8000")).toBe("example.com");
    expect(hostname("localhost.")).toBe("localhost");
    expect(hostname("[::1]:8000")).toBe("::1");
    expect(hostname("[::1]")).toBe("::1");
    expect(hostname("::1")).toBe("::1");
    expect(hostname("127.0.0.1:80")).toBe("127.0.0.1");
    expect(hostname("[broken")).toBe("broken");
  });
});

describe("hostAllowed", () => {
  const local = hostAllowed({ boundHost: "127.0.0.1", allowedHosts: [], anyHost: false });

  it("allows addresses, localhost and *.localhost, and nothing else by default", () => {
    for (const name of ["127.0.0.1", "::1", "192.168.1.5", "localhost", "ep.localhost"]) expect(local(name), name).toBe(true);
    for (const name of ["example.com", "localhost.example.com", "127.0.0.1.nip.io", "notlocalhost"]) expect(local(name), name).toBe(false);
  });

  it("allows the bound name and the configured ones", () => {
    const allows = hostAllowed({ boundHost: "Devbox.lan", allowedHosts: ["api.test", ".Example.com"], anyHost: false });
    for (const name of ["devbox.lan", "api.test", "example.com", "a.b.example.com"]) expect(allows(name), name).toBe(true);
    for (const name of ["x.api.test", "badexample.com"]) expect(allows(name), name).toBe(false);
    expect(hostAllowed({ boundHost: "127.0.0.1", allowedHosts: ["*"], anyHost: false })("anything.test")).toBe(true);
    expect(hostAllowed({ boundHost: "0.0.0.0", allowedHosts: [], anyHost: true })("anything.test")).toBe(true);
  });
});

describe("isLoopback", () => {
  it("knows this machine's loopback addresses and names", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) expect(isLoopback(host), host).toBe(true);
    for (const host of ["0.0.0.0", "::", "192.168.1.5", "127.example.com", "devbox"]) expect(isLoopback(host), host).toBe(false);
  });
});
