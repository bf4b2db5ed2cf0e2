// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IUsageMeter
/// @notice External interface of {UsageMeter}: commit-reveal metering of tenants' usage.
/// @dev A reporter commits to a batch of usage records with {commit} (or has a relayer submit its
///      EIP-712 signature through {commitWithSignature}), then anyone reveals the batch with {reveal}
///      between {MIN_REVEAL_DELAY} and {MAX_REVEAL_DELAY} blocks later. A commitment left unrevealed
///      past that window can be marked with {expire}, so withheld usage stays visible to audits.
///
///      Blocks are counted from the commit's block `b`: a reveal is accepted in blocks
///      `b + MIN_REVEAL_DELAY` through `b + MAX_REVEAL_DELAY` inclusive, and the commitment lapses
///      (may be expired or committed again) from block `b + MAX_REVEAL_DELAY + 1` on. The block
///      numbers that errors carry (`revealableAtBlock`, `expiresAfterBlock`, `expiredAfterBlock`) are
///      the two ends of that window.
///
///      Besides this interface the deployed contract implements, with their own interfaces, events
///      and errors: {IAccessControlDefaultAdminRules} (roles; {PAUSER_ROLE}, {TENANT_MANAGER_ROLE} and
///      the default admin), OpenZeppelin's `Pausable` (`paused()`, `Paused`/`Unpaused`,
///      `EnforcedPause`/`ExpectedPause`), {IERC5267} (`eip712Domain()`), `Nonces` (`nonces(address)`, the
///      nonce a {commitWithSignature} signature must carry) and `Multicall` (`multicall(bytes[])`,
///      which a live reporter uses to reveal one batch and commit the next in one transaction). They
///      are not redeclared here: doing so would make the contract override them only to call `super`.
interface IUsageMeter {
    // ---------------------------------------------------------------- types

    /// @notice One usage record as committed, revealed and emitted.
    /// @dev `packed` holds the numeric fields in one word (see {UsageRecordCodec}, {encodeRecord} and
    ///      {decodeRecord}): meter id, period start and end (Unix seconds), sequence and quantity.
    ///      `ref` is the reporter's own 32-byte reference (e.g. a hash of its internal event ids) so a
    ///      tenant can tie the record to its books; the contract never interprets it.
    struct PackedRecord {
        uint256 packed;
        bytes32 ref;
    }

    /// @notice Lifecycle of a (reporter, commitment) pair, as {getCommitment} reports it.
    /// @dev `None`: never committed. `Committed`: pending; revealable inside its window, and it keeps
    ///      this status after the window until it is expired or committed again, so compare the
    ///      commit block with the current block to tell pending from lapsed. `Revealed`: a tombstone,
    ///      never overwritten; the same commitment can't be committed again. `Expired`: marked by
    ///      {expire}; the same commitment may be committed again.
    enum CommitmentStatus {
        None,
        Committed,
        Revealed,
        Expired
    }

    // --------------------------------------------------------------- errors

    /// @dev The constructor's reveal window is unusable: `minDelay` must be at least 1 (a commitment
    ///      and its reveal never share a block) and `maxDelay` must be greater than `minDelay`.
    /// @param minDelay The rejected minimum delay, in blocks.
    /// @param maxDelay The rejected maximum delay, in blocks.
    error InvalidRevealWindow(uint32 minDelay, uint32 maxDelay);

    /// @dev A tenant or meter name is zero. {registerTenant} and {registerMeter} reserve the zero name
    ///      for "does not exist" (see {getTenant}, {tenantIdByName}, {meterIdByName}).
    error InvalidName();

    /// @dev {registerTenant} was given a name another tenant already holds; tenant names are unique
    ///      per deployment because off-chain systems map tenants to on-chain ids by name.
    /// @param name The name that was asked for.
    /// @param tenantId The id of the tenant that already holds it (a retried registration can use it).
    error TenantNameTaken(bytes32 name, uint32 tenantId);

