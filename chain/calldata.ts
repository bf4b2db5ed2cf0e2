/** EIP-7623 calldata tokens: one per zero byte, four per non-zero byte. */
export function calldataTokens(data: string): bigint {
  const hex = data.startsWith("0x") ? data.slice(2) : data;
  let tokens = 0n;
  for (let i = 0; i < hex.length; i += 2) tokens += hex.slice(i, i + 2) === "00" ? 1n : 4n;
  return tokens;
}

/** EIP-7623 floor of a transaction's calldata, without the 21,000 base: 10 gas per token. */
export function calldataFloorGas(data: string): bigint {
  return 10n * calldataTokens(data);
}
