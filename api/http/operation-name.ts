import { getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { ServerContext } from "./request-state";

/** The operation's name for the request log and the latency histogram (never the query text). */
export function useOperationName(): Plugin<Partial<ServerContext>, ServerContext> {
  const capture = (context: Partial<ServerContext>, document: Parameters<typeof getOperationAST>[0], operationName: string | null | undefined) => {
    if (!context.state) return;
    const name = operationName ?? getOperationAST(document, operationName)?.name?.value;
    if (typeof name === "string") context.state.operationName = name.slice(0, 100);
  };
  return {
    onExecute({ args }) {
      capture(args.contextValue, args.document, args.operationName);
    },
    onSubscribe({ args }) {
      capture(args.contextValue, args.document, args.operationName);
    },
  };
}