    /// @dev No tenant has the id `tenantId` (ids run from 1 to {tenantCount}). Raised by
    ///      {registerMeter} and {authorizeReporter}.
    /// @param tenantId The id that was looked up.
    error UnknownTenant(uint32 tenantId);

    /// @dev {registerMeter} was given a name another meter of the same tenant already holds; meter
    ///      names are unique per tenant only.
    /// @param tenantId The tenant the meter was to be registered for.
    /// @param name The name that was asked for.
    /// @param meterId The id of the tenant's meter that already holds it (a retried registration can use it).
    error MeterNameTaken(uint32 tenantId, bytes32 name, uint32 meterId);

    /// @dev {authorizeReporter} was given the zero address, which can neither commit nor sign.
    /// @param reporter The rejected address (always zero).
    error InvalidReporter(address reporter);

    /// @dev {authorizeReporter} was called for a reporter that is already authorized for the tenant.
    /// @param tenantId The tenant.
    /// @param reporter The reporter that is already authorized.
    error ReporterAlreadyAuthorized(uint32 tenantId, address reporter);

    /// @dev `reporter` is not (or no longer) authorized for `tenantId`. Raised by {commit} and
    ///      {commitWithSignature} (the reporter, not the relayer, must be authorized), by {reveal} (a
    ///      revoked reporter's pending commitments can't be revealed) and by {revokeReporter}.
    /// @param tenantId The tenant the call was for.
    /// @param reporter The reporter that lacks authorization.
    error ReporterNotAuthorized(uint32 tenantId, address reporter);

    /// @dev The zero commitment was committed; zero is never a {commitmentHash}.
    error InvalidCommitment();

    /// @dev The reporter committed a commitment it already has pending (inside its reveal window).
    ///      A commitment can be committed again only once it has lapsed or been expired.
    /// @param reporter The committing reporter.
    /// @param commitment The pending commitment.
    /// @param expiresAfterBlock The last block in which it can still be revealed; it can be committed
    ///        again from the next block on.
    error CommitmentPending(address reporter, bytes32 commitment, uint64 expiresAfterBlock);

    /// @dev The commitment was already revealed: raised by {commit}/{commitWithSignature} (a revealed
    ///      commitment is a tombstone) and by {reveal} (a batch is counted at most once).
    /// @param reporter The commitment's reporter.
    /// @param commitment The revealed commitment.
    error CommitmentAlreadyRevealed(address reporter, bytes32 commitment);

    /// @dev `reporter` has no pending commitment `commitment`. From {reveal}, where `commitment` is the
    ///      {commitmentHash} of the revealed arguments, it usually means the reveal does not match what
    ///      was committed (other reporter, salt, records, record order, chain or deployment) or that the
    ///      commitment was expired. From {expire}, the commitment is unknown, revealed or already expired.
    /// @param reporter The reporter the commitment was looked up for.
    /// @param commitment The commitment that was looked up.
    error CommitmentNotFound(address reporter, bytes32 commitment);

    /// @dev {reveal} found the commitment, but it was committed under another tenant than the one
    ///      revealed (a commitment hash built for one tenant and committed under another). The records
    ///      can't be revealed under either tenant; the reporter must commit again under the right one.
    /// @param commitment The commitment.
    /// @param committedTenantId The tenant it was committed under.
    /// @param revealedTenantId The tenant of the reveal (the one the hash was built for).
    error CommitmentTenantMismatch(bytes32 commitment, uint32 committedTenantId, uint32 revealedTenantId);

    /// @dev {reveal} came before the commitment aged {MIN_REVEAL_DELAY} blocks.
    /// @param commitment The commitment.
    /// @param revealableAtBlock The first block in which it can be revealed.
    error RevealTooEarly(bytes32 commitment, uint64 revealableAtBlock);

