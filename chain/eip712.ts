/**
 * EIP-712 typed data of UsageMeter's signed commits (`commitWithSignature`): the one definition the
 * reporter signs with, the relayer submits and the tests check against the contract.
 */
import type { Address, Hex } from "viem";

export const EIP712_NAME = "UsageMeter";
export const EIP712_VERSION = "1";

export const COMMIT_TYPES = {
  Commit: [
    { name: "reporter", type: "address" },
    { name: "tenantId", type: "uint32" },
    { name: "commitment", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export interface CommitMessage {
  reporter: Address;
  tenantId: number;
  commitment: Hex;
  nonce: bigint;
  deadline: bigint;
}

/** The domain UsageMeter at `verifyingContract` on `chainId` signs under. */
export function commitDomain(chainId: number | bigint, verifyingContract: Address) {
  return { name: EIP712_NAME, version: EIP712_VERSION, chainId: BigInt(chainId), verifyingContract } as const;
}
