// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {UsageRecordCodec} from "./lib/UsageRecordCodec.sol";
import {IUsageMeter} from "./IUsageMeter.sol";

/// @title UsageMeter
/// @notice Records tenants' usage on chain through commit-reveal.
/// @dev A reporter first commits `keccak256(abi.encode(chainid, this, reporter, tenantId, salt, records))`
///      and reveals the records at least `MIN_REVEAL_DELAY` and at most `MAX_REVEAL_DELAY` blocks later.
///      Sequence numbers strictly increase per (tenant, reporter), so usage can be counted at most once
///      whatever the salt. Commits may be relayed with an EIP-712 signature (ERC-1271 wallets included);
///      reveals may be relayed by anyone because the commitment already binds the reporter.
///      While paused, every state-changing entry point is blocked except role administration,
///      reporter revocation (both only remove privilege) and unpause.
///      {multicall} lets a live reporter pipeline `reveal(batch k)` and `commit(batch k+1)` in one
///      transaction; each inner call keeps its own pause and role checks.
contract UsageMeter is IUsageMeter, AccessControlDefaultAdminRules, Pausable, EIP712, Nonces, Multicall {
    // ---------------------------------------------------------------- types

    // {PackedRecord} and {CommitmentStatus} are declared in {IUsageMeter}: they appear in its API.

    /// @dev One storage slot: everything reveal and expiry need.
    struct Commitment {
        uint64 committedAt; // block number
        uint32 tenantId;
        CommitmentStatus status;
    }

    /// @dev One storage slot per (tenant, reporter). `knownMeterCount` caches the tenant's meter
    ///      count (meters are never removed, so a cached count is a lower bound): a reveal whose
    ///      meters are all below it does not read the tenant's slot. The cache is refreshed for free
    ///      on the reveal that has to write this slot anyway.
    struct ReporterState {
        bool authorized;
        uint64 lastSequence;
        uint32 knownMeterCount;
    }

    /// @dev One storage slot per tenant: its name (zero: no such tenant) and meter count.
    struct Tenant {
        bytes32 name;
        uint32 meterCount;
    }

    // ------------------------------------------------------------ constants

    /// @inheritdoc IUsageMeter
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @inheritdoc IUsageMeter
    bytes32 public constant TENANT_MANAGER_ROLE = keccak256("TENANT_MANAGER_ROLE");

    /// @inheritdoc IUsageMeter
    uint256 public constant MAX_RECORDS_PER_REVEAL = 1000;

    /// @inheritdoc IUsageMeter
    bytes32 public constant COMMIT_TYPEHASH =
        keccak256("Commit(address reporter,uint32 tenantId,bytes32 commitment,uint256 nonce,uint256 deadline)");

    /// @inheritdoc IUsageMeter
    uint32 public immutable MIN_REVEAL_DELAY;
    /// @inheritdoc IUsageMeter
    uint32 public immutable MAX_REVEAL_DELAY;

    // -------------------------------------------------------------- storage

    uint32 private _tenantCount;
    mapping(uint32 tenantId => Tenant) private _tenants;
    mapping(bytes32 name => uint32 tenantId) private _tenantIdByName;
    mapping(uint32 tenantId => mapping(bytes32 name => uint32 meterId)) private _meterIdByName;
    mapping(uint32 tenantId => mapping(address reporter => ReporterState)) private _reporters;
    mapping(address reporter => mapping(bytes32 commitment => Commitment)) private _commitments;

    // Events and custom errors are declared, and documented, in {IUsageMeter}.

    // ---------------------------------------------------------- constructor

    /// @notice Deploys the meter with `admin` as default admin and a fixed reveal window.
    /// @param adminDelay Delay (seconds) of a default-admin transfer; the admin is meant to be a multisig.
    /// @param admin Initial default admin.
    /// @param minRevealDelay See {MIN_REVEAL_DELAY}.
    /// @param maxRevealDelay See {MAX_REVEAL_DELAY}.
    constructor(
        uint48 adminDelay,
        address admin,
        uint32 minRevealDelay,
        uint32 maxRevealDelay
    ) AccessControlDefaultAdminRules(adminDelay, admin) EIP712("UsageMeter", "1") {
        if (minRevealDelay == 0 || maxRevealDelay <= minRevealDelay) {
            revert InvalidRevealWindow(minRevealDelay, maxRevealDelay);
        }
        MIN_REVEAL_DELAY = minRevealDelay;
        MAX_REVEAL_DELAY = maxRevealDelay;
    }

    // ---------------------------------------------------------------- pause

    /// @inheritdoc IUsageMeter
    function pause(string calldata reason) external onlyRole(PAUSER_ROLE) {
        _pause();
        emit PauseReason(_msgSender(), reason);
    }

    /// @inheritdoc IUsageMeter
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // -------------------------------------------------------------- tenants

    /// @inheritdoc IUsageMeter
    function registerTenant(bytes32 name) external onlyRole(TENANT_MANAGER_ROLE) whenNotPaused returns (uint32 tenantId) {
        if (name == bytes32(0)) revert InvalidName();
        uint32 existing = _tenantIdByName[name];
        if (existing != 0) revert TenantNameTaken(name, existing);
        tenantId = ++_tenantCount;
        _tenants[tenantId].name = name;
        _tenantIdByName[name] = tenantId;
        emit TenantRegistered(tenantId, name);
    }

    /// @inheritdoc IUsageMeter
    function registerMeter(uint32 tenantId, bytes32 name) external onlyRole(TENANT_MANAGER_ROLE) whenNotPaused returns (uint32 meterId) {
        Tenant storage tenant = _requireTenant(tenantId);
        if (name == bytes32(0)) revert InvalidName();
        uint32 existing = _meterIdByName[tenantId][name];
        if (existing != 0) revert MeterNameTaken(tenantId, name, existing);
        meterId = ++tenant.meterCount;
        _meterIdByName[tenantId][name] = meterId;
        emit MeterRegistered(tenantId, meterId, name);
    }

    /// @inheritdoc IUsageMeter
    function authorizeReporter(uint32 tenantId, address reporter) external onlyRole(TENANT_MANAGER_ROLE) whenNotPaused {
        Tenant storage tenant = _requireTenant(tenantId);
        if (reporter == address(0)) revert InvalidReporter(reporter);
        ReporterState storage state = _reporters[tenantId][reporter];
        if (state.authorized) revert ReporterAlreadyAuthorized(tenantId, reporter);
        state.authorized = true;
        state.knownMeterCount = tenant.meterCount;
        emit ReporterAuthorized(tenantId, reporter);
    }

    /// @inheritdoc IUsageMeter
    function revokeReporter(uint32 tenantId, address reporter) external onlyRole(TENANT_MANAGER_ROLE) {
        ReporterState storage state = _reporters[tenantId][reporter];
        if (!state.authorized) revert ReporterNotAuthorized(tenantId, reporter);
        state.authorized = false;
        emit ReporterRevoked(tenantId, reporter);
    }

    // --------------------------------------------------------------- commit

    /// @inheritdoc IUsageMeter
    function commit(uint32 tenantId, bytes32 commitment) external whenNotPaused {
        _commit(_msgSender(), tenantId, commitment);
    }

    /// @inheritdoc IUsageMeter
    function commitWithSignature(
        address reporter,
        uint32 tenantId,
        bytes32 commitment,
        uint256 deadline,
        bytes calldata signature
    ) external whenNotPaused {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(COMMIT_TYPEHASH, reporter, tenantId, commitment, _useNonce(reporter), deadline))
        );
        if (!SignatureChecker.isValidSignatureNowCalldata(reporter, digest, signature)) {
            revert InvalidSignature(reporter);
        }
        _commit(reporter, tenantId, commitment);
    }

    // --------------------------------------------------------------- reveal

    /// @inheritdoc IUsageMeter
    function reveal(
        uint32 tenantId,
        address reporter,
        bytes32 salt,
        PackedRecord[] calldata records
    ) external whenNotPaused {
        uint256 count = records.length;
        if (count == 0) revert EmptyReveal();
        if (count > MAX_RECORDS_PER_REVEAL) revert TooManyRecords(count, MAX_RECORDS_PER_REVEAL);

        (bytes32 commitment, uint256 preimage) = _hashRecords(reporter, tenantId, salt, records);
        Commitment storage c = _commitments[reporter][commitment];
        _requireRevealable(c, reporter, tenantId, commitment);

        ReporterState storage state = _reporters[tenantId][reporter];
        ReporterState memory s = state;
        if (!s.authorized) revert ReporterNotAuthorized(tenantId, reporter);
        (uint64 lastSequence, uint32 meterCount) = _validateRecords(tenantId, records, s);

        // Effects: tombstone the commitment, then one write of the high-water mark for the batch.
        c.status = CommitmentStatus.Revealed;
        state.lastSequence = lastSequence;
        if (meterCount != s.knownMeterCount) state.knownMeterCount = meterCount;
        _emitUsageRevealed(tenantId, reporter, commitment, preimage, count);
    }

    // --------------------------------------------------------------- expiry

    /// @inheritdoc IUsageMeter
    function expire(address reporter, bytes32 commitment) external whenNotPaused {
        Commitment storage c = _commitments[reporter][commitment];
        if (c.status != CommitmentStatus.Committed) revert CommitmentNotFound(reporter, commitment);
        uint64 lastRevealBlock = c.committedAt + MAX_REVEAL_DELAY;
        if (block.number <= lastRevealBlock) revert CommitmentNotExpired(commitment, lastRevealBlock);
        c.status = CommitmentStatus.Expired;
        emit CommitmentExpired(c.tenantId, reporter, commitment);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IUsageMeter
    function commitmentHash(
        address reporter,
        uint32 tenantId,
        bytes32 salt,
        PackedRecord[] calldata records
    ) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), reporter, tenantId, salt, records));
    }

    /// @inheritdoc IUsageMeter
    function getCommitment(
        address reporter,
        bytes32 commitment
    ) external view returns (CommitmentStatus status, uint32 tenantId, uint64 committedAt) {
        Commitment memory c = _commitments[reporter][commitment];
        return (c.status, c.tenantId, c.committedAt);
    }

    /// @inheritdoc IUsageMeter
    function getReporter(uint32 tenantId, address reporter) external view returns (bool authorized, uint64 lastSequence) {
        ReporterState memory s = _reporters[tenantId][reporter];
        return (s.authorized, s.lastSequence);
    }

    /// @inheritdoc IUsageMeter
    function getTenant(uint32 tenantId) external view returns (bytes32 name, uint32 meterCount) {
        Tenant memory t = _tenants[tenantId];
        return (t.name, t.meterCount);
    }

    /// @inheritdoc IUsageMeter
    function tenantCount() external view returns (uint32) {
        return _tenantCount;
    }

    /// @inheritdoc IUsageMeter
    function tenantIdByName(bytes32 name) external view returns (uint32) {
        return _tenantIdByName[name];
    }

    /// @inheritdoc IUsageMeter
    function meterIdByName(uint32 tenantId, bytes32 name) external view returns (uint32) {
        return _meterIdByName[tenantId][name];
    }

    /// @inheritdoc IUsageMeter
    function decodeRecord(
        uint256 packed
    ) external pure returns (uint32 meterId, uint40 periodStart, uint40 periodEnd, uint64 sequence, uint80 quantity) {
        UsageRecordCodec.Fields memory f = UsageRecordCodec.decode(packed);
        return (f.meterId, f.periodStart, f.periodEnd, f.sequence, f.quantity);
    }

    /// @inheritdoc IUsageMeter
    function encodeRecord(
        uint32 meterId,
        uint40 periodStart,
        uint40 periodEnd,
        uint64 sequence,
        uint80 quantity
    ) external pure returns (uint256) {
        return UsageRecordCodec.encode(UsageRecordCodec.Fields(meterId, periodStart, periodEnd, sequence, quantity));
    }

    /// @inheritdoc IUsageMeter
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------ internals

    /// @dev Records `commitment` as `reporter`'s pending commitment for `tenantId` (see {commit}); the
    ///      relayer in {Committed} is the caller.
    function _commit(address reporter, uint32 tenantId, bytes32 commitment) private {
        if (commitment == bytes32(0)) revert InvalidCommitment();
        if (!_reporters[tenantId][reporter].authorized) revert ReporterNotAuthorized(tenantId, reporter);
        Commitment storage c = _commitments[reporter][commitment];
        CommitmentStatus status = c.status;
        if (status == CommitmentStatus.Revealed) revert CommitmentAlreadyRevealed(reporter, commitment);
        if (status == CommitmentStatus.Committed) {
            uint64 lastRevealBlock = c.committedAt + MAX_REVEAL_DELAY;
            if (block.number <= lastRevealBlock) revert CommitmentPending(reporter, commitment, lastRevealBlock);
            // Overwriting a lapsed commitment still records that its reveal was withheld.
            emit CommitmentExpired(c.tenantId, reporter, commitment);
        }
        c.committedAt = uint64(block.number);
        c.tenantId = tenantId;
        c.status = CommitmentStatus.Committed;
        emit Committed(tenantId, reporter, commitment, _msgSender());
    }

    /// @dev Same value as {commitmentHash}, built with a single calldata copy that {_emitUsageRevealed}
    ///      reuses: `abi.encode(chainid, this, reporter, tenantId, salt, records)` is six head words
    ///      followed by `records.length` and the records verbatim (PackedRecord is two static words,
    ///      every bit pattern valid), and the event's data `abi.encode(records)` is that tail behind a
    ///      0x20 offset. The region is allocated (free memory pointer advanced) so later allocations
    ///      cannot overwrite it. test/contracts checks equality with {commitmentHash} on random inputs.
    function _hashRecords(
        address reporter,
        uint32 tenantId,
        bytes32 salt,
        PackedRecord[] calldata records
    ) private view returns (bytes32 commitment, uint256 preimage) {
        assembly ("memory-safe") {
            preimage := mload(0x40)
            let size := add(0xe0, mul(records.length, 0x40))
            mstore(preimage, chainid())
            mstore(add(preimage, 0x20), address())
            mstore(add(preimage, 0x40), reporter)
            mstore(add(preimage, 0x60), tenantId)
            mstore(add(preimage, 0x80), salt)
            mstore(add(preimage, 0xa0), 0xc0)
            mstore(add(preimage, 0xc0), records.length)
            calldatacopy(add(preimage, 0xe0), records.offset, mul(records.length, 0x40))
            commitment := keccak256(preimage, size)
            mstore(0x40, add(preimage, size))
        }
    }

    /// @dev Emits {UsageRevealed} from the preimage {_hashRecords} allocated, rewriting the array
    ///      offset word to 0x20 so the data is exactly `abi.encode(records)`.
    function _emitUsageRevealed(
        uint32 tenantId,
        address reporter,
        bytes32 commitment,
        uint256 preimage,
        uint256 count
    ) private {
        bytes32 topic0 = UsageRevealed.selector;
        assembly ("memory-safe") {
            let data := add(preimage, 0xa0)
            mstore(data, 0x20)
            log4(data, add(0x40, mul(count, 0x40)), topic0, tenantId, reporter, commitment)
        }
    }

    /// @dev Checks every record and returns the batch's last sequence and the tenant's meter count
    ///      as known after the batch (see {ReporterState}).
    function _validateRecords(
        uint32 tenantId,
        PackedRecord[] calldata records,
        ReporterState memory s
    ) private view returns (uint64 previous, uint32 meterCount) {
        previous = s.lastSequence;
        meterCount = s.knownMeterCount;
        uint256 count = records.length;
        for (uint256 i; i < count; ++i) {
            (uint32 meterId, uint40 periodStart, uint40 periodEnd, uint64 sequence, uint80 quantity) = UsageRecordCodec
                .unpack(records[i].packed);
            if (meterId == 0 || meterId > meterCount) {
                // Cache miss: the tenant may have registered meters since the cache was filled.
                meterCount = _tenants[tenantId].meterCount;
                if (meterId == 0 || meterId > meterCount) revert UnknownMeter(i, meterId);
            }
            if (periodStart >= periodEnd) revert InvalidPeriod(i, periodStart, periodEnd);
            if (periodEnd > block.timestamp) revert PeriodInFuture(i, periodEnd);
            if (quantity == 0) revert ZeroQuantity(i);
            if (sequence <= previous) revert SequenceNotIncreasing(i, sequence, previous);
            previous = sequence;
        }
    }

    /// @dev Reverts unless `c` is a pending commitment of `tenantId` inside its reveal window.
    function _requireRevealable(
        Commitment storage c,
        address reporter,
        uint32 tenantId,
        bytes32 commitment
    ) private view {
        CommitmentStatus status = c.status;
        if (status == CommitmentStatus.Revealed) revert CommitmentAlreadyRevealed(reporter, commitment);
        if (status != CommitmentStatus.Committed) revert CommitmentNotFound(reporter, commitment);
        if (c.tenantId != tenantId) revert CommitmentTenantMismatch(commitment, c.tenantId, tenantId);
        uint64 committedAt = c.committedAt;
        uint64 revealableAt = committedAt + MIN_REVEAL_DELAY;
        if (block.number < revealableAt) revert RevealTooEarly(commitment, revealableAt);
        uint64 lastRevealBlock = committedAt + MAX_REVEAL_DELAY;
        if (block.number > lastRevealBlock) revert RevealTooLate(commitment, lastRevealBlock);
    }

    /// @dev The tenant's storage; reverts {UnknownTenant} if it does not exist.
    function _requireTenant(uint32 tenantId) private view returns (Tenant storage tenant) {
        tenant = _tenants[tenantId];
        if (tenant.name == bytes32(0)) revert UnknownTenant(tenantId);
    }
}