    /// @dev {reveal} came after the commitment's window closed; the usage can no longer be recorded
    ///      under this commitment (it may be {expire}d, or the records committed again).
    /// @param commitment The commitment.
    /// @param expiredAfterBlock The last block in which it could have been revealed.
    error RevealTooLate(bytes32 commitment, uint64 expiredAfterBlock);

    /// @dev {expire} was called on a commitment that can still be revealed.
    /// @param commitment The commitment.
    /// @param expiresAfterBlock The last block in which it can be revealed; {expire} succeeds from the next one.
    error CommitmentNotExpired(bytes32 commitment, uint64 expiresAfterBlock);

    /// @dev {commitWithSignature} was submitted after the signature's deadline (`block.timestamp > deadline`).
    /// @param deadline The signed deadline, in Unix seconds.
    error SignatureExpired(uint256 deadline);

    /// @dev The signature passed to {commitWithSignature} is not `reporter`'s over the EIP-712 `Commit`
    ///      message with the reporter's current nonce: wrong signer, wrong fields, a nonce already
    ///      used, or an ERC-1271 wallet that rejects it.
    /// @param reporter The reporter the signature was checked against.
    error InvalidSignature(address reporter);

    /// @dev {reveal} was called with no records; every commitment covers at least one.
    error EmptyReveal();

    /// @dev {reveal} was called with more than {MAX_RECORDS_PER_REVEAL} records; split the batch.
    /// @param count The number of records given.
    /// @param max The limit, {MAX_RECORDS_PER_REVEAL}.
    error TooManyRecords(uint256 count, uint256 max);

    /// @dev A revealed record names a meter the tenant does not have (zero, or above the tenant's meter count).
    /// @param index Position of the offending record in the reveal.
    /// @param meterId The meter id decoded from its `packed` word.
    error UnknownMeter(uint256 index, uint32 meterId);

    /// @dev A revealed record's period is empty or reversed (`periodStart >= periodEnd`).
    /// @param index Position of the offending record in the reveal.
    /// @param periodStart The decoded period start, in Unix seconds.
    /// @param periodEnd The decoded period end, in Unix seconds.
    error InvalidPeriod(uint256 index, uint40 periodStart, uint40 periodEnd);

    /// @dev A revealed record's period ends after the reveal's block timestamp: usage can't be
    ///      recorded before it happened.
    /// @param index Position of the offending record in the reveal.
    /// @param periodEnd The decoded period end, in Unix seconds.
    error PeriodInFuture(uint256 index, uint40 periodEnd);

    /// @dev A revealed record has quantity zero, which would be a record that bills nothing.
    /// @param index Position of the offending record in the reveal.
    error ZeroQuantity(uint256 index);

    /// @dev A revealed record's sequence is not above the previous one: the record before it in the
    ///      batch or, for the first record, the reporter's high-water mark for the tenant. This is what
    ///      makes every record count at most once, whatever the salt.
    /// @param index Position of the offending record in the reveal.
    /// @param sequence The decoded sequence.
    /// @param previous The sequence it had to exceed.
    error SequenceNotIncreasing(uint256 index, uint64 sequence, uint64 previous);

    // --------------------------------------------------------------- events

    /// @dev Emitted by {pause}, right after OpenZeppelin's `Paused(account)`, to put the pauser's stated
    ///      reason on chain. The indexer derives no rows from it; the chain audit reports the last
    ///      reason next to the pause state so an incident log shows who stopped the system and why.
    /// @param account The pauser (the same account as in `Paused`).
    /// @param reason Free text given by the pauser.
    event PauseReason(address indexed account, string reason);

    /// @dev Emitted by {registerTenant}. Every later event names the tenant by `tenantId` only, so an
    ///      indexer needs this event to map the on-chain id to the off-chain tenant (by `name`).
    /// @param tenantId The tenant's new id (from 1, in registration order).
    /// @param name The tenant's unique, non-zero name. Indexed as the value itself (a `bytes32`), so
    ///        logs can be filtered by name.
    event TenantRegistered(uint32 indexed tenantId, bytes32 indexed name);

