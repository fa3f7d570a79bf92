import { describe, expect, it } from "vitest";
import { originAllowed } from "../../../src/api/middleware/browser-origin.js";

describe("originAllowed", () => {
  it("allows pages served from this machine by default", () => {
    const allows = originAllowed(undefined);
    for (const origin of ["http://localhost:5173", "https://localhost", "http://app.localhost:3000", "http://127.0.0.1:8080", "http://[::1]:4000"]) {
      expect(allows(origin), origin).toBe(true);
    }
    for (const origin of ["http://evil.example", "null", "file://", "http://127.0.0.2", "http://localhost.evil.example", "chrome-extension://abc"]) {
      expect(allows(origin), origin).toBe(false);
    }
  });

  it("allows exactly the configured origins, or any with *", () => {
    const allows = originAllowed(["https://app.example.com/", "http://Dev.Example.com:8080"]);
    expect(allows("https://app.example.com")).toBe(true);
    expect(allows("http://dev.example.com:8080")).toBe(true);
    expect(allows("http://localhost:5173")).toBe(false);
    expect(allows("https://app.example.com:444")).toBe(false);
    expect(originAllowed("https://one.test")("https://one.test")).toBe(true);
    expect(originAllowed("*")("null")).toBe(true);
  });
});
