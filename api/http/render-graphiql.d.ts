// The package's subpath export; TypeScript's "node" module resolution does not read `exports`.
// Same declarations as its typings/graphiql.d.ts.
declare module "@graphql-yoga/render-graphiql/graphiql" {
  export const js: string;
  export const css: string;
  export const favicon: string;
  export const editorWorkerService: string;
  export const jsonWorker: string;
  export const graphqlWorker: string;
}
