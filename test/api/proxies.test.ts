import { expect } from "chai";
import type { IncomingMessage } from "node:http";
import { createClientIp, parseCidrs } from "../../api/http/client-ip";
import { ConfigError, parseApiConfig } from "../../api/config";
import { startHarness, type ApiHarness } from "./fixtures";

const fakeRequest = (peer: string, xff?: string | string[]) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { "x-forwarded-for": xff } }) as unknown as IncomingMessage;

async function statuses(h: ApiHarness, forwardedFor: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const xff of forwardedFor) out.push((await h.gql(undefined, "{ viewer { subject } }", {}, { "x-forwarded-for": xff })).status);
  return out;
}

async function auditedIp(h: ApiHarness, forwardedFor: string): Promise<string> {
  const res = await h.gql(await h.token("acme", "platform:viewer"), "{ viewer { subject } }", {}, { "meterline-tenant": "globex", "x-forwarded-for": forwardedFor });
  expect(res.status).to.equal(200);
  const { rows } = await h.db.pool.query<{ ip: string }>("SELECT ip FROM audit_log WHERE action = 'platform.request' ORDER BY id DESC LIMIT 1");
  return rows[0]!.ip;
}

describe("api: trusted proxies (client address from X-Forwarded-For)", function () {
  describe("the right-to-left walk", function () {
    const trusted = parseCidrs(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]).cidrs;
    const clientIp = createClientIp(trusted);
    const cases: [string, string, string | string[] | undefined, string][] = [
      ["no trusted proxy: the peer, whatever the header says", "203.0.113.5", "198.51.100.1", "203.0.113.5"],
      ["trusted peer, one hop", "127.0.0.1", "198.51.100.1", "198.51.100.1"],
      ["trusted chain of proxies", "127.0.0.1", "198.51.100.1, 10.1.2.3, 10.9.9.9", "198.51.100.1"],
      ["a spoofed entry left of the first untrusted one is ignored", "127.0.0.1", "1.2.3.4, 198.51.100.1, 10.1.2.3", "198.51.100.1"],
      ["several header lines are one list", "127.0.0.1", ["1.2.3.4, 198.51.100.1", "10.1.2.3"], "198.51.100.1"],
      ["a malformed entry stops at the hop that passed it on", "127.0.0.1", "198.51.100.1, not-an-ip, 10.1.2.3", "10.1.2.3"],
      ["trusted peer without the header", "127.0.0.1", undefined, "127.0.0.1"],
      ["IPv4-mapped peer is its IPv4 address", "::ffff:127.0.0.1", "198.51.100.7", "198.51.100.7"],
      ["IPv6 proxies", "fd00::1", "2001:db8::5, fd00::2", "2001:db8::5"],
      ["every hop trusted: the leftmost", "127.0.0.1", "10.0.0.1, 10.0.0.2", "10.0.0.1"],
    ];
    for (const [name, peer, xff, expected] of cases) {
      it(name, function () {
        expect(clientIp(fakeRequest(peer, xff))).to.equal(expected);
      });
    }

    it("TRUSTED_PROXIES names the bad entry", function () {
      const base = { OIDC_ISSUER: "https://idp.example", OIDC_AUDIENCE: "x" };
      expect(() => parseApiConfig({ ...base, TRUSTED_PROXIES: "10.0.0.0/8, 10.0.0.0/99" })).to.throw(ConfigError, "TRUSTED_PROXIES: not an address or CIDR: 10.0.0.0/99");
      expect(parseApiConfig({ ...base, TRUSTED_PROXIES: "10.0.0.0/8,::1" }).trustedProxies).to.have.length(2);
    });
  });

  describe("from an untrusted peer", function () {
    let h: ApiHarness;
    before(async () => {
      // The test client connects from 127.0.0.1, which is not a trusted proxy here.
      h = await startHarness({ TRUSTED_PROXIES: "10.0.0.0/8", RATE_LIMIT_IP_PER_S: "0.01", RATE_LIMIT_IP_BURST: "2" });
    });
    after(async () => h?.close());

    it("a spoofed X-Forwarded-For neither escapes the IP limit nor reaches the audit log", async function () {
      expect(await statuses(h, ["198.51.100.1", "198.51.100.2", "198.51.100.3"])).to.deep.equal([401, 401, 429]);
    });
  });

  describe("audit log from an untrusted peer", function () {
    let h: ApiHarness;
    before(async () => {
      h = await startHarness({ TRUSTED_PROXIES: "10.0.0.0/8" });
    });
    after(async () => h?.close());

    it("records the socket address, not the header", async function () {
      expect(await auditedIp(h, "203.0.113.9")).to.equal("127.0.0.1");
    });
  });

  describe("behind a trusted proxy", function () {
    let h: ApiHarness;
    before(async () => {
      h = await startHarness({ TRUSTED_PROXIES: "127.0.0.1/32, 10.0.0.0/8", RATE_LIMIT_IP_PER_S: "0.01", RATE_LIMIT_IP_BURST: "2" });
    });
    after(async () => h?.close());

    it("each client behind the proxy has its own IP bucket; a prepended spoof does not buy a new one", async function () {
      expect(await statuses(h, ["198.51.100.1", "198.51.100.1, 10.0.0.7", "198.51.100.1"])).to.deep.equal([401, 401, 429]);
      expect(await statuses(h, ["198.51.100.2"])).to.deep.equal([401]);
      // The client itself sends "9.9.9.9"; the proxy appends the address it saw.
      expect(await statuses(h, ["9.9.9.9, 198.51.100.1", "8.8.8.8, 198.51.100.1, 10.0.0.7"])).to.deep.equal([429, 429]);
    });

    it("the audit log records the client's address as the trusted proxies saw it", async function () {
      expect(await auditedIp(h, "1.2.3.4, 203.0.113.9, 10.0.0.7")).to.equal("203.0.113.9");
    });
  });
});
