// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IInvoiceAnchor
/// @notice External interface of {InvoiceAnchor}: the platform's public, append-only record of
///         what it bills. Before a plan version takes effect for a tenant, the platform anchors the
///         version's hash; at finalization it anchors each invoice and each credit note, chained per
///         tenant, so a tenant can prove an invoice against the chain alone and nobody can fork or
///         quietly rewrite a tenant's billing history.
/// @dev A companion of {IUsageMeter} (whose tenant ids it uses), deployed next to it: metering and
///      billing have different writers (tenants' reporters vs the platform's billing service) and
///      different keys, and keeping the anchors out of UsageMeter leaves the metering contract, which
///      tenants' reporters depend on, unchanged.
///
///      A tenant's documents form a hash chain: each anchored document names the content hash of
///      the tenant's previous anchored document (zero for the first), and {anchorDocument} accepts
///      only the document that extends the current head ({lastDocument}). Content hashes are
///      SHA-256 over the RFC 8785 canonical JSON of the document's content (see rating/).
///
///      Besides this interface the deployed contract implements {IAccessControlDefaultAdminRules}
///      ({BILLER_ROLE}, {PAUSER_ROLE} and the default admin) and OpenZeppelin's `Pausable`.
interface IInvoiceAnchor {
    /// @notice What an anchored document is.
    enum DocumentKind {
        Invoice,
        CreditNote
    }

    // --------------------------------------------------------------- errors

    /// @dev A hash argument is zero; zero means "none" (e.g. the previous document of a tenant's first).
    error ZeroHash();

    /// @dev {anchorPlan} was called at or after the moment the plan version takes effect: a plan must
    ///      be public before it prices anything.
    /// @param effectiveFrom When the version takes effect for the tenant (Unix seconds).
    /// @param blockTimestamp The current block's timestamp.
    error PlanNotInFuture(uint64 effectiveFrom, uint64 blockTimestamp);

    /// @dev The document's period is empty or inverted.
    /// @param periodStart The period's start (Unix seconds, inclusive).
    /// @param periodEnd The period's end (Unix seconds, exclusive).
    error InvalidPeriod(uint64 periodStart, uint64 periodEnd);

    /// @dev {anchorDocument} was called before the document's period ended: usage of a period is
    ///      billed only after it.
    /// @param periodEnd The period's end (Unix seconds, exclusive).
    /// @param blockTimestamp The current block's timestamp.
    error PeriodNotEnded(uint64 periodEnd, uint64 blockTimestamp);

    /// @dev The document does not extend the tenant's chain: `previousHash` is not the tenant's
    ///      current head. Prevents forks (two documents after one) and rewrites (a document
    ///      inserted before the head).
    /// @param tenantId The tenant.
    /// @param expected The tenant's current head ({lastDocument}).
    /// @param previousHash What the call named as previous.
    error NotChainHead(uint32 tenantId, bytes32 expected, bytes32 previousHash);

    // --------------------------------------------------------------- events

    /// @dev The platform published the hash of the plan version that prices `tenantId`'s usage from
    ///      `effectiveFrom` on (until a later anchored version takes effect). A verifier takes, for a
    ///      period starting at S, the anchor with the latest `effectiveFrom` <= S and requires the
    ///      invoice's plan snapshot to hash to its `planHash`.
    /// @param tenantId The tenant (UsageMeter's id).
    /// @param planHash SHA-256 of the plan version snapshot's canonical JSON.
    /// @param biller The account that anchored it (a holder of {BILLER_ROLE}).
    /// @param effectiveFrom When the version takes effect for the tenant (Unix seconds), always later
    ///        than the anchoring block.
    event PlanAnchored(uint32 indexed tenantId, bytes32 indexed planHash, address indexed biller, uint64 effectiveFrom);

    /// @dev A finalized invoice or a credit note of `tenantId` was anchored, extending the tenant's
    ///      chain from `previousHash` (zero for the first document) to `contentHash`.
    /// @param tenantId The tenant (UsageMeter's id).
    /// @param contentHash SHA-256 of the document content's canonical JSON; the document names
    ///        `previousHash` in its content too.
    /// @param previousHash The tenant's previous document's content hash, or zero.
    /// @param kind Invoice or credit note.
    /// @param number The document's number in its kind's gap-free sequence of the tenant.
    /// @param periodStart The billed period's start (for a credit note: its invoice's).
    /// @param periodEnd The billed period's end (exclusive).
    /// @param biller The account that anchored it (a holder of {BILLER_ROLE}).
    event DocumentAnchored(
        uint32 indexed tenantId,
        bytes32 indexed contentHash,
        bytes32 indexed previousHash,
        DocumentKind kind,
        uint64 number,
        uint64 periodStart,
        uint64 periodEnd,
        address biller
    );

    // ---------------------------------------------------------- functions

    /// @notice The role allowed to anchor plans and documents: the platform's billing service.
    /// @return The role id, keccak256("BILLER_ROLE").
    function BILLER_ROLE() external view returns (bytes32);

    /// @notice The role allowed to pause anchoring (unpausing is the admin's).
    /// @return The role id, keccak256("PAUSER_ROLE").
    function PAUSER_ROLE() external view returns (bytes32);

    /// @notice The UsageMeter whose tenants these anchors are for.
    /// @return Its address, fixed at deployment.
    function usageMeter() external view returns (address);

    /// @notice The head of a tenant's document chain.
    /// @param tenantId The tenant.
    /// @return The content hash of the tenant's last anchored document, zero before the first.
    function lastDocument(uint32 tenantId) external view returns (bytes32);

    /// @notice Publishes the hash of the plan version pricing `tenantId` from `effectiveFrom` on.
    /// @dev Only {BILLER_ROLE}, when not paused; `effectiveFrom` must be later than this block.
    /// @param tenantId The tenant.
    /// @param planHash SHA-256 of the version snapshot's canonical JSON.
    /// @param effectiveFrom When it takes effect for the tenant (Unix seconds).
    function anchorPlan(uint32 tenantId, bytes32 planHash, uint64 effectiveFrom) external;

    /// @notice Anchors a finalized invoice or a credit note, extending the tenant's chain.
    /// @dev Only {BILLER_ROLE}, when not paused, after the period ended, and only the document that
    ///      names the tenant's current head as previous.
    /// @param tenantId The tenant.
    /// @param kind Invoice or credit note.
    /// @param number The document's number in its kind's sequence.
    /// @param periodStart The billed period's start (Unix seconds).
    /// @param periodEnd The billed period's end (Unix seconds, exclusive).
    /// @param contentHash SHA-256 of the document content's canonical JSON.
    /// @param previousHash The tenant's current head ({lastDocument}).
    function anchorDocument(
        uint32 tenantId,
        DocumentKind kind,
        uint64 number,
        uint64 periodStart,
        uint64 periodEnd,
        bytes32 contentHash,
        bytes32 previousHash
    ) external;
}
