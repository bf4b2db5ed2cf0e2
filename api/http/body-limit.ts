import type { IncomingMessage } from "node:http";
import { BadRequestError } from "../errors";

const tooLarge = () => new BadRequestError("Request body too large.", 413, { connection: "close" });

/**
 * Reads a POST body, refusing it (413) past `limit` bytes: by its Content-Length before reading a
 * byte, or once that many bytes have arrived (chunked bodies). The body is handed to yoga's Node
 * adapter as `req.body`, which then uses it as is. Done here rather than with yoga's
 * maxRequestBodySize, which pipes every body through a web TransformStream (a stream pipeline and
 * an AbortController per request: a measurable share of the API's CPU).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<BadRequestError | undefined> {
  if (req.method !== "POST") return undefined;
  const length = req.headers["content-length"];
  if (length !== undefined && Number(length) > limit) return tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return tooLarge();
    chunks.push(chunk as Buffer);
  }
  (req as IncomingMessage & { body?: Buffer }).body = Buffer.concat(chunks, size);
  return undefined;
}
