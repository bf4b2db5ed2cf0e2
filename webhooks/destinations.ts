/**
 * Where webhooks may go. A tenant's endpoint URL is attacker-controlled input for the platform's
 * network: without checks it reaches cloud metadata (169.254.169.254), the database
 * (127.0.0.1:5432) or any internal service. An endpoint must be https (plain http only to
 * loopback, and only in development) and its host must resolve to public unicast addresses only:
 * checked when it is created and again at every delivery, on the very address the connection uses
 * (a custom DNS lookup), so a name that re-resolves to an internal address (DNS rebinding) is
 * refused too.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import ipaddr from "ipaddr.js";

export class WebhookDestinationError extends Error {
  override name = "WebhookDestinationError";
}

export interface DestinationPolicy {
  /** Development only: allow http:// to loopback addresses (local receivers, tests). */
  allowLoopbackHttp: boolean;
}

export const PRODUCTION_POLICY: DestinationPolicy = { allowLoopbackHttp: false };

/** Why an address is refused, or null when it is public unicast. */
export function forbiddenAddress(address: string, policy: DestinationPolicy): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address);
  } catch {
    return `${address} is not an IP address`;
  }
  if (ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  const range = ip.range();
  if (range === "unicast") return null;
  if (range === "loopback" && policy.allowLoopbackHttp) return null;
  return `${address} is a ${range} address`;
}

/** Checks scheme and host syntax; resolution is checked by `resolvePublic` and at connect time. */
export function checkUrl(raw: string, policy: DestinationPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookDestinationError("url: not a valid URL");
  }
  if (url.username || url.password) throw new WebhookDestinationError("url: must not carry credentials");
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && policy.allowLoopbackHttp) return url;
  throw new WebhookDestinationError(policy.allowLoopbackHttp ? "url: must be https (or http to a loopback address in development)" : "url: must be https");
}

/** Resolves the URL's host and refuses it unless every address is allowed. */
export async function resolvePublic(url: URL, policy: DestinationPolicy): Promise<string[]> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const addresses = ipaddr.isValid(host)
    ? [host]
    : await new Promise<string[]>((resolve, reject) =>
        dnsLookup(host, { all: true, verbatim: true }, (err, list: LookupAddress[]) => (err ? reject(new WebhookDestinationError(`url: cannot resolve ${host} (${err.code ?? err.message})`)) : resolve(list.map((a) => a.address)))),
      );
  for (const a of addresses) {
    const why = forbiddenAddress(a, policy);
    if (why) throw new WebhookDestinationError(`url: ${host} resolves to ${why}; webhooks go to public addresses only`);
  }
  if (url.protocol === "http:" && !addresses.every((a) => ipaddr.parse(a).range() === "loopback")) {
    throw new WebhookDestinationError("url: plain http is allowed to loopback addresses only");
  }
  return addresses;
}

/** A `lookup` for http(s).request that refuses forbidden addresses at connect time. */
export function guardedLookup(policy: DestinationPolicy) {
  return (hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, list: LookupAddress[]) => {
      if (err) return callback(err, "", 0);
      for (const a of list) {
        const why = forbiddenAddress(a.address, policy);
        if (why) return callback(Object.assign(new WebhookDestinationError(`${hostname} resolves to ${why}`), { code: "EFORBIDDEN" }), "", 0);
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