    /// @dev Emitted by {registerMeter}. Revealed records carry only the meter id; an indexer or
    ///      verifier needs this event to turn it into the named meter that plans are priced by.
    /// @param tenantId The tenant the meter belongs to.
    /// @param meterId The meter's new id within the tenant (from 1, in registration order).
    /// @param name The meter's name, unique within the tenant.
    event MeterRegistered(uint32 indexed tenantId, uint32 indexed meterId, bytes32 name);

    /// @dev Emitted by {authorizeReporter}: from this event on, `reporter` may commit and reveal for
    ///      `tenantId`. With {ReporterRevoked} it lets an indexer reconstruct who could report for a
    ///      tenant at any block.
    /// @param tenantId The tenant.
    /// @param reporter The reporter authorized.
    event ReporterAuthorized(uint32 indexed tenantId, address indexed reporter);

    /// @dev Emitted by {revokeReporter}: from this event on, `reporter` can neither commit nor reveal for
    ///      `tenantId`, including commitments it made before (unless it is re-authorized inside their
    ///      window, they lapse and can be expired).
    /// @param tenantId The tenant.
    /// @param reporter The reporter revoked.
    event ReporterRevoked(uint32 indexed tenantId, address indexed reporter);

    /// @dev Emitted by {commit} and {commitWithSignature}. The event's block is the commit block the
    ///      reveal window is counted from. A (reporter, commitment) pair can be committed again after it
    ///      lapsed or was expired, so an indexer resolves each {UsageRevealed} or {CommitmentExpired} to
    ///      the latest `Committed` of the pair before it.
    /// @param tenantId The tenant the commitment is for.
    /// @param reporter The reporter bound by the commitment (the signer, for {commitWithSignature}).
    /// @param commitment The {commitmentHash} of the batch that will be revealed.
    /// @param relayer The account that submitted the transaction: equal to `reporter` for a direct
    ///        {commit}, the submitter for {commitWithSignature}. Audits use it to see who relays for whom.
    event Committed(uint32 indexed tenantId, address indexed reporter, bytes32 indexed commitment, address relayer);

    /// @dev Emitted by {reveal}: the billable facts. Every record passed the reveal's checks (known
    ///      meter, non-empty period ended by the block's timestamp, non-zero quantity, sequence strictly
    ///      above the reporter's previous ones), so (`tenantId`, `reporter`, sequence) identifies a
    ///      record across the deployment and no record is ever emitted twice. A verifier re-reads
    ///      records from this event in the transaction receipt (tx hash, log index, record index) to
    ///      check an invoice line against the chain alone.
    /// @param tenantId The tenant the usage is for.
    /// @param reporter The reporter that committed the records.
    /// @param commitment The commitment revealed; ties the records to their {Committed} event.
    /// @param records Every record of the reveal, in order. The data is exactly the canonical
    ///        `abi.encode(records)`; decode `packed` with {decodeRecord} or {UsageRecordCodec}.
    event UsageRevealed(
        uint32 indexed tenantId,
        address indexed reporter,
        bytes32 indexed commitment,
        PackedRecord[] records
    );

    /// @dev A commitment passed its window unrevealed: usage was committed to and then withheld, which
    ///      is a way to under-report, so audits must see it. Emitted by {expire}, and by {commit} or
    ///      {commitWithSignature} when the same reporter commits the same commitment again after it
    ///      lapsed (just before that commit's {Committed}). A lapsed commitment that is neither expired
    ///      nor committed again emits nothing: an indexer should treat a `Committed` unresolved after
    ///      its window as lapsed too.
    /// @param tenantId The tenant the lapsed commitment was committed under.
    /// @param reporter The commitment's reporter.
    /// @param commitment The lapsed commitment.
    event CommitmentExpired(uint32 indexed tenantId, address indexed reporter, bytes32 indexed commitment);

