export * from "./connection";
export * from "./migrate";
