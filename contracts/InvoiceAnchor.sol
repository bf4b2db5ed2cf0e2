// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IInvoiceAnchor} from "./IInvoiceAnchor.sol";

/// @title InvoiceAnchor
/// @notice The platform's public record of plan versions and billing documents; see {IInvoiceAnchor}.
/// @dev One storage slot per tenant (the head of its document chain); everything else is in events,
///      which is what verifiers read. Roles as in UsageMeter: the default admin (with a transfer
///      delay) grants {BILLER_ROLE} and {PAUSER_ROLE}; only the admin unpauses.
contract InvoiceAnchor is IInvoiceAnchor, AccessControlDefaultAdminRules, Pausable {
    /// @inheritdoc IInvoiceAnchor
    bytes32 public constant BILLER_ROLE = keccak256("BILLER_ROLE");

    /// @inheritdoc IInvoiceAnchor
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @inheritdoc IInvoiceAnchor
    address public immutable usageMeter;

    /// @inheritdoc IInvoiceAnchor
    mapping(uint32 tenantId => bytes32 contentHash) public lastDocument;

    /// @notice Deploys the anchor for `usageMeter_` with `admin` as default admin.
    /// @param adminDelay Delay before an admin transfer takes effect (OpenZeppelin's default admin rules).
    /// @param admin The default admin (a multisig in production).
    /// @param usageMeter_ The UsageMeter whose tenant ids the anchors use.
    constructor(uint48 adminDelay, address admin, address usageMeter_) AccessControlDefaultAdminRules(adminDelay, admin) {
        usageMeter = usageMeter_;
    }

    /// @notice Stops anchoring (e.g. a leaked biller key). Only {PAUSER_ROLE}.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes anchoring. Only the default admin.
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// @inheritdoc IInvoiceAnchor
    function anchorPlan(uint32 tenantId, bytes32 planHash, uint64 effectiveFrom) external onlyRole(BILLER_ROLE) whenNotPaused {
        if (planHash == bytes32(0)) revert ZeroHash();
        if (effectiveFrom <= block.timestamp) revert PlanNotInFuture(effectiveFrom, uint64(block.timestamp));
        emit PlanAnchored(tenantId, planHash, msg.sender, effectiveFrom);
    }

    /// @inheritdoc IInvoiceAnchor
    function anchorDocument(
        uint32 tenantId,
        DocumentKind kind,
        uint64 number,
        uint64 periodStart,
        uint64 periodEnd,
        bytes32 contentHash,
        bytes32 previousHash
    ) external onlyRole(BILLER_ROLE) whenNotPaused {
        if (contentHash == bytes32(0)) revert ZeroHash();
        if (periodStart >= periodEnd) revert InvalidPeriod(periodStart, periodEnd);
        if (periodEnd > block.timestamp) revert PeriodNotEnded(periodEnd, uint64(block.timestamp));
        bytes32 head = lastDocument[tenantId];
        if (previousHash != head) revert NotChainHead(tenantId, head, previousHash);
        lastDocument[tenantId] = contentHash;
        emit DocumentAnchored(tenantId, contentHash, previousHash, kind, number, periodStart, periodEnd, msg.sender);
    }
}
