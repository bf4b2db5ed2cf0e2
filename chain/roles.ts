/** UsageMeter's and InvoiceAnchor's roles by name, and parsing of a role given by a person. */
import { keccak256, toHex, zeroHash, type Hex } from "viem";

export const ROLES = {
  DEFAULT_ADMIN_ROLE: zeroHash,
  PAUSER_ROLE: keccak256(toHex("PAUSER_ROLE")),
  TENANT_MANAGER_ROLE: keccak256(toHex("TENANT_MANAGER_ROLE")),
} as const satisfies Record<string, Hex>;

export type RoleName = keyof typeof ROLES;

export const ROLE_NAMES = Object.keys(ROLES) as RoleName[];

const ALIASES: Record<string, RoleName> = {
  admin: "DEFAULT_ADMIN_ROLE",
  "default-admin": "DEFAULT_ADMIN_ROLE",
  default_admin: "DEFAULT_ADMIN_ROLE",
  pauser: "PAUSER_ROLE",
  manager: "TENANT_MANAGER_ROLE",
  "tenant-manager": "TENANT_MANAGER_ROLE",
  tenant_manager: "TENANT_MANAGER_ROLE",
};

/** Accepts `PAUSER_ROLE`, `pauser`, `tenant-manager`, … or a known role's bytes32 id. */
export function roleByName(input: string): RoleName | undefined {
  const s = input.trim();
  const upper = s.toUpperCase();
  if (upper in ROLES) return upper as RoleName;
  const alias = ALIASES[s.toLowerCase()];
  if (alias) return alias;
  return ROLE_NAMES.find((name) => ROLES[name] === s.toLowerCase());
}

/** The role's name when it is one of UsageMeter's, else its id. */
export function roleLabel(roleId: string): string {
  return ROLE_NAMES.find((name) => ROLES[name] === roleId.toLowerCase()) ?? roleId;
}

/** InvoiceAnchor's roles: the billing service anchors, a pauser stops it, the admin grants and unpauses. */
export const ANCHOR_ROLES = {
  DEFAULT_ADMIN_ROLE: zeroHash,
  BILLER_ROLE: keccak256(toHex("BILLER_ROLE")),
  PAUSER_ROLE: keccak256(toHex("PAUSER_ROLE")),
} as const satisfies Record<string, Hex>;

export type AnchorRoleName = keyof typeof ANCHOR_ROLES;

/** Accepts `BILLER_ROLE`, `biller`, `PAUSER_ROLE`, `pauser` (the roles an admin grants on the anchor). */
export function anchorRoleByName(input: string): Exclude<AnchorRoleName, "DEFAULT_ADMIN_ROLE"> | undefined {
  const s = input.trim().toUpperCase().replace(/-/g, "_");
  if (s === "BILLER_ROLE" || s === "BILLER") return "BILLER_ROLE";
  if (s === "PAUSER_ROLE" || s === "PAUSER") return "PAUSER_ROLE";
  return undefined;
}

/** The role's name when it is one of InvoiceAnchor's, else its id. */
export function anchorRoleLabel(roleId: string): string {
  return (Object.keys(ANCHOR_ROLES) as AnchorRoleName[]).find((name) => ANCHOR_ROLES[name] === roleId.toLowerCase()) ?? roleId;
}
