import { BadInputError } from "../errors";
import { decodeCursor, encodeCursor } from "./ids";

export const MAX_PAGE = 200;

export function pageSize(first: number | null | undefined): number {
  const n = first ?? 50;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) throw new BadInputError(`first must be between 1 and ${MAX_PAGE}`);
  return n;
}

export function afterKey(after: string | null | undefined, length: number): string[] | null {
  if (after === null || after === undefined) return null;
  const key = decodeCursor(after, length);
  if (!key) throw new BadInputError("invalid cursor");
  return key;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: () => Promise<number>;
}

/** Builds a connection from rows fetched with LIMIT first + 1. */
export function connection<R, T>(
  rows: R[],
  first: number,
  toNode: (row: R) => T,
  cursorKey: (row: R) => (string | number)[],
  totalCount: () => Promise<number>,
): Connection<T> {
  const page = rows.slice(0, first);
  const edges = page.map((r) => ({ cursor: encodeCursor(cursorKey(r)), node: toNode(r) }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount,
  };
}

export function emptyConnection(): Connection<never> {
  return { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: async () => 0 };
}
