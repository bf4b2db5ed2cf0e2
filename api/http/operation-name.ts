import { getOperationAST, type GraphQLSchema } from "graphql";
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

/**
 * The `operation` label of the latency histogram, from a bounded set: a client's operation name
 * is its own choice, and labelling by it let anyone add series to /metrics at will. A name is kept
 * when it is one of the schema's root fields (matched case-insensitively and labelled by the
 * field's own name: `Meters` → `meters`) or one the deployment lists in METRICS_OPERATIONS (its
 * own clients' operation names); anything else is `other`, no name `anonymous`.
 */
export function createOperationLabel(schema: GraphQLSchema, configured: readonly string[]): (name: string | undefined) => string {
  const roots = new Map<string, string>();
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.keys(type?.getFields() ?? {})) roots.set(field.toLowerCase(), field);
  }
  const listed = new Set(configured);
  return (name) => {
    if (name === undefined || name === "") return "anonymous";
    if (listed.has(name)) return name;
    return roots.get(name.toLowerCase()) ?? "other";
  };
}
