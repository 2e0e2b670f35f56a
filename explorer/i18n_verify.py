"""Texts of the school-entry check (/verify): the form, one sentence per outcome, refusal reasons, antigen names.

key -> (English, Chinese), merged into `explorer.i18n.MESSAGES`. Outcome sentences are shown in Chinese first with
English beside them, whatever the page's language (as the vial verdict is).
"""

from __future__ import annotations

from collections.abc import Mapping

#: Schedule antigens (NIP 2021 edition) as a credential names them: the vaccine in words with the code beside it.
ANTIGENS: Mapping[str, tuple[str, str]] = {
    "ag_HepB": ("Hepatitis B (HepB)", "乙肝疫苗（HepB）"),
    "ag_BCG": ("BCG (tuberculosis)", "卡介苗（BCG）"),
    "ag_Polio": ("Polio (IPV/bOPV)", "脊灰疫苗（IPV/bOPV）"),
    "ag_DTaP": ("Diphtheria, tetanus, pertussis (DTaP/DT)", "百白破疫苗/白破疫苗（DTaP/DT）"),
    "ag_MMR": ("Measles, mumps, rubella (MMR)", "麻腮风疫苗（MMR）"),
    "ag_JE": ("Japanese encephalitis (JE)", "乙脑疫苗（JE）"),
    "ag_MenA": ("Meningococcal A (MenA)", "A群流脑多糖疫苗（MenA）"),
    "ag_MenAC": ("Meningococcal A+C (MenAC)", "A群C群流脑多糖疫苗（MenAC）"),
    "ag_HepA": ("Hepatitis A (HepA)", "甲肝疫苗（HepA）"),
}

#: Why a credential (or a revocation list) was refused: vaxcrypto.credential's reason codes.
REASONS: Mapping[str, tuple[str, str]] = {
    "vr_malformed": ("it is not a readable school-entry credential", "这不是可识别的入学查验凭证"),
    "vr_forged_or_altered": (
        "its signature is not from an active registry key on the chain: it is forged or was altered",
        "签名并非来自链上有效的登记系统密钥：凭证系伪造或已被篡改",
    ),
    "vr_expired": (
        "it has expired: the guardian can issue a new one on the family page",
        "凭证已过期：监护人可在家庭查询页面重新生成",
    ),
    "vr_not_yet_valid": ("it is not valid yet (dated after today)", "凭证尚未生效（签发日期晚于今天）"),
    "vr_wrong_school": ("it was issued for another school", "该凭证是为其他学校签发的"),
    "vr_revoked": (
        "the guardian or the registry withdrew it (it is on the signed revocation list)",
        "监护人或登记系统已撤销该凭证（已列入签名撤销名单）",
    ),
    "vr_revocations_stale": ("the revocation list is too old", "撤销名单已过期"),
    "vr_revocations_forged": (
        "the revocation list is not signed by an active registry key",
        "撤销名单并非由有效的登记系统密钥签名",
    ),
    "vr_revocations_malformed": ("the revocation list cannot be read", "撤销名单无法读取"),
    "vr_revocations_unavailable": (
        "the registry's revocation list is unavailable right now",
        "暂时无法获取登记系统的撤销名单",
    ),
    "vr_revocations_not_configured": (
        "this explorer is not set up to fetch the registry's revocation list, and none was pasted",
        "本浏览器未配置登记系统地址，且未粘贴撤销名单",
    ),
}

