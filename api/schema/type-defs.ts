/**
 * The schema. Every field of Query, Mutation and Subscription declares @auth; the directive is
 * enforced in one place (auth-directive.ts), and a root field without it fails startup.
 */
export const typeDefs = /* GraphQL */ `
  directive @auth(requires: Role = VIEWER) on FIELD_DEFINITION

  enum Role {
    VIEWER
    OPERATOR
    ADMIN
    AUDITOR
  }

  "ISO-8601 timestamp with offset."
  scalar DateTime
  "Arbitrary-precision integer, serialized as a decimal string."
  scalar BigInt

  interface Node {
    id: ID!
  }

  type Query {
    viewer: Viewer! @auth(requires: VIEWER)
    tenant: Tenant @auth(requires: VIEWER)
    meters: [Meter!]! @auth(requires: VIEWER)
    meter(id: ID!): Meter @auth(requires: VIEWER)
    "Usage time series of one meter from the hourly rollups, bucketed in the tenant's time zone."
    usage(meter: ID!, from: DateTime!, to: DateTime!, granularity: Granularity!): [UsagePoint!]! @auth(requires: VIEWER)
    usageRecords(first: Int = 50, after: String, filter: UsageRecordFilter): UsageRecordConnection! @auth(requires: VIEWER)
    commitments(status: CommitmentStatus, first: Int = 50, after: String): CommitmentConnection! @auth(requires: VIEWER)
    quotas: [Quota!]! @auth(requires: VIEWER)
    invoices(status: InvoiceStatus, first: Int = 50, after: String): InvoiceConnection! @auth(requires: VIEWER)
    invoice(id: ID!): Invoice @auth(requires: VIEWER)
    ratePlans: [RatePlan!]! @auth(requires: VIEWER)
    webhookEndpoints: [WebhookEndpoint!]! @auth(requires: OPERATOR)
    auditLog(first: Int = 50, after: String): AuditEntryConnection! @auth(requires: AUDITOR)
  }

  type Mutation {
    configureMeter(input: ConfigureMeterInput!): Meter! @auth(requires: ADMIN)
    setQuota(input: SetQuotaInput!): Quota! @auth(requires: ADMIN)
    deleteQuota(meter: ID!): Boolean! @auth(requires: ADMIN)
    createRatePlan(name: String!): RatePlan! @auth(requires: ADMIN)
    "Returns the signing secret; it is never shown again."
    createWebhookEndpoint(input: CreateWebhookEndpointInput!): WebhookEndpointSecret! @auth(requires: OPERATOR)
    rotateWebhookSecret(id: ID!): WebhookEndpointSecret! @auth(requires: OPERATOR)
    deleteWebhookEndpoint(id: ID!): Boolean! @auth(requires: OPERATOR)
  }

  type Subscription {
    "New usage of the caller's tenant, as the indexer applies it."
    usageRecorded: UsageRecordedEvent! @auth(requires: VIEWER)
    quotaAlert: QuotaAlertEvent! @auth(requires: VIEWER)
  }

  type Viewer {
    subject: String!
    roles: [Role!]!
    "True when a platform operator is acting on this tenant (audit-logged)."
    platform: Boolean!
    tenant: Tenant
  }

  type Tenant implements Node {
    id: ID!
    slug: String!
    timeZone: String!
    chainId: BigInt!
    onchainId: Int!
  }

  enum Aggregation {
    SUM
    COUNT
    MAX
  }

  type MeterConfig {
    aggregation: Aggregation!
    unit: String!
    displayName: String!
  }

  type Meter implements Node {
    id: ID!
    meterId: Int!
    name: String!
    config: MeterConfig
    onchain: OnchainRef!
  }

  enum Granularity {
    HOUR
    DAY
    MONTH
  }

  type UsagePoint {
    bucketStart: DateTime!
    quantity: BigInt!
    max: BigInt!
    records: BigInt!
  }

  "Where on chain a row comes from."
  type OnchainRef {
    chainId: BigInt!
    txHash: String!
    logIndex: Int!
    blockNumber: BigInt!
    blockHash: String
    commitment: String
  }

  input UsageRecordFilter {
    meter: ID
    from: DateTime
    to: DateTime
    reporter: String
    commitment: String
  }

  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }

  type UsageRecord implements Node {
    id: ID!
    meterId: Int!
    periodStart: DateTime!
    periodEnd: DateTime!
    quantity: BigInt!
    sequence: BigInt!
    ref: String!
    reporter: String!
    commitment: String!
    recordIndex: Int!
    blockTime: DateTime!
    onchain: OnchainRef!
  }

  type UsageRecordEdge {
    cursor: String!
    node: UsageRecord!
  }

  type UsageRecordConnection {
    edges: [UsageRecordEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  enum CommitmentStatus {
    COMMITTED
    REVEALED
    EXPIRED
  }

  type Commitment implements Node {
    id: ID!
    reporter: String!
    commitment: String!
    relayer: String!
    status: CommitmentStatus!
    committedAt: DateTime!
    committed: OnchainRef!
    resolved: OnchainRef
  }

  type CommitmentEdge {
    cursor: String!
    node: Commitment!
  }

  type CommitmentConnection {
    edges: [CommitmentEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  enum QuotaStatus {
    OK
    WARNING
    EXCEEDED
  }

  type Quota implements Node {
    id: ID!
    meterId: Int!
    softLimit: BigInt
    hardLimit: BigInt
    thresholds: [Int!]!
    usage: BigInt!
    status: QuotaStatus!
    periodStart: DateTime!
    periodEnd: DateTime!
  }

  enum InvoiceStatus {
    DRAFT
    FINALIZED
  }

  type InvoiceLine {
    lineNo: Int!
    kind: String!
    meterId: Int
    description: String!
    aggregation: Aggregation
    quantity: BigInt!
    amountMinor: BigInt!
    "The usage records behind the line, with their on-chain references."
    records(first: Int = 100): [OnchainRef!]!
  }

  type Invoice implements Node {
    id: ID!
    number: Int
    status: InvoiceStatus!
    periodStart: DateTime!
    periodEnd: DateTime!
    timeZone: String!
    currency: String!
    currencyExponent: Int!
    totalMinor: BigInt!
    confirmedBlock: BigInt
    contentHash: String
    finalizedAt: DateTime
    lines: [InvoiceLine!]!
    "The invoice as JSON, in the format meter:verify-invoice checks against the chain."
    export: String
  }

  type InvoiceEdge {
    cursor: String!
    node: Invoice!
  }

  type InvoiceConnection {
    edges: [InvoiceEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type RatePlan implements Node {
    id: ID!
    name: String!
    createdAt: DateTime!
  }

  type WebhookEndpoint implements Node {
    id: ID!
    url: String!
    eventTypes: [String!]!
    createdAt: DateTime!
    rotatedAt: DateTime
  }

  type WebhookEndpointSecret {
    endpoint: WebhookEndpoint!
    secret: String!
  }

  type AuditEntry implements Node {
    id: ID!
    at: DateTime!
    subject: String!
    platform: Boolean!
    action: String!
    entityType: String!
    entityId: String
    "JSON of the change."
    changes: String
    ip: String
    userAgent: String
  }

  type AuditEntryEdge {
    cursor: String!
    node: AuditEntry!
  }

  type AuditEntryConnection {
    edges: [AuditEntryEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  input ConfigureMeterInput {
    meter: ID!
    aggregation: Aggregation!
    unit: String
    displayName: String!
  }

  input SetQuotaInput {
    meter: ID!
    softLimit: BigInt
    hardLimit: BigInt
    thresholds: [Int!]
  }

  input CreateWebhookEndpointInput {
    url: String!
    eventTypes: [String!]!
  }

  type UsageRecordedEvent {
    records: Int!
    toBlock: BigInt!
  }

  type QuotaAlertEvent {
    meterId: Int!
    threshold: Int!
    limit: BigInt!
    usage: BigInt!
    periodStart: DateTime!
    periodEnd: DateTime!
    crossedAt: DateTime!
  }
`;
