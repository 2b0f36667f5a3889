//! Limits checked before the parser sees an expression.
//!
//! starlark's parser, compiler and evaluator recurse once per level of the syntax tree, so an
//! expression like `return ------…1` (50,000 minus signs) or 10,000 nested brackets overflows any
//! thread's stack and aborts the whole process (a stack overflow cannot be caught). Parsing and
//! evaluation therefore run in worker processes (see [`crate::worker`]), and before either, this
//! scan refuses expressions that are too long or nested too deeply. It is a lexical estimate,
//! iterative and linear in the length: it skips strings and comments and, for every point of
//! every statement, adds up what can nest the syntax tree there (brackets, operators, the
//! keywords `and or not if else lambda for in is`, indentation). Siblings do not add up: a `,`
//! or `:` starts the count of its bracket afresh, so a dict of a thousand entries is shallow.
//! The estimate is never below the real depth, so anything it lets through parses within a
//! small stack.

use crate::MappingError;

/// The longest expression accepted, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 65_536;

/// The deepest an expression may nest (the estimate described above).
pub const MAX_NESTING: usize = 500;

/// DRF's message for a string over its field's `max_length`.
pub fn too_long_message() -> String {
    format!("Ensure this field has no more than {MAX_EXPRESSION_CHARS} characters.")
}

/// Refuses an expression that is too long (a `Syntax` error with DRF's wording, as a field
/// error reads) or nested too deeply (with the line where the limit was crossed).
pub fn check_bounds(expression: &str, filename: Option<&str>) -> Result<(), MappingError> {
    if expression.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(MappingError::Syntax(too_long_message()));
    }
    if let Some(line) = too_deep_at(expression, MAX_NESTING) {
        let name = filename.unwrap_or("None");
        // +2: lines are 1-based, and authentik counts its wrapper line.
        return Err(MappingError::Syntax(format!(
            "expression nested too deeply (more than {MAX_NESTING} levels) ({name}, line {})",
            line + 2
        )));
    }
    Ok(())
}

const KEYWORDS: &[&str] = &["and", "or", "not", "if", "else", "lambda", "for", "in", "is"];

/// The 0-based line at which the nesting estimate first exceeds `limit`, if it does.
pub(crate) fn too_deep_at(source: &str, limit: usize) -> Option<usize> {
    let chars: Vec<char> = source.chars().collect();
    // What can nest in each open bracket (the statement itself at the bottom), since its last
    // `,` or `:`; `open` is the sum of the counts.
    let mut groups: Vec<usize> = vec![0];
    let mut open = 0usize;
    let mut indent = 0usize;
    let mut line = 0usize;
    let mut at_line_start = true;
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i];
        if at_line_start {
            if c == ' ' || c == '\t' {
                indent += 1;
                i += 1;
                continue;
            }
            at_line_start = false;
        }
        match c {
            '\n' => {
                line += 1;
                at_line_start = true;
                indent = 0;
                if groups.len() == 1 {
                    open -= groups[0];
                    groups[0] = 0;
                }
            }
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                // A continued line is the same statement.
                line += 1;
                i += 2;
                continue;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\'' | '"' => {
                i = skip_string(&chars, i, &mut line);
                continue;
            }
            ';' if groups.len() == 1 => {
                open -= groups[0];
                groups[0] = 0;
            }
            ',' | ':' => {
                let last = groups.len() - 1;
                open -= groups[last];
                groups[last] = 0;
            }
            '(' | '[' | '{' => {
                add(&mut groups, &mut open, 1);
                groups.push(0);
            }
            ')' | ']' | '}' if groups.len() > 1 => {
                open -= groups.pop().unwrap_or(0);
            }
            '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '~' | '<' | '>' | '!' | '.' | '@' => {
                add(&mut groups, &mut open, 1);
            }
            // `=` nests only on its own (an assignment); in `==`, `<=`, `+=` the operator before
            // it was counted already.
            '=' if !matches!(
                chars.get(i.wrapping_sub(1)),
                Some('=' | '<' | '>' | '!' | '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '@')
            ) =>
            {
                add(&mut groups, &mut open, 1)
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if KEYWORDS.contains(&word.as_str()) {
                    add(&mut groups, &mut open, 1);
                }
                if indent + open + groups.len() - 1 > limit {
                    return Some(line);
                }
                continue;
            }
            _ => {}
        }
        if indent + open + groups.len() - 1 > limit {
            return Some(line);
        }
        i += 1;
    }
    None
}

