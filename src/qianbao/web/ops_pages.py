"""The ops console's work pages for wallets (issue 5): the KYC review queue, the tiers-and-limits policy
and the wallet look-up with the operator's actions. One router for app.py; each area has its module:

    qianbao.web.ops_kyc        /ops/kyc...              review real-name submissions
    qianbao.web.ops_tiers      /ops/config...           tiers and limits, confirmation caps, minimum age
    qianbao.web.ops_wallets    /ops/wallets...          look-up, downgrade, freeze, unfreeze
    qianbao.web.ops_billers    /ops/config/billers...   billers offered, the withholding agreement maxima
    qianbao.web.ops_dashboard  figures for /ops         (the page itself is qianbao.web.pages.ops_dashboard)

Access (qianbao.access): every page reads with "ops.read" (operators and auditors); deciding a review
needs "ops.kyc", changing policy "ops.config", downgrading and freezing "ops.freeze" — operators only, so
auditors see no forms and are refused (403 FORBIDDEN) on every POST. Tellers and supervisors reach none of it.
"""

from __future__ import annotations

from fastapi import APIRouter

from qianbao.web import ops_billers, ops_kyc, ops_tiers, ops_wallets

router = APIRouter(include_in_schema=False)
router.include_router(ops_kyc.router)
router.include_router(ops_tiers.router)
router.include_router(ops_wallets.router)
router.include_router(ops_billers.router)
