/* global module */
// solidity-coverage settings for `npm run coverage`.
module.exports = {
  // Test-only contracts (ERC-1271 wallet mock, ...) are scaffolding, not product code.
  skipFiles: ["test/"],
};
