import { auditLogResolvers } from "./audit-log";
import { commitmentResolvers } from "./commitments";
import { creditNoteResolvers } from "./credit-notes";
import { entitlementResolvers } from "./entitlement";
import { identityProviderResolvers } from "./identity-providers";
import { invoiceResolvers } from "./invoices";
import { meterResolvers } from "./meters";
import { quotaResolvers } from "./quotas";
import { planResolvers } from "./plans";
import { subscriptionResolvers } from "./subscriptions";
import { tenantResolvers } from "./tenant";
import { usageResolvers } from "./usage";
import { webhookResolvers } from "./webhooks";

/** Every resolver map, one per .graphql file of api/schema. */
export const resolvers = [
  tenantResolvers,
  meterResolvers,
  usageResolvers,
  commitmentResolvers,
  quotaResolvers,
  entitlementResolvers,
  invoiceResolvers,
  creditNoteResolvers,
  planResolvers,
  webhookResolvers,
  auditLogResolvers,
  subscriptionResolvers,
  identityProviderResolvers,
];
