"""The console's Chinese wording of the report's sections and columns.

A section or column without a label here (one a later report adds) is shown under its own name,
so a new section of shared/cli/report_model.py appears on the overview without a change here.
"""

from __future__ import annotations

from typing import Final

SECTIONS: Final[dict[str, str]] = {
    "collection": "社会保险费征收（按费款所属期）",
    "subsidies": "地方财政补助上划自治区财政专户",
    "annuity": "职业年金归集与上划",
    "topups": "职业年金补息（投资运营前，全部所属期）",
    "notional": "职业年金记账部分（全部所属期，截至目前）",
    "fundings": "职业年金做实（记账部分拨付）",
    "backcredits": "职业年金补记",
    "budgets": "预算：地方补助预算与拨付（最近一次到期检查）",
    "assessment_collection": "考核：社会保险费征收",
    "assessment_transfer": "考核：地方财政补助上划",
    "assessment_annuity": "考核：职业年金上划与补息",
    "annuity_bases": "年金基数比对：职业年金与基本养老保险缴费基数",
    "enterprise_annuity": "企业年金申报",
}

COLUMNS: Final[dict[str, str]] = {
    "registered": "已登记申报",
    "rejected": "被拒申报",
    "amount_due": "应缴金额",
    "amount_paid": "已缴金额",
    "late_fees": "滞纳金",
    "outstanding": "欠缴金额",
    "obligations": "上划义务",
    "due": "应上划",
    "settled": "已上划",
    "short": "短缺",
    "excess": "多划",
    "open": "未到期未结清",
    "collected": "已归集",
    "notional": "记账部分",
    "requested": "已申请上划",
    "remitted": "已上划",
    "not_requested": "未申请上划",
    "overdue": "逾期未上划",
    "assessments": "核定笔数",
    "assessed": "核定补息",
    "allocated": "已分配",
    "awaiting_funding": "待拨付",
    "credited": "已记账",
    "interest_posted": "已计记账利息",
    "interest_adjusted": "补计利息",
    "funded": "已做实",
    "balance": "记账余额",
    "fundings": "做实笔数",
    "members": "人数",
    "completed": "已完成",
    "backcredits": "补记笔数",
    "budgeted": "月度预算",
    "months_missing": "未拨付月数",
    "months_below": "低于预算月数",
    "appropriated": "已拨付",
    "paid_on_time": "按期缴清",
    "findings_open": "未结基数差异",
    "institution_members": "机关事业单位参保人数",
    "without_annuity": "未参加职业年金人数",
    "in_full": "足额上划",
    "on_time": "按期",
    "days_open": "逾期天数",
    "missing": "未拨付",
    "below_budget": "低于预算",
    "remittances": "上划申请",
    "topups": "补息核定",
    "topups_funded": "补息已拨付",
    "findings": "差异",
    "base_mismatch": "基数不一致",
    "basic_missing": "缺基本养老申报",
    "unresolved": "未消除",
    "resolved": "已消除",
    "payroll": "工资总额",
    "employer": "单位缴费",
    "employee": "个人缴费",
}

SERVICES: Final[dict[str, str]] = {
    "collection": "征收服务 collection",
    "fund_transfer": "资金上划服务 fund_transfer",
    "occupational_annuity": "职业年金服务 occupational_annuity",
}

DEAD_LETTER_REASONS: Final[dict[str, str]] = {
    "NOT_JSON": "不是 JSON",
    "NOT_CLOUDEVENT": "不是 CloudEvent",
    "UNKNOWN_TYPE": "未知事件类型",
    "NO_ENTITY_ID": "缺少实体编号",
    "EMPTY_VALUE": "空记录",
    "TOO_LARGE": "记录过大",
}


def section(key: str, fallback: str) -> str:
    return SECTIONS.get(key, fallback)


def column(name: str) -> str:
    return COLUMNS.get(name, name)
