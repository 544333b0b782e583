//! The form's fields in words: what a family reads in a notice or a refusal instead of a JSON
//! path (`father.marriage_certificate` → 父亲的结婚证字号 / the father's marriage certificate
//! number). Machine-readable answers keep the path; every text for people goes through [`label`].

use crate::text::Bilingual;

/// The form's sections, by their JSON name: (name, 中文, English possessive).
const SECTIONS: &[(&str, &str, &str)] = &[
    ("newborn", "新生儿", "the newborn's"),
    ("mother", "母亲", "the mother's"),
    ("father", "父亲", "the father's"),
    ("household", "出生登记", "the household registration's"),
    ("insurance", "参保登记", "the insurance enrolment's"),
    ("maternity", "生育保险", "the maternity benefit's"),
    ("card", "社会保障卡", "the social-security card's"),
    ("delivery", "送达方式", "the delivery of the"),
    ("existing", "已有证件", "the records held:"),
    ("authorisation", "授权委托书", "the authorisation letter's"),
    ("pledge", "申请人承诺", "the applicant's pledge:"),
];

/// Leaf fields: (name, 中文, English).
const LEAVES: &[(&str, &str, &str)] = &[
    ("name", "姓名", "name"),
    ("sex", "性别", "sex"),
    ("birth_time", "出生时间", "time of birth"),
    ("gestational_weeks", "出生孕周", "gestational age"),
    ("weight_grams", "出生体重", "birth weight"),
    ("length_cm", "出生身长", "birth length"),
    ("birthplace", "出生地点", "place of birth"),
    ("hospital", "医疗机构", "hospital"),
    (
        "credit_code",
        "统一社会信用代码",
        "unified social credit code",
    ),
    (
        "medical_record_number",
        "住院病历号",
        "hospital record number",
    ),
    ("birth_attendant", "接生人员", "birth attendant"),
    ("id_number", "公民身份号码", "identity number"),
    ("ethnicity", "民族", "ethnicity"),
    ("phone", "联系电话", "phone number"),
    ("household_address", "户籍地址", "household address"),
    (
        "household_region",
        "户籍地",
        "place of household registration",
    ),
    (
        "household_kind",
        "户别（家庭户或集体户）",
        "household kind (family or collective)",
    ),
    (
        "marriage_certificate",
        "结婚证字号",
        "marriage certificate number",
    ),
    ("registering_parent", "落户方", "parent to register with"),
    ("police_station", "派出所", "police station"),
    ("head_of_household", "户主姓名", "head of household"),
    (
        "head_id_number",
        "户主公民身份号码",
        "head of household's identity number",
    ),
    (
        "relation_to_head",
        "与户主关系",
        "relation to the head of household",
    ),
    ("native_place", "籍贯", "native place"),
    ("blood_type", "血型", "blood type"),
    ("address", "地址", "address"),
    ("ethnicity_from", "民族随父或随母", "ethnicity taken from"),
    ("region", "参保地", "place of enrolment"),
    ("community", "所在社区（村）", "community (village)"),
    ("births", "胎儿数", "number of children born"),
    ("count", "胎儿数", "number of children born"),
    ("delivery_mode", "分娩方式", "mode of delivery"),
    ("payout", "发放方式", "payout"),
    ("bank", "开户行", "bank"),
    ("branch", "开户支行", "bank branch"),
    ("account", "银行账号", "bank account number"),
    ("partner_bank", "合作银行", "partner bank"),
    ("birth_certificate", "出生医学证明", "birth certificate"),
    ("household_booklet", "户口簿", "household booklet"),
    ("social_security_card", "社会保障卡", "social-security card"),
    (
        "birth_certificate_number",
        "出生医学证明编号",
        "birth certificate number",
    ),
    (
        "newborn_id_number",
        "新生儿公民身份号码",
        "newborn's identity number",
    ),
    (
        "full_certificate_held",
        "已持有正、副页完全版出生医学证明的确认",
        "confirmation of holding the full birth certificate",
    ),
    ("valid_from", "委托期限起始日", "first day of the term"),
    ("valid_until", "委托期限截止日", "last day of the term"),
    (
        "truthful",
        "所填内容和材料真实",
        "the form and materials are true",
    ),
];

/// Top-level fields that are not sections.
const TOP: &[(&str, &str, &str)] = &[
    ("case", "办理情形", "the case"),
    ("applicant", "申请人", "the applicant"),
    ("services", "办理事项", "the services chosen"),
    ("documents", "上传的材料", "the documents uploaded"),
    ("licences", "电子证照", "the electronic licences"),
    (
        "authorisation",
        "授权委托书的委托期限",
        "the authorisation letter's term",
    ),
    (
        "household",
        "出生登记信息",
        "the household registration section",
    ),
    (
        "insurance",
        "参保登记信息",
        "the insurance enrolment section",
    ),
    ("maternity", "生育保险信息", "the maternity section"),
    ("father", "父亲信息", "the father's section"),
    (
        "pledge",
        "申请人承诺与电子签名",
        "the applicant's pledge and e-signature",
    ),
];

/// A form field's name in words, from its dotted JSON path (`mother.id_number` →
/// 母亲的公民身份号码 / the mother's identity number). Array indices and a leading `form_patch.`
/// are dropped; a path this table does not know is named by its section with 相关信息.
pub fn label(path: &str) -> Bilingual {
    let path = path.strip_prefix("form_patch.").unwrap_or(path);
    let parts: Vec<&str> = path
        .split('.')
        .map(|p| p.split('[').next().unwrap_or(p))
        .filter(|p| !p.is_empty())
        .collect();
    let find = |table: &[(&str, &'static str, &'static str)], key: &str| {
        table
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, zh, en)| (*zh, *en))
    };
    match parts.as_slice() {
        [] => Bilingual::new("申请表", "the form"),
        [one] => match find(TOP, one).or_else(|| find(LEAVES, one)) {
            Some((zh, en)) => Bilingual::new(zh, en),
            None => Bilingual::new("申请表相关信息", "a field of the form"),
        },
        [section, ..] => {
            let (szh, sen) = find(SECTIONS, section).unwrap_or(("申请表", "the form's"));
            // `newborn.hospital.name` is the hospital's name: name the innermost known leaf.
            let inner = parts[1..].iter().rev().find_map(|p| find(LEAVES, p));
            match inner {
                Some((zh, en)) => Bilingual::new(format!("{szh}的{zh}"), format!("{sen} {en}")),
                None => Bilingual::new(format!("{szh}相关信息"), format!("{sen} details")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn paths_read_as_words() {
        let l = label("father.marriage_certificate");
        assert_eq!(l.zh, "父亲的结婚证字号");
        assert_eq!(l.en, "the father's marriage certificate number");
        assert_eq!(
            label("form_patch.insurance.community").zh,
            "参保登记的所在社区（村）"
        );
        assert_eq!(label("authorisation").zh, "授权委托书的委托期限");
        assert_eq!(label("documents[2]").zh, "上传的材料");
        assert_eq!(label("household.registering_parent").zh, "出生登记的落户方");
        for path in [
            "mother.id_number",
            "newborn.hospital.name",
            "existing.newborn_id_number",
        ] {
            let l = label(path);
            assert!(
                !l.zh.contains('.') && !l.en.contains('.') && !l.en.contains('_'),
                "{l:?}"
            );
        }
    }
}
