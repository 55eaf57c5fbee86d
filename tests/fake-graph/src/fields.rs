//! Parsing of the `fields=` parameter, including nested expansion such as
//! `children{id,media_type}` and `owner{id}`.
//!
//! Modifiers like `children.limit(5){id}` are accepted; `.limit(n)` is kept (nested edges
//! such as `comments.limit(50){...}` page by it), other modifiers are ignored.

use crate::graph_error::GraphError;

/// One requested field, with its sub-selection when written `name{...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldSelection {
    pub name: String,
    pub sub_fields: Option<Vec<FieldSelection>>,
    /// `.limit(n)` written after the name, if any.
    pub limit: Option<usize>,
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
        // Modifiers: `.limit(5)` is kept, others (`.since(...)`) skipped.
        let mut limit = None;
        while *pos < chars.len() && chars[*pos] == '.' {
            let modifier_start = *pos;
            let mut depth = 0;
            while *pos < chars.len() {
                match chars[*pos] {
                    '(' => depth += 1,
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
            let modifier: String = chars[modifier_start..*pos].iter().collect();
            if let Some(n) = modifier.strip_prefix(".limit(").and_then(|m| m.strip_suffix(')')) {
                limit = n.trim().parse().ok();
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
            fields.push(FieldSelection { name, sub_fields, limit });
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

/// Writes a selection back as a `fields=` value (with `.limit(n)` where one was given), as
/// Meta echoes a nested edge's sub-fields in its `paging.next` link.
pub(crate) fn to_fields_string(fields: &[FieldSelection]) -> String {
    fields
        .iter()
        .map(|f| {
            let mut s = f.name.clone();
            if let Some(n) = f.limit {
                s.push_str(&format!(".limit({n})"));
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
    fn modifiers_are_ignored() {
        let f = parse_fields("children.limit(3){id},id").unwrap();
        assert_eq!(names(&f), ["children", "id"]);
        assert_eq!(names(f[0].sub_fields.as_ref().unwrap()), ["id"]);
        assert_eq!(f[0].limit, Some(3));
        assert_eq!(f[1].limit, None);
    }

    #[test]
    fn selections_round_trip() {
        let raw = "id,comments.limit(50){id,replies.limit(50){id,text}},owner";
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
