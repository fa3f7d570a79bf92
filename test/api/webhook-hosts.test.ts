import { describe, expect, it } from "vitest";
import { webhookHostProblem, webhookHostSet } from "../../src/api/webhook-hosts.js";

const none = webhookHostSet([]);

describe("webhookHostProblem", () => {
  it("refuses link-local and cloud metadata addresses in every notation", () => {
    const refused = [
      "http://169.254.169.254/latest/meta-data/",
      "http://169.254.0.1:8080/",
      "http://0xa9fea9fe/",
      "http://2852039166/",
      "http://[fe80::1]/",
      "http://[FEBF::1]/",
      "http://[::ffff:169.254.169.254]/",
      "http://[fd00:ec2::254]/",
      "http://100.100.100.200/",
      "http://192.0.0.192/",
      "http://metadata.google.internal/computeMetadata/v1/",
      "http://METADATA.google.internal./",
      "http://metadata/",
      "http://instance-data.ec2.internal/",
    ];
    for (const url of refused) expect(webhookHostProblem(new URL(url), none), url).toMatch(/a link-local or cloud metadata address/);
  });

  it("lets every other address and name through", () => {
    for (const url of ["http://127.0.0.1:9/hook", "http://[::1]/", "http://10.0.0.5/", "http://169.255.0.1/", "http://[fec0::1]/", "https://hooks.example.com/x", "http://metadata.example.com/"]) {
      expect(webhookHostProblem(new URL(url), none), url).toBeUndefined();
    }
  });

  it("lets the hosts of allowWebhookHosts through", () => {
    const allowed = webhookHostSet(["169.254.169.254", "[fe80::1]", "Metadata.Google.Internal"]);
    for (const url of ["http://169.254.169.254/", "http://2852039166/", "http://[fe80::1]/", "http://metadata.google.internal/"]) {
      expect(webhookHostProblem(new URL(url), allowed), url).toBeUndefined();
    }
    expect(webhookHostProblem(new URL("http://169.254.169.253/"), allowed)).toBeDefined();
  });
});
