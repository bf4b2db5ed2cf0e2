/**
 * Who may hold a production contract's admin and pauser roles. A single externally owned account
 * as admin is one leaked key away from a paused meter or a hostile role grant, so on any chain but
 * a local development chain the admin must be a contract wallet (a Safe or any ERC-1271 wallet),
 * unless the operator says otherwise in so many words (`--allow-eoa-admin`).
 *
 * Production rules also apply on a local chain id with `--production`: a fork of a production
 * chain runs as chain 31337, and a rehearsal there should meet the rules the real deployment will.
 */
import type { Provider } from "ethers";
import { LOCAL_CHAIN_IDS } from "../../../chain/deployment";
import { TaskInputError } from "./errors";

export function productionRules(chainId: number, production: boolean): boolean {
  return production || !LOCAL_CHAIN_IDS.has(chainId);
}

export async function isContractAccount(provider: Provider, address: string, blockTag?: number): Promise<boolean> {
  return (await provider.getCode(address, blockTag)) !== "0x";
}

export const SAFE_GUIDANCE = [
  "Deploy with a multi-signature wallet as admin and pauser:",
  "  1. create a Safe (https://app.safe.global) or another ERC-1271 wallet on this chain, with a threshold of at least 2;",
  "  2. npx hardhat meter:deploy --network <net> --admin <safe address> --admin-delay 86400;",
  "  3. from the Safe, grant PAUSER_ROLE to a second Safe (or a guardian wallet) and TENANT_MANAGER_ROLE to the operator",
  "     that registers tenants (the admin never needs to pause, and the pauser should not be the admin).",
  "Pass --allow-eoa-admin to accept a single key as admin anyway.",
].join("\n");

/** Throws on an externally owned admin under production rules, unless explicitly allowed. */
export async function checkAdminAccount(options: {
  provider: Provider;
  admin: string;
  chainId: number;
  production: boolean;
  allowEoaAdmin: boolean;
}): Promise<{ contract: boolean }> {
  const contract = await isContractAccount(options.provider, options.admin);
  if (!contract && productionRules(options.chainId, options.production) && !options.allowEoaAdmin) {
    throw new TaskInputError(
      `--admin: ${options.admin} is an externally owned account (a single key); chain ${options.chainId} needs a multi-signature admin.\n${SAFE_GUIDANCE}`,
    );
  }
  return { contract };
}
