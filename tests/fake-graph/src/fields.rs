//! Parsing of the `fields=` parameter, including nested expansion such as
//! `children{id,media_type}` and `owner{id}`.
//!
//! Modifiers like `children.limit(5){id}` or `business_discovery.username(x){…}` are kept as
//! (name, argument) pairs (nested edges such as `comments.limit(50){...}` page by `.limit`);
//! edges that do not use them ignore them.

use crate::graph_error::GraphError;

/// One requested field, with its sub-selection when written `name{...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldSelection {
    pub name: String,
    pub sub_fields: Option<Vec<FieldSelection>>,
    /// `.name(argument)` modifiers, in order.
    pub modifiers: Vec<(String, String)>,
}

impl FieldSelection {
    /// A plain field (no sub-selection, no modifiers).
    pub fn plain(name: &str) -> Self {
        FieldSelection { name: name.to_string(), sub_fields: None, modifiers: Vec::new() }
    }

    /// The argument of modifier `name`, if given.
    pub fn modifier(&self, name: &str) -> Option<&str> {
        self.modifiers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// `.limit(n)` written after the name, if any.
    pub fn limit(&self) -> Option<usize> {
        self.modifier("limit")?.trim().parse().ok()
    }
}

/// Parses a `fields` value. Empty names are skipped (`a,,b`).
pub(crate) fn parse_fields(input: &str) -> Result<Vec<FieldSelection>, GraphError> {
    let chars: Vec<char> = input.chars().collect();
    let mut pos = 0;
    let fields = parse_list(&chars, &mut pos, input)?;
    if pos != chars.len() {
        return Err(syntax_error(input));
    }
    Ok(fields)
}

fn parse_list(chars: &[char], pos: &mut usize, input: &str) -> Result<Vec<FieldSelection>, GraphError> {
    let mut fields = Vec::new();
    loop {
        let start = *pos;
        while *pos < chars.len() && !matches!(chars[*pos], ',' | '{' | '}' | '.') {
            *pos += 1;
        }
        let name: String = chars[start..*pos].iter().collect::<String>().trim().to_string();
        // Modifiers: `.limit(5)`, `.username(x)`, `.after(cursor)`.
        let mut modifiers = Vec::new();
        while *pos < chars.len() && chars[*pos] == '.' {
            let start = *pos + 1;
            let mut depth = 0;
            let mut open = None;
            while *pos < chars.len() {
                match chars[*pos] {
                    '(' => {
                        depth += 1;
                        open.get_or_insert(*pos);
                    }
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            *pos += 1;
                            break;
                        }
                    }
                    ',' | '{' | '}' if depth == 0 => break,
                    _ => {}
                }
                *pos += 1;
            }
            let text: String = chars[start..*pos].iter().collect();
            match open {
                Some(o) => {
                    let o = o - start;
                    let arg = text[o + 1..].trim_end_matches(')').to_string();
                    modifiers.push((text[..o].trim().to_string(), arg));
                }
                None => modifiers.push((text.trim().to_string(), String::new())),
            }
        }
        let sub_fields = if *pos < chars.len() && chars[*pos] == '{' {
            *pos += 1;
            let sub = parse_list(chars, pos, input)?;
            if *pos >= chars.len() || chars[*pos] != '}' {
                return Err(syntax_error(input));
            }
            *pos += 1;
            Some(sub)
        } else {
            None
        };
        if !name.is_empty() {
            fields.push(FieldSelection { name, sub_fields, modifiers });
        } else if sub_fields.is_some() {
            return Err(syntax_error(input));
        }
        if *pos < chars.len() && chars[*pos] == ',' {
            *pos += 1;
            continue;
        }
        return Ok(fields);
    }
}

/// Writes a selection back as a `fields=` value (with its modifiers, e.g. `.limit(n)`), as
/// Meta echoes a nested edge's sub-fields in its `paging.next` link.
pub(crate) fn to_fields_string(fields: &[FieldSelection]) -> String {
    fields
        .iter()
        .map(|f| {
            let mut s = f.name.clone();
            for (name, arg) in &f.modifiers {
                s.push_str(&format!(".{name}({arg})"));
            }
            if let Some(sub) = &f.sub_fields {
                s.push('{');
                s.push_str(&to_fields_string(sub));
                s.push('}');
            }
            s
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `name` is asked anywhere in the selection (at any depth).
pub(crate) fn mentions(fields: &[FieldSelection], name: &str) -> bool {
    fields.iter().any(|f| f.name == name || f.sub_fields.as_deref().is_some_and(|s| mentions(s, name)))
}

fn syntax_error(input: &str) -> GraphError {
    GraphError::invalid_parameter(format!("Syntax error \"Unbalanced braces in field list.\" at character 0: {input}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(fields: &[FieldSelection]) -> Vec<&str> {
        fields.iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn flat_and_nested() {
        let f = parse_fields("id,caption,children{id,media_type},owner").unwrap();
        assert_eq!(names(&f), ["id", "caption", "children", "owner"]);
        assert_eq!(names(f[2].sub_fields.as_ref().unwrap()), ["id", "media_type"]);
        assert!(f[3].sub_fields.is_none());
    }

    #[test]
    fn modifiers_are_kept() {
        let f = parse_fields("children.limit(3){id},id").unwrap();
        assert_eq!(names(&f), ["children", "id"]);
        assert_eq!(names(f[0].sub_fields.as_ref().unwrap()), ["id"]);
        assert_eq!(f[0].modifier("limit"), Some("3"));
        let f = parse_fields("business_discovery.username(lumen_rival){id,media.after(QVFI).limit(5){id}}").unwrap();
        assert_eq!(f[0].modifier("username"), Some("lumen_rival"));
        let media = &f[0].sub_fields.as_ref().unwrap()[1];
        assert_eq!(
            (media.name.as_str(), media.modifier("after"), media.modifier("limit")),
            ("media", Some("QVFI"), Some("5"))
        );
        let f = parse_fields("children.limit(3){id},id").unwrap();
        assert_eq!(f[0].limit(), Some(3));
        assert_eq!(f[1].limit(), None);
    }

    #[test]
    fn selections_round_trip() {
        let raw = "id,comments.limit(50){id,replies.limit(50){id,text}},owner,business_discovery.username(x){id}";
        let f = parse_fields(raw).unwrap();
        assert_eq!(to_fields_string(&f), raw);
        assert!(mentions(&f, "text"));
        assert!(!mentions(&f, "caption"));
    }

    #[test]
    fn unbalanced_braces_are_rejected() {
        assert!(parse_fields("children{id").is_err());
        assert!(parse_fields("id}").is_err());
    }
}