    // ------------------------------------------------------------ constants

    /// @notice The role that may {pause}. Only the default admin may {unpause}.
    /// @return The role id, `keccak256("PAUSER_ROLE")`.
    // solhint-disable-next-line func-name-mixedcase
    function PAUSER_ROLE() external view returns (bytes32);

    /// @notice The role that registers tenants and meters and authorizes and revokes reporters.
    /// @return The role id, `keccak256("TENANT_MANAGER_ROLE")`.
    // solhint-disable-next-line func-name-mixedcase
    function TENANT_MANAGER_ROLE() external view returns (bytes32);

    /// @notice The most records one {reveal} accepts.
    /// @return The limit (1,000 records cost about 2.7M gas, a sixth of the 16,777,216 per-transaction
    ///         gas cap, leaving room for calldata-heavy refs).
    // solhint-disable-next-line func-name-mixedcase
    function MAX_RECORDS_PER_REVEAL() external view returns (uint256);

    /// @notice The EIP-712 type hash of the message a reporter signs for {commitWithSignature}.
    /// @return `keccak256("Commit(address reporter,uint32 tenantId,bytes32 commitment,uint256 nonce,uint256 deadline)")`.
    // solhint-disable-next-line func-name-mixedcase
    function COMMIT_TYPEHASH() external view returns (bytes32);

    /// @notice Blocks a commitment must age before it can be revealed.
    /// @return The delay, at least 1 so a commitment and its reveal never share a block. Fixed at deployment.
    // solhint-disable-next-line func-name-mixedcase
    function MIN_REVEAL_DELAY() external view returns (uint32);

    /// @notice Blocks after which an unrevealed commitment can no longer be revealed and may be expired.
    /// @return The delay, greater than {MIN_REVEAL_DELAY}. Fixed at deployment, so no role can shorten
    ///         it to expire others' work.
    // solhint-disable-next-line func-name-mixedcase
    function MAX_REVEAL_DELAY() external view returns (uint32);

    /// @notice The EIP-712 domain separator of this deployment (name "UsageMeter", version "1").
    /// @return The separator the {commitWithSignature} digest is built with.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    // ---------------------------------------------------------------- pause

    /// @notice Stops every state-changing entry point except role administration, {revokeReporter}
    ///         and {unpause}, and records why.
    /// @dev Requires {PAUSER_ROLE} and the contract not paused. Emits `Paused` and {PauseReason}.
    /// @param reason Free text recorded on chain for the incident log.
    function pause(string calldata reason) external;

    /// @notice Resumes the system.
    /// @dev Requires the default admin role (not {PAUSER_ROLE}: a compromised pauser key can at worst
    ///      stop the system, never restart it mid-incident) and the contract paused. Emits `Unpaused`.
    function unpause() external;

    // -------------------------------------------------------------- tenants

    /// @notice Registers a tenant under a unique non-zero name.
    /// @dev Requires {TENANT_MANAGER_ROLE}, not paused. Emits {TenantRegistered}.
    /// @param name The tenant's name.
    /// @return tenantId The tenant's new id: {tenantCount} after the call (ids run from 1).
    function registerTenant(bytes32 name) external returns (uint32 tenantId);

    /// @notice Registers a meter of a tenant under a name unique within the tenant.
    /// @dev Requires {TENANT_MANAGER_ROLE}, not paused. Emits {MeterRegistered}.
    /// @param tenantId An existing tenant.
    /// @param name The meter's non-zero name.
    /// @return meterId The meter's new id within the tenant (ids run from 1); records name meters by it.
    function registerMeter(uint32 tenantId, bytes32 name) external returns (uint32 meterId);