VERIFY_MESSAGES: Mapping[str, tuple[str, str]] = {
    **ANTIGENS,
    **REASONS,
    "nav_verify": ("Verify", "核验"),
    "sv_title": ("School-entry check", "入学查验"),
    "sv_intro": (
        "Check a child's school-entry credential (the QR code the guardian's page issues) without seeing any "
        "vaccination record: its signature is checked against the registry keys the CDC registered on the chain, "
        "and the registry's signed revocation list.",
        "核验儿童的入学查验凭证（监护人在家庭查询页面生成的二维码），无需查看任何接种记录：凭证签名与疾控中心在链上登记的"
        "登记系统密钥比对，并对照登记系统签名的撤销名单。",
    ),
    "sv_privacy": (
        "What you enter stays on this page: the explorer does not keep, log or send it anywhere.",
        "您输入的内容只用于本页核验：本浏览器不保存、不记录、不向任何地方发送。",
    ),
    "sv_one": ("One credential", "单个凭证"),
    "sv_credential_label": (
        "Credential (text starting VAXSCHOOL1.)",
        "入学凭证（以 VAXSCHOOL1. 开头的文字）",
    ),
    "sv_scan_help": (
        "Paste the credential's text, or scan its QR code with a handheld scanner: the scanner types into this "
        "box like a keyboard. Then press Check. On a phone, a QR scanning app shows the text to copy here.",
        "粘贴凭证文字，或用扫码枪扫描二维码：扫码枪会像键盘一样把内容输入此框，然后点击“核验”。"
        "在手机上，可用扫码应用读取二维码，再把文字复制到此处。",
    ),
    "sv_school_label": ("Your school's organisation id (optional)", "本校机构编号（可选）"),
    "sv_school_help": (
        "When given, a credential issued for another school is refused.",
        "填写后，为其他学校签发的凭证将被拒绝。",
    ),
    "sv_revocations_label": (
        "Revocation list (optional, text starting VAXREVOKE1.)",
        "撤销名单（可选，以 VAXREVOKE1. 开头的文字）",
    ),
    "sv_revocations_auto": (
        "The explorer fetches the registry's signed revocation list itself. Paste one only if you fetched a newer "
        "one elsewhere.",
        "本浏览器会自动获取登记系统签名的撤销名单。只有在别处取得更新的名单时才需粘贴。",
    ),
    "sv_revocations_manual": (
        "This explorer does not know the registry's address: paste the registry's signed revocation list, or "
        "no credential can be shown as passed.",
        "本浏览器未配置登记系统地址：请粘贴登记系统签名的撤销名单，否则任何凭证都不能判定为通过。",
    ),
    "sv_submit": ("Check", "核验"),
    "sv_class": ("Class list", "班级名单"),
    "sv_class_help": (
        "A CSV with a header row and the columns student (your own name or number for the child) and credential; "
        "other columns are ignored. Up to {n} students per check. Upload a file, paste the CSV, or both.",
        "CSV 格式，首行为表头，含 student（学校自己的学生姓名或学号）和 credential（凭证文字）两列，其他列忽略。"
        "每次最多 {n} 名学生。可上传文件、粘贴内容，或两者同时提交。",
    ),
    "sv_file_label": ("CSV file", "CSV 文件"),
    "sv_csv_label": ("Or paste the CSV", "或粘贴 CSV 内容"),
    "sv_class_submit": ("Check the class", "核验全班"),
    "sv_result": ("Result", "核验结果"),
    "so_complete": (
        "Complete: the child's vaccinations meet the school-entry check.",
        "查验通过：该儿童的预防接种符合入学查验要求。",
    ),
    "so_catch_up": (
        "Catch-up doses needed: {antigens}. The child should get them at a vaccination site.",
        "需要补种：{antigens}。请到接种单位补种。",
    ),
    "so_refused": ("Refused: {reason}.", "拒绝：{reason}。"),
    "so_unchecked": (
        "The credential's signature and dates are valid, but whether it was revoked could not be checked: "
        "{why}. Do not treat it as passed yet.",
        "凭证的签名和有效期均有效，但无法核查是否已被撤销：{why}。暂不能据此判定通过。",
    ),
    "oc_complete": ("complete", "通过"),
    "oc_catch_up": ("catch-up needed", "需补种"),
    "oc_refused": ("refused", "拒绝"),
    "oc_unchecked": ("revocation not checked", "未核查撤销"),
    "sv_detail": ("Detail", "详情"),
    "sv_student_ref": ("Student reference (opaque)", "学生参考号（不含个人信息）"),
    "sv_school": ("School", "学校"),
    "sv_issued": ("Issued", "签发日期"),
    "sv_expires": ("Valid until", "有效期至"),
    "sv_keys": (
        "Checked against {n} active registry key(s) on the chain.",
        "已对照链上 {n} 个有效的登记系统密钥核验。",
    ),
    "sv_no_keys": (
        "The chain lists no active registry key: no credential can pass.",
        "链上没有有效的登记系统密钥：任何凭证都无法通过核验。",
    ),
    "sv_as_of": ("{where} was signed at {when}.", "{where}签发于 {when}。"),
    "sv_from_registry": ("The registry's revocation list", "登记系统的撤销名单"),
    "sv_from_pasted": ("The pasted revocation list", "粘贴的撤销名单"),
    "sv_where_registry": ("the registry's list", "登记系统的名单"),
    "sv_where_pasted": ("the pasted list", "粘贴的名单"),
    "sv_list_problem": ("{where}: {reason}", "{where}：{reason}"),
    "sv_empty": ("Paste a credential or scan its QR code first.", "请先粘贴凭证或扫描二维码。"),
    "sv_class_empty": ("Upload or paste a class list first.", "请先上传或粘贴班级名单。"),
    "sv_class_no_header": (
        "This is not a class list: the first row must name the columns student and credential.",
        "这不是班级名单：首行必须包含 student 和 credential 两列。",
    ),
    "sv_class_too_many": (
        "The list has more than {n} students: check it in parts.",
        "名单超过 {n} 名学生：请分批核验。",
    ),
    "sv_class_unreadable": (
        "This is not a readable CSV (a field is too long or a quote is not closed).",
        "无法读取该 CSV（某个字段过长或引号未闭合）。",
    ),
    "sv_class_encoding": (
        "The file is neither UTF-8 nor GB18030 text.",
        "文件既不是 UTF-8 也不是 GB18030 编码的文本。",
    ),
    "sv_bad_school": (
        "The school id is not an organisation id.",
        "学校机构编号无效。",
    ),
    "sv_bad_form": ("The form could not be read.", "无法读取提交的表单。"),
    "sv_class_title": ("Class list: {n} students", "班级名单：共 {n} 名学生"),
    "sv_counts": (
        "{complete} complete, {catch_up} need catch-up doses, {refused} refused, {unchecked} not checked for "
        "revocation.",
        "{complete} 人通过，{catch_up} 人需补种，{refused} 人凭证被拒，{unchecked} 人未能核查撤销。",
    ),
    "sv_col_row": ("Row", "行"),
    "sv_col_student": ("Student", "学生"),
    "sv_col_result": ("Result", "结果"),
    "sv_col_detail": ("Antigens or reason", "疫苗或原因"),
    "sv_follow_up": ("Needs catch-up doses or a valid credential", "需要补种或提供有效凭证"),
    "sv_follow_up_none": ("Nobody: every student passes.", "无：全部学生通过。"),
    "sv_again": ("Check another", "继续核验"),
}
