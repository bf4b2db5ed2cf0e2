/**
 * One webhook POST: http(s).request with the destination guard as its DNS lookup (so the address
 * it connects to is the address that was checked), no redirects followed, a hard timeout, and the
 * response body discarded unread.
 */
import http from "node:http";
import https from "node:https";
import { guardedLookup, type DestinationPolicy } from "./destinations";

export function postWebhook(url: URL, headers: Record<string, string>, body: string, options: { timeoutMs: number; policy: DestinationPolicy }): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === "https:" ? https : http).request(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": Buffer.byteLength(body).toString() },
        lookup: guardedLookup(options.policy) as unknown as typeof import("node:dns").lookup,
        timeout: options.timeoutMs,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no response within ${options.timeoutMs} ms`)));
    request.on("error", reject);
    request.end(body);
  });
}