fn add(groups: &mut [usize], open: &mut usize, n: usize) {
    if let Some(last) = groups.last_mut() {
        *last += n;
        *open += n;
    }
}

/// The index just past the string literal starting at `start` (its quote), counting the lines
/// it spans. An unterminated string ends at the end of its line (or of the input).
fn skip_string(chars: &[char], start: usize, line: &mut usize) -> usize {
    let quote = chars[start];
    let triple = chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
    let mut i = start + if triple { 3 } else { 1 };
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if chars.get(i + 1) == Some(&'\n') {
                    *line += 1;
                }
                i += 2;
                continue;
            }
            '\n' if !triple => return i,
            '\n' => *line += 1,
            c if c == quote => {
                if !triple {
                    return i + 1;
                }
                if chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote) {
                    return i + 3;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(source: &str, limit: usize) -> bool {
        too_deep_at(source, limit).is_none()
    }

    #[test]
    fn deep_chains_and_brackets_are_refused_where_they_cross_the_limit() {
        let minus = format!("return {}1", "-".repeat(50_000));
        assert_eq!(too_deep_at(&minus, MAX_NESTING), Some(0));
        let brackets = format!("x = 1\nreturn {}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(too_deep_at(&brackets, MAX_NESTING), Some(1));
        let sum = format!("return 1{}", " + 1".repeat(1_000));
        assert!(!depth_ok(&sum, MAX_NESTING));
        let conditional = format!("return {}1", "1 if x else ".repeat(300));
        assert!(!depth_ok(&conditional, MAX_NESTING));
        let negations = format!("return {}True", "not ".repeat(600));
        assert!(!depth_ok(&negations, MAX_NESTING));
        let calls = format!("return f{}", "()".repeat(600));
        assert!(!depth_ok(&calls, MAX_NESTING));
    }

    #[test]
    fn siblings_strings_comments_and_statements_do_not_add_up() {
        let entries: Vec<String> = (0..2_000).map(|i| format!("\"k{i}\": {{\"v\": [{i}, -{i}]}}")).collect();
        assert!(depth_ok(&format!("return {{{}}}", entries.join(", ")), 10));
        let statements = "x = x + 1\n".repeat(5_000);
        assert!(depth_ok(&statements, 10));
        let text = format!("return \"{}\"  # {}", "(".repeat(5_000), "[".repeat(5_000));
        assert!(depth_ok(&text, 10));
        let triple = format!("x = '''{}\n{}'''\nreturn x", "-".repeat(5_000), "(".repeat(5_000));
        assert!(depth_ok(&triple, 10));
        assert!(depth_ok("a == b and c <= d", 10));
    }

    #[test]
    fn ordinary_mappings_are_shallow() {
        for expression in [
            "return {\"username\": info[\"username\"], \"attributes\": {\"thumb\": info.get(\"thumb\")}}",
            "if info.get(\"email\"):\n    return {\"email\": info[\"email\"].lower()}\nreturn None",
            "names = [g.lower() for g in info.get(\"groups\", []) if g and not g.startswith(\"_\")]\nreturn {\"groups\": names}",
        ] {
            assert!(depth_ok(expression, 30), "{expression}");
        }
    }

    #[test]
    fn length_and_nesting_errors_read_as_field_errors() {
        let long = "#".repeat(MAX_EXPRESSION_CHARS + 1);
        assert_eq!(check_bounds(&long, None), Err(MappingError::Syntax(too_long_message())));
        assert!(check_bounds(&"#".repeat(MAX_EXPRESSION_CHARS), None).is_ok());
        let deep = format!("x = 1\n\nreturn {}1", "-".repeat(600));
        assert_eq!(
            check_bounds(&deep, Some("m")),
            Err(MappingError::Syntax("expression nested too deeply (more than 500 levels) (m, line 4)".into()))
        );
    }
}