    /// @notice Lets `reporter` commit and reveal usage for `tenantId`. Its sequence high-water mark is
    ///         kept across revocation, so re-authorizing never reopens old sequence numbers.
    /// @dev Requires {TENANT_MANAGER_ROLE}, not paused. Emits {ReporterAuthorized}.
    /// @param tenantId An existing tenant.
    /// @param reporter The reporter's address (an EOA or an ERC-1271 wallet; not zero).
    function authorizeReporter(uint32 tenantId, address reporter) external;

    /// @notice Stops `reporter` from committing or revealing for `tenantId`, including commitments it
    ///         already made (the response to a compromised reporter key).
    /// @dev Requires {TENANT_MANAGER_ROLE}. Allowed while paused, like role administration: it only
    ///      removes privilege, and revoking a leaked reporter key is part of handling the incident the
    ///      pause is for. Emits {ReporterRevoked}.
    /// @param tenantId The tenant.
    /// @param reporter A reporter currently authorized for the tenant.
    function revokeReporter(uint32 tenantId, address reporter) external;

    // ------------------------------------------------------- commit-reveal

    /// @notice Commits to a batch of usage records for `tenantId`, with the caller as reporter.
    /// @dev Requires the caller authorized for `tenantId`, not paused. Emits {Committed} (preceded by
    ///      {CommitmentExpired} when it re-commits a lapsed commitment of the caller).
    /// @param tenantId The tenant the records are for.
    /// @param commitment The {commitmentHash} of the records that will be revealed (not zero).
    function commit(uint32 tenantId, bytes32 commitment) external;

