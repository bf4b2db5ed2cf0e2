import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionResult } from "graphql";
import type { YogaServerInstance } from "graphql-yoga";
import type { ServerContext } from "../yoga";

/**
 * Plain JSON POSTs of queries and mutations run straight through yoga's envelop (getEnveloped:
 * the same plugins — armor limits, introspection block, masked errors, parse/validation cache)
 * without the fetch Request/Response emulation, which costs ~10x the execution itself on Node 20.
 * Anything else (subscriptions, GET, CORS requests, unusual bodies) returns null and goes through
 * yoga.fetch, which owns those semantics.
 */
export async function executeJson(
  yoga: YogaServerInstance<ServerContext, object>,
  body: Buffer,
  context: ServerContext,
): Promise<{ status: number; payload: string } | null> {
  let params: unknown;
  try {
    params = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  if (params === null || typeof params !== "object" || Array.isArray(params)) return null;
  const { query, variables, operationName } = params as Record<string, unknown>;
  if (typeof query !== "string") return null;
  if (variables !== undefined && variables !== null && (typeof variables !== "object" || Array.isArray(variables))) return null;
  if (operationName !== undefined && operationName !== null && typeof operationName !== "string") return null;
  const { parse, validate, contextFactory, execute, schema } = yoga.getEnveloped(context);
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (err) {
    if (err instanceof GraphQLError) return answer(400, { errors: [err] });
    throw err;
  }
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation || operation.operation === "subscription") return null;
  if (typeof operationName === "string") context.meta.operationName = operationName.slice(0, 100);
  else if (operation.name) context.meta.operationName = operation.name.value.slice(0, 100);
  let errors: readonly GraphQLError[];
  try {
    errors = validate(schema, document);
  } catch (err) {
    // Armor's limits throw from validation as well as report.
    if (err instanceof GraphQLError) return answer(400, { errors: [err] });
    throw err;
  }
  if (errors.length > 0) return answer(400, { errors });
  const contextValue = await contextFactory();
  const result = (await execute({
    schema,
    document,
    contextValue,
    variableValues: (variables as Record<string, unknown> | null | undefined) ?? undefined,
    operationName: (operationName as string | null | undefined) ?? undefined,
  })) as ExecutionResult;
  // No data at all means the request itself was invalid (variables, operation selection).
  return answer("data" in result ? 200 : 400, result);
}

// Errors go out as yoga would send them: without the internal `http` extension.
function answer(status: number, result: ExecutionResult | { errors: readonly GraphQLError[] }) {
  const errors = result.errors?.map((e) => {
    const { http: _http, ...extensions } = e.extensions ?? {};
    return { ...e.toJSON(), ...(Object.keys(extensions).length > 0 ? { extensions } : { extensions: undefined }) };
  });
  return { status, payload: JSON.stringify(errors ? { ...result, errors } : result) };
}
