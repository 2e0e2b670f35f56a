"""English and Simplified Chinese texts, and picking the reader's language.

Order of precedence: `?lang=` in the URL (then remembered in a cookie), the `lang` cookie, the browser's
Accept-Language, English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from explorer.html import Safe, h
from explorer.i18n_chain import CHAIN_MESSAGES
from explorer.i18n_verify import VERIFY_MESSAGES

LANGS = ("en", "zh-CN")
DEFAULT_LANG = "en"

# key -> (English, Chinese). Placeholders are str.format fields; values are escaped by `Texts.fmt`.
_UI_MESSAGES: Mapping[str, tuple[str, str]] = {
    "site_title": ("vaxchain explorer", "vaxchain 疫苗追溯浏览器"),
    "tagline": (
        "Public record of how the district's vaccines move and are kept. No personal data.",
        "公开记录本区疫苗的流通与储存过程，不含任何个人信息。",
    ),
    "nav_home": ("Home", "首页"),
    "nav_lots": ("Lots", "批次"),
    "nav_orgs": ("Organisations", "机构"),
    "nav_alerts": ("Alerts", "警报"),
    "nav_validators": ("Validators", "验证节点"),
    "search_placeholder": (
        "Block height, tx hash, lot number or unit code",
        "区块高度、交易哈希、批号或追溯码",
    ),
    "search_button": ("Search", "搜索"),
    "search_title": ("Search", "搜索"),
    "not_found": ("Not found", "未找到"),
    "not_found_detail": ("Nothing on the chain matches “{q}”.", "链上没有与“{q}”匹配的记录。"),
    "not_found_page": ("There is no {what} “{key}” on the chain.", "链上没有{what}“{key}”。"),
    "search_help": (
        "Try a block height (e.g. 12), a transaction hash (0x…), a lot number, a unit trace code or a scanned "
        "GS1 DataMatrix string (01)(17)(10)(21).",
        "可输入区块高度（如 12）、交易哈希（0x…）、批号、追溯码或扫描的 GS1 DataMatrix 字符串 (01)(17)(10)(21)。",
    ),
    "search_many": ("Several matches for “{q}”", "“{q}”有多个匹配结果"),
    "unavailable": ("The node is not reachable", "无法连接节点"),
    "unavailable_detail": ("Try again in a moment.", "请稍后再试。"),
    "bad_answer_detail": (
        "The node answered data this explorer cannot read; try again later.",
        "节点返回的数据无法读取，请稍后再试。",
    ),
    "error": ("Error", "错误"),
    "bad_request": ("Bad request", "请求有误"),
    # home
    "head_height": ("Head height", "最新高度"),
    "since_last_block": ("Since last block", "距上一区块"),
    "finality": ("Finality", "最终性"),
    "finality_value": ("final up to #{h} (instant BFT)", "已最终确认至 #{h}（BFT 即时最终）"),
    "validators_online": ("Validators online", "在线验证节点"),
    "tps": ("Transactions/s", "每秒交易数"),
    "latest_blocks": ("Latest blocks", "最新区块"),
    "latest_txs": ("Latest transactions", "最新交易"),
    "live_alerts": ("Live alerts", "实时警报"),
    "all_alerts": ("All alerts", "全部警报"),
    "live": ("live", "实时"),
    "seconds_ago": ("{n} s ago", "{n} 秒前"),
    "minutes_ago": ("{n} min ago", "{n} 分钟前"),
    "hours_ago": ("{n} h ago", "{n} 小时前"),
    "days_ago": ("{n} d ago", "{n} 天前"),
    "chain": ("Chain", "链"),
    # blocks and transactions
    "block": ("Block", "区块"),
    "height": ("Height", "高度"),
    "hash": ("Hash", "哈希"),
    "time": ("Time", "时间"),
    "proposer": ("Proposer", "出块者"),
    "txs": ("Transactions", "交易"),
    "tx_count": ("Txs", "交易数"),
    "parent": ("Parent", "父区块"),
    "state_root": ("State root", "状态根"),
    "tx_root": ("Transactions root", "交易根"),
    "receipts_root": ("Receipts root", "回执根"),
    "commit": ("Commit", "提交证明"),
    "prev_block": ("← Previous", "← 上一个"),
    "next_block": ("Next →", "下一个 →"),
    "no_txs": ("No transactions in this block.", "本区块没有交易。"),
    "transaction": ("Transaction", "交易"),
    "kind": ("Kind", "类型"),
    "sender": ("Sender", "发送方"),
    "nonce": ("Nonce", "序号"),
    "status": ("Status", "状态"),
    "in_block": ("In block", "所在区块"),
    "pending": ("pending", "待打包"),
    "receipt": ("Receipt", "回执"),
    "success": ("success", "成功"),
    "failure": ("failed", "失败"),
    "failed_with": ("failed: {e}", "失败：{e}"),
    "events": ("Events", "事件"),
    "what_happened": ("What happened", "发生了什么"),
    "payload": ("Decoded payload", "解码后的内容"),
    "verify": ("Verify", "验证"),
    "verify_title": ("Verify transaction {h}", "验证交易 {h}"),
    "verify_intro": (
        "Everything below is recomputed by this explorer from the node's raw answer: the header hash, the "
        "Merkle paths to the header's roots and the validators' signatures over the header.",
        "以下内容均由本浏览器根据节点原始数据重新计算：区块头哈希、到区块头根的默克尔路径，以及验证节点对区块头的签名。",
    ),
    "check_ok": ("checks out", "验证通过"),
    "check_bad": ("does NOT check out", "验证失败"),
    "all_ok": (
        "All checks pass: this transaction is in a final block.",
        "全部验证通过：该交易位于已最终确认的区块中。",
    ),
    "some_bad": ("Some checks failed.", "部分验证失败。"),
    "chk_header": ("Header hash = SHA-256(header bytes)", "区块头哈希 = SHA-256(区块头字节)"),
    "chk_header_fields": ("Header bytes match the shown header", "区块头字节与显示内容一致"),
    "chk_tx": ("Transaction is in the header's transactions root", "交易包含在区块头的交易根中"),
    "chk_receipt": ("Receipt is in the header's receipts root", "回执包含在区块头的回执根中"),
    "chk_receipt_tx": ("Receipt belongs to this transaction", "回执属于该交易"),
    "chk_commit": ("Commit signatures by the validators", "验证节点的提交签名"),
    "quorum": (
        "{n} of {m} validators signed (more than two thirds needed)",
        "{m} 个验证节点中有 {n} 个签名（需超过三分之二）",
    ),
    "seal": ("sealed by the proposer {v}", "由出块者 {v} 签名封装"),
    "signature_by": ("Signature by", "签名者"),
    "merkle_path": ("Merkle path", "默克尔路径"),
    "leaf": ("Leaf", "叶子"),
    "root": ("Root", "根"),
    "computed": ("computed", "计算值"),
    "index_of": ("leaf {i} of {n}", "第 {i} 个叶子，共 {n} 个"),
    # lots
    "lots_title": ("Vaccine lots", "疫苗批次"),
    "lot": ("Lot", "批次"),
    "product": ("Product", "产品"),
    "manufacturer": ("Manufacturer", "生产企业"),
    "expiry": ("Expiry", "有效期至"),
    "manufactured": ("Manufactured", "生产日期"),
    "units": ("Units", "数量"),
    "held": ("Held", "在库"),
    "in_transit_n": ("In transit", "在途"),
    "administered": ("Vials opened", "已开瓶"),
    "destroyed": ("Destroyed", "已销毁"),
    "quarantined_n": ("Quarantined", "隔离中"),
    "doses_given": ("Doses given", "已接种剂次"),
    "people": ("People vaccinated", "受种人数"),
    "st_active": ("active", "正常"),
    "st_in_transit": ("in transit", "运输中"),
    "st_quarantined": ("quarantined", "隔离"),
    "st_recalled": ("recalled", "已召回"),
    "st_expired": ("expired", "已过期"),
    "recall_reason": ("Recall reason", "召回原因"),
    "custody_path": ("Custody path", "流通路径"),
    "registered_at": ("Registered by {org} into {unit}: {n} units", "{org} 登记入库至 {unit}：{n} 支"),
    "shipped_leg": ("{from_org} shipped {n} units to {to_org}", "{from_org} 向 {to_org} 发运 {n} 支"),
    "via": ("via {v}", "经由 {v}"),
    "received_leg": ("received into {unit}, counted {n}", "已接收至 {unit}，清点 {n} 支"),
    "rejected_leg": ("rejected: {r}", "已拒收：{r}"),
    "in_transit_leg": ("still in transit", "仍在运输中"),
    "temperatures": ("Temperatures", "温度"),
    "temperature_chart": ("Temperature chart", "温度曲线"),
    "chart_for": ("{unit}, {t0} – {t1}", "{unit}，{t0} – {t1}"),
    "no_readings": ("No readings for this period.", "该时段没有温度记录。"),
    "readings_unavailable": (
        "Temperature readings are not available from this node.",
        "该节点无法提供温度记录。",
    ),
    "show_chart": ("temperature chart", "温度曲线"),
    "allowed_band": ("allowed {lo} to {hi} °C", "允许范围 {lo} 至 {hi} °C"),
    "breach": ("breach", "超标"),
    "quarantine_mark": ("quarantine", "隔离"),
    "release_mark": ("release", "放行"),
    "condemn_mark": ("condemned", "判定报废"),
    "doses_per_site": ("Doses given per site", "各接种点接种剂次"),
    "site": ("Site", "接种点"),
    "total": ("Total", "合计"),
    "quarantines": ("Quarantines", "隔离记录"),
    "cause": ("Cause", "原因"),
    "decision": ("Decision", "处理决定"),
    "q_open": ("awaiting decision", "待处理"),
    "q_released": ("released", "已放行"),
    "q_condemned": ("condemned", "已报废"),
    "holders": ("Where it is now", "当前所在"),
    "available": ("Available", "可用"),
    "destructions": ("Destroyed units", "销毁记录"),
    "reason": ("Reason", "原因"),
    "quantity": ("Quantity", "数量"),
    # orgs, units, validators
    "orgs_title": ("Organisations", "机构"),
    "organisation": ("Organisation", "机构"),
    "type": ("Type", "类型"),
    "name": ("Name", "名称"),
    "active": ("Active", "有效"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "admitted_by": ("Admitted by", "准入机构"),
    "storage_units": ("Storage units", "储存设备"),
    "storage_unit": ("Storage unit", "储存设备"),
    "range": ("Allowed range", "允许温度范围"),
    "latest_reading": ("Latest reading", "最新读数"),
    "compliance_7": ("Cold chain OK, 7 days", "7 天冷链合规率"),
    "compliance_30": ("Cold chain OK, 30 days", "30 天冷链合规率"),
    "stock": ("Stock by lot", "按批次库存"),
    "inbound": ("Inbound shipments", "待接收发运"),
    "alerts": ("Alerts", "警报"),
    "no_alerts": ("No alerts.", "暂无警报。"),
    "loggers": ("Loggers", "温度记录仪"),
    "breaches": ("Breaches", "超标事件"),
    "validators_title": ("Validators", "验证节点"),
    "validator": ("Validator", "验证节点"),
    "address": ("Address", "地址"),
    "online": ("online", "在线"),
    "offline": ("not seen recently", "近期未出现"),
    "recent_blocks_proposed": ("Blocks proposed among the latest {n}", "最近 {n} 个区块中由其出块"),
    "signed_latest": ("Signed the latest commit", "签署了最新提交"),
    "unit_code": ("Unit code", "追溯码"),
    "unit_code_title": ("Unit {c}", "单支 {c}"),
    "scheme": ("Scheme", "编码体系"),
    "serial": ("Serial", "序列号"),
    "used": ("Opened for vaccination", "已开瓶使用"),
    "not_used": ("not used yet", "尚未使用"),
    "opened_at": ("opened at {site}, {t}", "于 {site} 开瓶，{t}"),
    "suspect_reports": ("Suspect reports", "可疑报告"),
    "invalid_code": ("Not a valid unit code: {r}", "不是有效的追溯码：{r}"),
    "lot_unknown": ("The lot of this code is not on the chain.", "链上没有该追溯码所属的批次。"),
    "alerts_title": ("Alerts", "警报"),
    "alerts_intro": (
        "Temperature breaches, quarantines, recalls and repeated unit codes, newest first. Runs of out-of-range "
        "samples are grouped.",
        "温度超标、隔离、召回与重复追溯码，最新在前。连续的超范围读数合并显示。",
    ),
    "excursion_run": ("{n} out-of-range samples ({lo} to {hi} °C)", "{n} 个超范围读数（{lo} 至 {hi} °C）"),
    "filter_all": ("All", "全部"),
    "filter_serious": ("Breaches, recalls, suspects", "超标、召回、可疑"),
    "language": ("中文", "English"),
    "footer": (
        "Read-only view served by a vaxchain node. Everything shown is public on the chain; vaccinated people "
        "appear only as counts.",
        "由 vaxchain 节点提供的只读视图。所示内容均为链上公开数据；受种者仅以人数出现。",
    ),
    "js_off": (
        "Live updates need JavaScript; reload to refresh.",
        "实时更新需要 JavaScript；刷新页面即可更新。",
    ),
    # alert kinds
    "ak_temperature_excursion": ("Temperature out of range", "温度超出范围"),
    "ak_heat_breach": ("Heat breach", "高温超标"),
    "ak_freeze_breach": ("Freeze breach", "冻结超标"),
    "ak_strict_breach": ("Strict-range breach", "严格范围超标"),
    "ak_quantity_mismatch": ("Quantity mismatch", "数量不符"),
    "ak_recall": ("Recall", "召回"),
    "ak_suspect_unit": ("Suspect or repeated unit code", "可疑或重复追溯码"),
    "ak_shipment_rejected": ("Shipment rejected", "发运被拒收"),
    "ak_monitoring_gap": ("Logger silent (monitoring gap)", "温度监测中断"),
    "ak_expiry_soon": ("Lot expires soon", "批次即将过期"),
    # org types, storage kinds, causes
    "ot_manufacturer": ("manufacturer", "生产企业"),
    "ot_distributor": ("distributor", "配送企业"),
    "ot_cdc": ("CDC", "疾控中心"),
    "ot_site": ("vaccination site", "接种点"),
    "ot_regulator": ("regulator", "药品监管部门"),
    "ot_health_commission": ("health commission", "卫生健康委"),
    "ot_school": ("school", "学校"),
    "sk_fridge": ("fridge", "冰箱"),
    "sk_freezer": ("freezer", "冰柜"),
    "sk_cold_room": ("cold room", "冷库"),
    "sk_vehicle": ("vehicle", "冷藏车"),
    "qc_heat_breach": ("heat breach", "高温超标"),
    "qc_freeze_breach": ("freeze breach", "冻结超标"),
    "qc_strict_breach": ("strict-range breach", "严格范围超标"),
    "qc_returned": ("returned shipment", "退回发运"),
    "qc_manual": ("isolated by the holder", "持有方主动隔离"),
    "qc_recalled": ("held under a recall", "召回暂控"),
    "qc_unfit_leg": ("received from an unfit leg", "运输温度记录不合格入库隔离"),
    "qc_label_excursion": ("outside the label range too long", "超出说明书储存温度范围超时"),
    "dr_expired": ("expired", "过期"),
    "dr_damaged": ("damaged", "破损"),
    "dr_breach": ("cold-chain breach", "冷链超标"),
    "dr_recalled": ("recalled", "召回"),
    "dr_lost": ("lost in transit", "运输中丢失"),
    "dr_other": ("other", "其他"),
    # plain-words sentences, one per transaction kind
    "s_attest": (
        "{who} anchored the document “{label}” ({media}).",
        "{who} 存证了文件“{label}”（{media}）。",
    ),
    "s_admit_organisation": (
        "{who} admitted {org} ({otype}) as a member.",
        "{who} 准入了 {org}（{otype}）。",
    ),
    "s_set_organisation_status_on": ("{who} reactivated {org}: {reason}", "{who} 恢复了 {org}：{reason}"),
    "s_set_organisation_status_off": ("{who} suspended {org}: {reason}", "{who} 暂停了 {org}：{reason}"),
    "s_set_account_on": ("{who} set account {acct} as {role}.", "{who} 将账户 {acct} 设为{role}。"),
    "s_set_account_off": ("{who} deactivated account {acct}.", "{who} 停用了账户 {acct}。"),
    "s_register_storage_unit": (
        "{who} registered the {kind} “{name}” ({unit}), allowed {lo} to {hi} °C.",
        "{who} 登记了{kind}“{name}”（{unit}），允许温度 {lo} 至 {hi} °C。",
    ),
    "s_set_device_on": (
        "{who} bound logger {serial} to {unit}.",
        "{who} 将温度记录仪 {serial} 绑定到 {unit}。",
    ),
    "s_set_device_off": ("{who} deactivated logger {serial}.", "{who} 停用了温度记录仪 {serial}。"),
    "s_set_node_on": (
        "{who} registered the network node “{name}” ({peer}).",
        "{who} 登记了网络节点“{name}”（{peer}）。",
    ),
    "s_set_node_off": ("{who} removed the network node {peer}.", "{who} 移除了网络节点 {peer}。"),
    "s_register_product": (
        "{who} registered the product {name} ({code}), stored at {lo} to {hi} °C, {doses} dose(s) per vial.",
        "{who} 登记了产品 {name}（{code}），储存温度 {lo} 至 {hi} °C，每瓶 {doses} 剂。",
    ),
    "s_approve_product_on": ("{who} approved the product {code}.", "{who} 批准了产品 {code}。"),
    "s_approve_product_off": (
        "{who} withdrew approval of the product {code}.",
        "{who} 撤销了产品 {code} 的批准。",
    ),
    "s_register_lot": (
        "{who} registered lot {lot}: {n} units, expiring {expiry}, stored in {unit}.",
        "{who} 登记了批次 {lot}：{n} 支，有效期至 {expiry}，存放于 {unit}。",
    ),
    "s_recall_lot": ("{who} recalled lot {lot}: {reason}", "{who} 召回了批次 {lot}：{reason}"),
    "s_ship": (
        "{who} shipped {n} units of lot {lot} from {unit} to {to}.",
        "{who} 将批次 {lot} 的 {n} 支从 {unit} 发往 {to}。",
    ),
    "s_ship_vehicle": (
        "{who} shipped {n} units of lot {lot} from {unit} to {to} by {vehicle}.",
        "{who} 将批次 {lot} 的 {n} 支从 {unit} 经 {vehicle} 发往 {to}。",
    ),
    "s_receive": (
        "{who} received shipment {sid} into {unit} and counted {n} units.",
        "{who} 将发运 {sid} 接收入 {unit}，清点 {n} 支。",
    ),
    "s_reject_shipment": ("{who} rejected shipment {sid}: {reason}", "{who} 拒收了发运 {sid}：{reason}"),
    "s_cancel_shipment": ("{who} cancelled shipment {sid}: {reason}", "{who} 撤回了发运 {sid}：{reason}"),
    "s_record_readings": (
        "Logger {who} reported {n} temperature samples from {t0} to {t1}, {lo} to {hi} °C.",
        "温度记录仪 {who} 上报了 {n} 个读数（{t0} 至 {t1}），{lo} 至 {hi} °C。",
    ),
    "s_quarantine": (
        "{who} quarantined {n} units of lot {lot} in {unit}: {reason}",
        "{who} 隔离了批次 {lot} 在 {unit} 的 {n} 支：{reason}",
    ),
    "s_quality_decision_on": ("{who} released quarantine {qid}: {note}", "{who} 放行了隔离 {qid}：{note}"),
    "s_quality_decision_off": (
        "{who} condemned quarantine {qid}: {note}",
        "{who} 判定隔离 {qid} 报废：{note}",
    ),
    "s_destroy": (
        "{who} destroyed {n} units of lot {lot} in {unit} ({reason}).",
        "{who} 销毁了批次 {lot} 在 {unit} 的 {n} 支（{reason}）。",
    ),
    "s_record_dose": (
        "{who} gave dose {dose} of lot {lot} from {unit}.",
        "{who} 使用 {unit} 中批次 {lot} 接种了第 {dose} 剂。",
    ),
    "s_report_suspect_unit": (
        "{who} reported the suspect unit code {code}: {note}",
        "{who} 报告了可疑追溯码 {code}：{note}",
    ),
    "s_unknown": ("{who} sent a transaction of kind {kind}.", "{who} 发送了类型为 {kind} 的交易。"),
    "role_admin": ("administrator", "管理员"),
    "role_staff": ("staff", "工作人员"),
}


MESSAGES: Mapping[str, tuple[str, str]] = {**_UI_MESSAGES, **CHAIN_MESSAGES, **VERIFY_MESSAGES}
ENUM_PREFIXES = frozenset(
    {"qc", "ak", "sk", "ot", "q", "st", "dr", "role", "ek", "err", "ev", "k", "f", "vf"}
)


@dataclass(frozen=True, slots=True)
class Texts:
    """The texts of one language."""

    lang: str

    @property
    def zh(self) -> bool:
        """True for Chinese."""
        return self.lang == "zh-CN"

    def __call__(self, key: str) -> str:
        """The plain text of `key` (escape it when you put it into HTML; `tag()` and `h()` do)."""
        pair = MESSAGES.get(key)
        if pair is None:
            prefix, _, code = key.partition("_")
            # a code the chain has and the tables do not (a newer node): its name in words, not the raw key
            return self.label(key, code) if prefix in ENUM_PREFIXES and code else key
        return pair[1] if self.zh else pair[0]

    def label(self, key: str, code: str) -> str:
        """The text of `key`, or words made from `code` when no table has it ("LotRecalled" -> "lot recalled")."""
        if key in MESSAGES:
            return self(key)
        words = "".join(" " + c.lower() if c.isupper() else c for c in code).replace("_", " ").strip()
        return words or code

    def name(self, english: str, chinese: str = "") -> str:
        """A chain name in the reader's language: the Chinese one when there is one and the page is Chinese."""
        return chinese if self.zh and chinese else english

    def fmt(self, msg_key: str, /, **values: object) -> Safe:
        """The text of `key` with its fields filled; values are escaped unless they are `Safe`."""
        return h(self(msg_key), **values)


def negotiate(query: Mapping[str, str], headers: Mapping[str, str]) -> tuple[str, bool]:
    """(language, chosen explicitly in the URL)."""
    asked = _norm(query.get("lang", ""))
    if asked:
        return asked, True
    cookie = _cookie(headers, "lang")
    if cookie and _norm(cookie):
        return _norm(cookie) or DEFAULT_LANG, False
    return _accept(_header(headers, "accept-language")), False


def _norm(value: str) -> str | None:
    v = value.strip().lower()
    if v.startswith("zh"):
        return "zh-CN"
    if v.startswith("en"):
        return "en"
    return None


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return ""


def _cookie(headers: Mapping[str, str], name: str) -> str | None:
    for part in _header(headers, "cookie").split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def _accept(value: str) -> str:
    """Best of en / zh-CN from an Accept-Language header (q values honoured)."""
    best, best_q = DEFAULT_LANG, -1.0
    for i, item in enumerate(value.split(",")):
        tag_, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = _norm(tag_)
        # earlier entries win ties: browsers list preferences in order
        if lang is not None and q - i * 1e-6 > best_q:
            best, best_q = lang, q - i * 1e-6
    return best