    /// @notice Submits a commit that `reporter` signed with EIP-712 (an EOA's signature or one an
    ///         ERC-1271 wallet accepts). Consumes the reporter's current nonce, so a signature is used
    ///         at most once; any account may submit it.
    /// @dev Requires `reporter` authorized for `tenantId`, not paused. Emits {Committed} with the
    ///      submitter as relayer (preceded by {CommitmentExpired} when it re-commits a lapsed commitment).
    /// @param reporter The signer, bound by the commitment.
    /// @param tenantId The tenant the records are for.
    /// @param commitment The {commitmentHash} of the records that will be revealed (not zero).
    /// @param deadline Unix time after which the signature is void.
    /// @param signature Over `Commit(reporter, tenantId, commitment, nonces(reporter), deadline)` (see
    ///        {COMMIT_TYPEHASH}, {DOMAIN_SEPARATOR}).
    function commitWithSignature(
        address reporter,
        uint32 tenantId,
        bytes32 commitment,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Reveals the records behind a pending commitment of `reporter` and records them as
    ///         usage. Anyone may submit the reveal: the commitment binds the reporter.
    /// @dev Requires the commitment pending under `tenantId` and inside its window, `reporter` still
    ///      authorized, not paused. Emits {UsageRevealed}; the commitment becomes `Revealed`.
    /// @param tenantId The tenant the commitment was made for.
    /// @param reporter The reporter that committed.
    /// @param salt The 32-byte salt used in the commitment.
    /// @param records 1 to {MAX_RECORDS_PER_REVEAL} records, exactly as committed, for meters of
    ///        `tenantId`, with strictly increasing sequence numbers above the reporter's high-water mark.
    function reveal(uint32 tenantId, address reporter, bytes32 salt, PackedRecord[] calldata records) external;

    /// @notice Marks a commitment that passed its window unrevealed as expired. Anyone may call it: a
    ///         withheld reveal is a way to under-report, and audits must see it.
    /// @dev Requires the commitment `Committed` and lapsed, not paused. Emits {CommitmentExpired}.
    /// @param reporter The commitment's reporter.
    /// @param commitment The lapsed commitment.
    function expire(address reporter, bytes32 commitment) external;

    // ---------------------------------------------------------------- views

    /// @notice The commitment `reporter` must commit for `records` under `salt`.
    /// @dev `keccak256(abi.encode(block.chainid, address(this), reporter, tenantId, salt, records))`:
    ///      `abi.encode` (never `encodePacked`) over the chain id and this contract, so a commitment
    ///      can't be replayed on another chain or deployment.
    /// @param reporter The reporter that will commit.
    /// @param tenantId The tenant the records are for.
    /// @param salt A fresh 32-byte secret that keeps the commitment from revealing the records early.
    /// @param records The records, in the order they will be revealed.
    /// @return The commitment.
    function commitmentHash(
        address reporter,
        uint32 tenantId,
        bytes32 salt,
        PackedRecord[] calldata records
    ) external view returns (bytes32);

    /// @notice A commitment's status, tenant and commit block.
    /// @param reporter The commitment's reporter.
    /// @param commitment The commitment.
    /// @return status Its {CommitmentStatus}; `Committed` also after the window, until expired or committed again.
    /// @return tenantId The tenant it was (last) committed under; 0 if never committed.
    /// @return committedAt The block it was (last) committed in; its window runs from
    ///         `committedAt + MIN_REVEAL_DELAY` to `committedAt + MAX_REVEAL_DELAY`.
    function getCommitment(
        address reporter,
        bytes32 commitment
    ) external view returns (CommitmentStatus status, uint32 tenantId, uint64 committedAt);

    /// @notice Whether `reporter` may report for `tenantId`, and its sequence high-water mark.
    /// @param tenantId The tenant.
    /// @param reporter The reporter.
    /// @return authorized Whether it may currently commit and reveal for the tenant.
    /// @return lastSequence The highest sequence it has revealed for the tenant (0 if none); its next
    ///         record must carry a greater one.
    function getReporter(uint32 tenantId, address reporter) external view returns (bool authorized, uint64 lastSequence);

    /// @notice A tenant's name and number of meters.
    /// @param tenantId The tenant.
    /// @return name The tenant's name; zero if the tenant does not exist.
    /// @return meterCount Its number of meters; meter ids run from 1 to this number.
    function getTenant(uint32 tenantId) external view returns (bytes32 name, uint32 meterCount);

    /// @notice Number of registered tenants.
    /// @return The count; tenant ids run from 1 to this number.
    function tenantCount() external view returns (uint32);

    /// @notice Id of the tenant registered under `name`.
    /// @param name The tenant's name.
    /// @return The tenant's id, or 0 if no tenant has this name.
    function tenantIdByName(bytes32 name) external view returns (uint32);

    /// @notice Id of a tenant's meter registered under `name`.
    /// @param tenantId The tenant.
    /// @param name The meter's name.
    /// @return The meter's id, or 0 if the tenant has no meter of this name.
    function meterIdByName(uint32 tenantId, bytes32 name) external view returns (uint32);

    /// @notice Decodes a record's packed word; clients use it to check their own encoder.
    /// @param packed A {PackedRecord}'s `packed` word.
    /// @return meterId The meter, within the record's tenant.
    /// @return periodStart Start of the usage period, in Unix seconds.
    /// @return periodEnd End of the usage period, in Unix seconds.
    /// @return sequence The reporter's sequence number of the record.
    /// @return quantity The quantity used, in the meter's unit.
    function decodeRecord(
        uint256 packed
    ) external pure returns (uint32 meterId, uint40 periodStart, uint40 periodEnd, uint64 sequence, uint80 quantity);

    /// @notice Packs record fields into the word {reveal} expects.
    /// @param meterId The meter, within the record's tenant.
    /// @param periodStart Start of the usage period, in Unix seconds.
    /// @param periodEnd End of the usage period, in Unix seconds.
    /// @param sequence The reporter's sequence number of the record.
    /// @param quantity The quantity used, in the meter's unit.
    /// @return The packed word, for a {PackedRecord}'s `packed`.
    function encodeRecord(
        uint32 meterId,
        uint40 periodStart,
        uint40 periodEnd,
        uint64 sequence,
        uint80 quantity
    ) external pure returns (uint256);
}
