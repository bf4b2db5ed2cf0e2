import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import ipaddr from "ipaddr.js";

type Address = ReturnType<typeof ipaddr.process>;
/** An address range: network address and prefix length. */
export type Cidr = [Address, number];

/** Parses TRUSTED_PROXIES entries (an address or a CIDR); undefined names the first bad entry. */
export function parseCidrs(entries: readonly string[]): { cidrs: Cidr[]; bad?: string } {
  const cidrs: Cidr[] = [];
  for (const entry of entries) {
    try {
      if (entry.includes("/")) {
        const [addr, bits] = ipaddr.parseCIDR(entry);
        // An IPv4-mapped IPv6 range is the IPv4 range it maps (addresses are compared unmapped).
        cidrs.push(addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96
          ? [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96]
          : [addr, bits]);
      } else {
        const addr = ipaddr.process(entry);
        cidrs.push([addr, addr.kind() === "ipv4" ? 32 : 128]);
      }
    } catch {
      return { cidrs, bad: entry };
    }
  }
  return { cidrs };
}

function parseAddress(value: string): Address | undefined {
  const v = value.trim();
  try {
    return ipaddr.process(v);
  } catch {
    return undefined;
  }
}

/**
 * The client's address as the last trusted hop saw it. X-Forwarded-For is read only when the
 * socket's peer is a trusted proxy, right to left (each proxy appends the address it received
 * from), stopping at the first address that is not itself a trusted proxy: everything left of it
 * was written by the client and proves nothing. A malformed entry stops the walk at the hop that
 * passed it on. Without trusted proxies the socket address is the client.
 */
export function createClientIp(trusted: readonly Cidr[]): (req: IncomingMessage) => string {
  const isTrusted = (a: Address) => trusted.some(([range, bits]) => a.kind() === range.kind() && a.match(range, bits));
  // A connection's peer is judged once, not for every request it carries (keep-alive).
  const peers = new WeakMap<Socket, { remote: string | undefined; peer: Address | undefined; text: string; proxy: boolean }>();
  const peerOf = (socket: Socket) => {
    const known = peers.get(socket);
    if (known && known.remote === socket.remoteAddress) return known;
    const peer = parseAddress(socket.remoteAddress ?? "");
    const judged = {
      remote: socket.remoteAddress,
      peer,
      text: peer ? peer.toString() : (socket.remoteAddress ?? "unknown"),
      proxy: peer !== undefined && trusted.length > 0 && isTrusted(peer),
    };
    peers.set(socket, judged);
    return judged;
  };
  return (req) => {
    const { peer, text, proxy } = peerOf(req.socket);
    if (!peer || !proxy) return text;
    const header = req.headers["x-forwarded-for"];
    // Several X-Forwarded-For lines are one list, in order (RFC 9110 §5.3).
    const hops = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",").filter((h) => h.trim() !== "");
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseAddress(hops[i]!);
      if (!hop) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client.toString();
  };
}
