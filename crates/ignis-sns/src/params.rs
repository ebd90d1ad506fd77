//! Reading the query protocol's maps and nested lists
//! (`Attributes.entry.1.key`, `PublishBatchRequestEntries.member.1.Id`).

use std::collections::BTreeMap;

/// Parameters as a plain map (a request's, or one member's fields).
pub type Fields = BTreeMap<String, String>;

/// `prefix.N.rest` grouped by `N` (numeric order), each group's `rest`
/// keys with their values.
pub fn group(params: &Fields, prefix: &str) -> Vec<Fields> {
    let head = format!("{prefix}.");
    let mut by_index: BTreeMap<u32, Fields> = BTreeMap::new();
    for (key, value) in params.range(head.clone()..) {
        let Some(rest) = key.strip_prefix(&head) else {
            break;
        };
        let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
        if let Ok(index) = index.parse::<u32>() {
            by_index
                .entry(index)
                .or_default()
                .insert(field.to_string(), value.clone());
        }
    }
    by_index.into_values().collect()
}

/// A string map, `prefix.entry.N.key` / `.value`.
pub fn string_map(params: &Fields, prefix: &str) -> BTreeMap<String, String> {
    group(params, &format!("{prefix}.entry"))
        .into_iter()
        .filter_map(|mut e| Some((e.remove("key")?, e.remove("value").unwrap_or_default())))
        .collect()
}

/// A list of scalars, `prefix.member.N`.
pub fn list(params: &Fields, prefix: &str) -> Vec<String> {
    group(params, &format!("{prefix}.member"))
        .into_iter()
        .filter_map(|mut e| e.remove(""))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_nest() {
        let p: Fields = [
            ("A.entry.2.key", "b"),
            ("A.entry.2.value", "2"),
            ("A.entry.1.key", "a"),
            ("A.entry.1.value", "1"),
            ("L.member.10", "ten"),
            ("L.member.9", "nine"),
            ("B.member.1.M.entry.1.Name", "n"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let m = string_map(&p, "A");
        assert_eq!(m.get("a").unwrap(), "1");
        assert_eq!(m.get("b").unwrap(), "2");
        assert_eq!(list(&p, "L"), vec!["nine", "ten"]);
        let b = group(&p, "B.member");
        assert_eq!(group(&b[0], "M.entry")[0].get("Name").unwrap(), "n");
    }
}
