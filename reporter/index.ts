// Reporter client: validate usage, journal it, commit and reveal it exactly once.
export * from "./errors";
export * from "./input";
export * from "./journal";
export * from "./signer";
export * from "./client";
export * from "./relay";
export * from "./config";
export * from "./run";
export { ZERO_REF } from "./revealed-refs";
