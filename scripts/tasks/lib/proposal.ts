/**
 * A transaction the signer may not send itself, printed so that an account holding the role
 * (normally the admin multisig) can propose it verbatim.
 */
export interface Proposal {
  chainId: number;
  to: string;
  value: bigint;
  data: string;
  /** e.g. `registerTenant(bytes32 name)`. */
  signature: string;
  /** Arguments in words: [name, human value]. */
  args: Array<[string, string]>;
  /** Who may send it, e.g. `an account holding PAUSER_ROLE`. */
  sender: string;
  /** Why the signer could not send it. */
  reason: string;
}

export function renderProposal(p: Proposal): string {
  const width = Math.max(0, ...p.args.map(([name]) => name.length));
  return [
    `${p.reason}; nothing was sent.`,
    `Propose this transaction from ${p.sender}:`,
    `  chainId:  ${p.chainId}`,
    `  to:       ${p.to}`,
    `  value:    ${p.value.toString()}`,
    `  data:     ${p.data}`,
    `  function: ${p.signature}`,
    ...p.args.map(([name, value]) => `    ${name.padEnd(width)} = ${value}`),
  ].join("\n");
}
