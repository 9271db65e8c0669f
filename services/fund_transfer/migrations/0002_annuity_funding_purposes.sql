-- Two more purposes of transfer requests from occupational_annuity (CONTRACTS.md,
-- transfer.notices): 做实, the treasury funding members' notional balances, and 补记, the
-- treasury funding a back-credit. Both move money from the entity's special account to the
-- region's annuity collection account, like a top-up.
ALTER TABLE transfer_request DROP CONSTRAINT transfer_request_purpose_check;
ALTER TABLE transfer_request ADD CONSTRAINT transfer_request_purpose_check
    CHECK (purpose IN ('annuity_remittance', 'annuity_interest_topup',
                       'annuity_notional_funding', 'annuity_backcredit'));

ALTER TABLE notice DROP CONSTRAINT notice_purpose_check;
ALTER TABLE notice ADD CONSTRAINT notice_purpose_check
    CHECK (purpose IN ('subsidy_forwarding', 'annuity_remittance', 'annuity_interest_topup',
                       'annuity_notional_funding', 'annuity_backcredit'));
