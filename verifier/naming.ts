/**
 * The verifier's view of chain/naming.ts (the one home of the naming rule): the same namings, with
 * a bad name or key reported as a VerifierError, which the CLI prints as "could not verify".
 */
import { keyedNaming as chainKeyedNaming, plainNaming as chainPlainNaming, NamingError, type ChainNaming } from "../chain/naming";
import { VerifierError } from "./result";

export { hmacSha256, METER_NAME_PREFIX, MIN_NAME_KEY_BYTES } from "../chain/naming";
/** How the tenant's name is registered on chain (the verifier only resolves the tenant). */
export type TenantNaming = ChainNaming;

function asVerifierError<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof NamingError) throw new VerifierError(err.message, { cause: err });
    throw err;
  }
}

function checked(naming: ChainNaming): ChainNaming {
  return {
    scheme: naming.scheme,
    keyed: naming.keyed,
    onchainName: (tenant) => asVerifierError(() => naming.onchainName(tenant)),
    onchainMeterName: (meter) => asVerifierError(() => naming.onchainMeterName(meter)),
  };
}

/** The name's UTF-8 bytes, zero-padded to 32 (deployments registered before keyed names). */
export const plainNaming: TenantNaming = checked(chainPlainNaming);

/** Pseudonymous names: HMAC-SHA256(key, name), a bytes32 that reveals nothing without the key. */
export function keyedNaming(key: Uint8Array): TenantNaming {
  return checked(asVerifierError(() => chainKeyedNaming(key)));
}
