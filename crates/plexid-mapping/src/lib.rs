//! Evaluation of authentik-style "property mappings".
//!
//! A property mapping is the *body* of a Python function written by an
//! administrator, e.g.
//!
//! ```text
//! return {"username": info["username"], "attributes": {"thumb": info.get("thumb")}}
//! ```
//!
//! plexid evaluates these bodies as sandboxed Starlark (a Python dialect):
//! the expression is wrapped into `def plexid_mapping_entrypoint():` with every line
//! indented, the given variables are bound as module globals, the function is
//! called and its return value is converted to JSON.
//!
//! Evaluation is bounded by [`Limits`] (statement steps, heap bytes and wall
//! time); there is no I/O, no `load()` and no access to the environment.

mod bounds;
pub mod worker;

pub use bounds::{check_bounds, too_long_message, MAX_EXPRESSION_CHARS, MAX_NESTING};

use std::cell::Cell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json};
use starlark::codemap::FileSpanRef;
use starlark::environment::{Globals, GlobalsBuilder, LibraryExtension, Module};
use starlark::eval::{BeforeStmtFunc, BeforeStmtFuncDyn, Evaluator};
use starlark::starlark_module;
use starlark::syntax::{AstModule, Dialect};
use starlark::values::dict::AllocDict;
use starlark::values::dict::DictRef;
use starlark::values::float::StarlarkFloat;
use starlark::values::list::{AllocList, ListRef};
use starlark::values::tuple::TupleRef;
use starlark::values::{Heap, UnpackValue, Value, ValueLike};
use starlark::PrintHandler;

/// Name of the synthetic function the user's expression is wrapped into.
// (Must not start with `_`: starlark treats such module names as private.)
const WRAPPER_NAME: &str = "plexid_mapping_entrypoint";
/// Maximum Starlark call-stack depth (user-defined helpers and recursion).
const MAX_CALLSTACK: usize = 50;
/// Maximum nesting depth when converting between JSON and Starlark values.
/// Also protects against self-referencing lists/dicts on the way out.
const MAX_JSON_DEPTH: usize = 128;
/// Wall clock is only consulted every this many statements.
const TIME_CHECK_EVERY: u64 = 64;

/// Limits per evaluation.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum number of executed statements (and, separately, loop
    /// iterations / function calls as counted by starlark's own tick counter).
    pub max_steps: u64,
    /// Maximum bytes allocated on the Starlark heap during the evaluation.
    pub max_heap_bytes: usize,
    /// Maximum wall-clock duration of the evaluation.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_steps: 1_000_000, max_heap_bytes: 32 * 1024 * 1024, timeout: Duration::from_secs(1) }
    }
}

/// Error produced by [`check_syntax`] or [`evaluate`].
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum MappingError {
    /// The expression does not parse. The message has the shape
    /// `"<what is wrong> (<filename>, line <N>)"` where `filename` is the given
    /// name or `None` and `N` is the line in the user's expression plus one
    /// (authentik's convention, caused by its `def handler(...):` wrapper line).
    #[error("{0}")]
    Syntax(String),
    /// Raised while running (runtime error, `fail()`, bad key, type error...).
    #[error("{0}")]
    Runtime(String),
    /// A limit was hit: "step limit exceeded", "memory limit exceeded" or
    /// "time limit exceeded".
    #[error("{0}")]
    Limit(String),
}

// ---------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------

/// Parse-check only (when a mapping is saved, through [`worker::Pool::check_syntax`]).
/// `filename` = mapping name or None. The [`check_bounds`] limits come first.
pub fn check_syntax(expression: &str, filename: Option<&str>) -> Result<(), MappingError> {
    parse(expression, filename).map(|_| ())
}

/// Evaluate the expression as a function body with the given variables bound as
/// globals and return the function's return value as JSON (no `return` => `null`).
pub fn evaluate(expression: &str, variables: &Map<String, Json>, limits: &Limits) -> Result<Json, MappingError> {
    let ast = parse(expression, None)?;
    let deadline = Instant::now().checked_add(limits.timeout);
    let tripped: Rc<Cell<Option<LimitKind>>> = Rc::new(Cell::new(None));

    // Starlark (or a native builtin) may panic, e.g. on capacity overflow for
    // absurd string repetitions; never let that take the caller down.
    let run = std::panic::AssertUnwindSafe(|| run_module(ast, variables, limits, deadline, &tripped));
    match std::panic::catch_unwind(run) {
        Ok(result) => result,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(MappingError::Runtime(format!("evaluation aborted: {detail}")))
        }
    }
}

fn run_module(
    ast: AstModule,
    variables: &Map<String, Json>,
    limits: &Limits,
    deadline: Option<Instant>,
    tripped: &Rc<Cell<Option<LimitKind>>>,
) -> Result<Json, MappingError> {
    let globals = globals();
    Module::with_temp_heap(|module| {
        let heap = module.heap();
        for (name, value) in variables {
            let v = json_to_starlark(heap, value, 0)?;
            module.set(name, v);
        }

        let print_handler = DiscardPrint;
        let is_cancelled = {
            let tripped = tripped.clone();
            move || {
                if past(deadline) {
                    tripped.set(Some(LimitKind::Time));
                    true
                } else {
                    false
                }
            }
        };

        let mut eval = Evaluator::new(&module);
        eval.set_print_handler(&print_handler);
        eval.set_check_cancelled(Box::new(is_cancelled));
        // These setters only fail on zero or when called twice.
        let _ = eval.set_max_callstack_size(MAX_CALLSTACK);
        let _ = eval.set_max_heap_size(limits.max_heap_bytes.max(1));
        let _ = eval.set_max_tick_count(limits.max_steps.max(1));
        // Must be registered before compilation (eval_module) so that the
        // bytecode is instrumented.
        eval.before_stmt_for_dap(BeforeStmtFunc::from_dyn(Box::new(StepGuard {
            steps: 0,
            max_steps: limits.max_steps,
            max_heap_bytes: limits.max_heap_bytes,
            deadline,
            tripped: tripped.clone(),
        })));

        let outcome = (|| -> Result<Json, MappingError> {
            eval.eval_module(ast, &globals).map_err(|e| classify_error(&e, tripped))?;
            let function = module
                .get(WRAPPER_NAME)
                .ok_or_else(|| MappingError::Runtime("internal error: mapping function not defined".to_owned()))?;
            let result = eval.eval_function(function, &[], &[]).map_err(|e| classify_error(&e, tripped))?;
            starlark_to_json(module.heap(), result, 0)
        })();
        drop(eval);
        outcome
    })
}

/// authentik's deep merge of a mapping result into the properties built so far:
/// nested objects merge recursively, arrays append only items not already present,
/// anything else overrides. Non-object `result` is ignored.
pub fn merge_properties(target: &mut Map<String, Json>, result: &Json) {
    let Json::Object(source) = result else {
        return;
    };
    for (key, value) in source {
        match (target.get_mut(key), value) {
            (Some(Json::Object(existing)), Json::Object(_)) => merge_properties(existing, value),
            (Some(Json::Array(existing)), Json::Array(items)) => {
                for item in items {
                    if !existing.contains(item) {
                        existing.push(item.clone());
                    }
                }
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Drop top-level keys whose value is null.
pub fn drop_nulls(target: &mut Map<String, Json>) {
    target.retain(|_, v| !v.is_null());
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

fn dialect() -> Dialect {
    Dialect { enable_f_strings: true, enable_load: false, ..Dialect::Extended }
}

/// Wrap the user's expression into a function definition. Line `k` (1-based) of
/// the expression becomes line `k + 1` of the wrapped source, which is exactly
/// the line number authentik reports.
fn wrap(expression: &str) -> String {
    let normalized = expression.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(normalized.len() + 64);
    out.push_str("def ");
    out.push_str(WRAPPER_NAME);
    out.push_str("():\n");
    let mut has_code = false;
    for line in normalized.lines() {
        // Starlark refuses tabs in indentation; expand leading tabs the way
        // Python does (to the next multiple of 8 columns).
        let mut col = 0usize;
        let mut rest = line;
        let mut indent = String::new();
        loop {
            if let Some(r) = rest.strip_prefix('\t') {
                let next = (col / 8 + 1) * 8;
                indent.extend(std::iter::repeat_n(' ', next - col));
                col = next;
                rest = r;
            } else if let Some(r) = rest.strip_prefix(' ') {
                indent.push(' ');
                col += 1;
                rest = r;
            } else {
                break;
            }
        }
        let trimmed = rest.trim_end();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            has_code = true;
        }
        out.push_str("    ");
        out.push_str(&indent);
        out.push_str(rest);
        out.push('\n');
    }
    if !has_code {
        // An empty (or comment-only) expression behaves like `return None`.
        out.push_str("    pass\n");
    }
    out
}

fn display_name(filename: Option<&str>) -> &str {
    filename.unwrap_or("None")
}

fn parse(expression: &str, filename: Option<&str>) -> Result<AstModule, MappingError> {
    check_bounds(expression, filename)?;
    let name = display_name(filename);
    let source = wrap(expression);
    AstModule::parse(name, source.clone(), &dialect()).map_err(|e| {
        // 0-based line/column in the wrapped source == 1-based line in the
        // user's expression; authentik reports wrapped 1-based lines.
        let pos = e.span().map(|s| s.resolve_span().begin);
        let (line, column) = pos.map(|p| (p.line, p.column)).unwrap_or((0, 0));
        let line = error_line(&source, line, column);
        let last_code_line = last_code_line(&source);
        // Python reports an unclosed bracket at the opening bracket; starlark
        // only notices at the end of input. Mimic Python in that case.
        if line >= last_code_line {
            if let Some((open, open_line)) = unclosed_bracket(&source) {
                return MappingError::Syntax(format!("'{open}' was never closed ({name}, line {})", open_line + 1));
            }
        }
        let msg = short_message(&e);
        MappingError::Syntax(format!("{msg} ({name}, line {})", line + 1))
    })
}

/// Starlark often reports errors at the newline token that ends a statement,
/// or at end of input. Point at the last line with code at or before the
/// reported position instead (0-based line in `source`).
fn error_line(source: &str, line: usize, column: usize) -> usize {
    let lines: Vec<&str> = source.split('\n').collect();
    let rest_blank = lines.get(line).map(|l| l.chars().skip(column).all(char::is_whitespace)).unwrap_or(true);
    if !rest_blank {
        return line;
    }
    let mut l = line.min(lines.len().saturating_sub(1));
    loop {
        let text = lines[l];
        let before: String = if l == line { text.chars().take(column).collect() } else { text.to_owned() };
        if !before.trim().is_empty() || l == 0 {
            return l;
        }
        l -= 1;
    }
}

/// 0-based index of the last line containing something other than blanks/comments.
fn last_code_line(source: &str) -> usize {
    source
        .split('\n')
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .map(|(i, _)| i)
        .last()
        .unwrap_or(0)
}

/// Scan Python-ish source (skipping strings and comments) and return the
/// innermost bracket left open at the end, with its 0-based line.
fn unclosed_bracket(source: &str) -> Option<(char, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut line = 0usize;
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => line += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\'' | '"' => {
                let triple = i + 2 < chars.len() && chars[i + 1] == c && chars[i + 2] == c;
                let quote_len = if triple { 3 } else { 1 };
                i += quote_len;
                loop {
                    if i >= chars.len() {
                        return None; // unterminated string: let starlark's message stand
                    }
                    let d = chars[i];
                    if d == '\\' {
                        if chars.get(i + 1) == Some(&'\n') {
                            line += 1;
                        }
                        i += 2;
                        continue;
                    }
                    if d == '\n' {
                        if !triple {
                            break; // unterminated single-line string
                        }
                        line += 1;
                    }
                    if d == c && (!triple || (i + 2 < chars.len() && chars[i + 1] == c && chars[i + 2] == c)) {
                        i += quote_len;
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            '(' | '[' | '{' => stack.push((c, line)),
            ')' | ']' | '}' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    stack.last().copied()
}

// ---------------------------------------------------------------------------
// Error handling
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum LimitKind {
    Steps,
    Memory,
    Time,
}

impl LimitKind {
    fn message(self) -> &'static str {
        match self {
            LimitKind::Steps => "step limit exceeded",
            LimitKind::Memory => "memory limit exceeded",
            LimitKind::Time => "time limit exceeded",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{}", .0.message())]
struct LimitError(LimitKind);

/// First meaningful line of an error's message, without location/diagnostic
/// decoration and without ANSI colour codes.
fn short_message(e: &starlark::Error) -> String {
    let full = strip_ansi(&e.without_diagnostic().to_string());
    let mut msg = full.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_owned();
    for prefix in ["Parse error: ", "error: "] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            msg = rest.to_owned();
        }
    }
    if msg.is_empty() {
        msg = "error".to_owned();
    }
    if msg.chars().count() > 300 {
        msg = msg.chars().take(300).collect::<String>() + "…";
    }
    msg
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Skip parameters until the final byte (@..~).
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn classify_error(e: &starlark::Error, tripped: &Cell<Option<LimitKind>>) -> MappingError {
    if let Some(kind) = tripped.get() {
        return MappingError::Limit(kind.message().to_owned());
    }
    let msg = short_message(e);
    // Starlark's own resource checks (tick count / heap size).
    if msg.starts_with("Heap memory limit") {
        return MappingError::Limit(LimitKind::Memory.message().to_owned());
    }
    if msg.starts_with("Execution duration limit") {
        return MappingError::Limit(LimitKind::Steps.message().to_owned());
    }
    if msg.starts_with("Evaluation cancelled") {
        return MappingError::Limit(LimitKind::Time.message().to_owned());
    }
    let mut out = msg;
    if let Some(span) = e.span() {
        let line = span.resolve_span().begin.line + 1;
        let _ = write!(out, " ({}, line {})", span.filename(), line);
    }
    MappingError::Runtime(out)
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Runs before every statement: counts steps, checks heap size and wall time.
struct StepGuard {
    steps: u64,
    max_steps: u64,
    max_heap_bytes: usize,
    deadline: Option<Instant>,
    tripped: Rc<Cell<Option<LimitKind>>>,
}

impl StepGuard {
    fn fail(&self, kind: LimitKind) -> starlark::Result<()> {
        self.tripped.set(Some(kind));
        Err(starlark::Error::new_other(LimitError(kind)))
    }
}

impl<'e> BeforeStmtFuncDyn<'e> for StepGuard {
    fn call<'v>(
        &mut self,
        _span: FileSpanRef,
        continued: bool,
        eval: &mut Evaluator<'v, '_, 'e>,
    ) -> starlark::Result<()> {
        if let Some(kind) = self.tripped.get() {
            return self.fail(kind);
        }
        if !continued {
            self.steps += 1;
            if self.steps > self.max_steps {
                return self.fail(LimitKind::Steps);
            }
        }
        // The evaluation runs inside one function call, where starlark never
        // garbage-collects, so this is the total allocated during the call.
        if eval.heap().allocated_bytes() > self.max_heap_bytes {
            return self.fail(LimitKind::Memory);
        }
        if self.steps.is_multiple_of(TIME_CHECK_EVERY) && past(self.deadline) {
            return self.fail(LimitKind::Time);
        }
        Ok(())
    }
}

struct DiscardPrint;

impl PrintHandler for DiscardPrint {
    fn println(&self, _text: &str) -> starlark::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Globals / extra builtins
// ---------------------------------------------------------------------------

fn globals() -> Globals {
    static GLOBALS: std::sync::OnceLock<Globals> = std::sync::OnceLock::new();
    GLOBALS.get_or_init(build_globals).clone()
}

fn build_globals() -> Globals {
    GlobalsBuilder::extended_by(&[
        LibraryExtension::StructType,
        LibraryExtension::Map,
        LibraryExtension::Filter,
        LibraryExtension::Json,
        LibraryExtension::SetType,
        LibraryExtension::Print,
    ])
    .with(mapping_builtins)
    .build()
}

/// `slugify` as used by authentik expressions: lowercase, runs of
/// non-alphanumerics become `-`, leading/trailing `-` trimmed.
fn slugify_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_dash = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.extend(c.to_lowercase());
        } else {
            pending_dash = true;
        }
    }
    out
}

#[starlark_module]
fn mapping_builtins(builder: &mut GlobalsBuilder) {
    /// Lowercase, replace runs of non-alphanumeric characters with `-`,
    /// trim leading/trailing `-`.
    fn slugify(#[starlark(require = pos)] value: Value) -> starlark::Result<String> {
        let s = match value.unpack_str() {
            Some(s) => s.to_owned(),
            None => value.to_str(),
        };
        Ok(slugify_str(&s))
    }

    /// A list of one item becomes that item, an empty list becomes `None`,
    /// anything else is returned unchanged.
    fn list_flatten<'v>(#[starlark(require = pos)] value: Value<'v>) -> starlark::Result<Value<'v>> {
        let items = ListRef::from_value(value)
            .map(|l| l.content())
            .or_else(|| TupleRef::from_value(value).map(|t| t.content()));
        Ok(match items {
            Some([]) => Value::new_none(),
            Some([single]) => *single,
            _ => value,
        })
    }
}

// ---------------------------------------------------------------------------
// JSON <-> Starlark
// ---------------------------------------------------------------------------

fn too_deep() -> MappingError {
    MappingError::Runtime("value nested too deeply".to_owned())
}

fn json_to_starlark<'v>(heap: Heap<'v>, value: &Json, depth: usize) -> Result<Value<'v>, MappingError> {
    if depth > MAX_JSON_DEPTH {
        return Err(too_deep());
    }
    Ok(match value {
        Json::Null => Value::new_none(),
        Json::Bool(b) => Value::new_bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                heap.alloc(i)
            } else if let Some(u) = n.as_u64() {
                heap.alloc(u)
            } else if let Some(f) = n.as_f64() {
                heap.alloc(f)
            } else {
                heap.alloc(n.to_string())
            }
        }
        Json::String(s) => heap.alloc(s.as_str()),
        Json::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(json_to_starlark(heap, item, depth + 1)?);
            }
            heap.alloc(AllocList(out))
        }
        Json::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map {
                out.push((heap.alloc(k.as_str()), json_to_starlark(heap, v, depth + 1)?));
            }
            heap.alloc(AllocDict(out))
        }
    })
}

fn starlark_to_json<'v>(heap: Heap<'v>, value: Value<'v>, depth: usize) -> Result<Json, MappingError> {
    if depth > MAX_JSON_DEPTH {
        return Err(too_deep());
    }
    if value.is_none() {
        return Ok(Json::Null);
    }
    if let Some(b) = value.unpack_bool() {
        return Ok(Json::Bool(b));
    }
    if let Some(s) = value.unpack_str() {
        return Ok(Json::String(s.to_owned()));
    }
    if value.get_type() == "int" {
        if let Ok(Some(i)) = i64::unpack_value(value) {
            return Ok(Json::from(i));
        }
        // Big integer: go through its decimal representation.
        let repr = value.to_str();
        return serde_json::from_str::<Json>(&repr)
            .or_else(|_| repr.parse::<f64>().map(Json::from))
            .map_err(|_| MappingError::Runtime(format!("cannot convert int {repr} to JSON")));
    }
    if let Some(f) = value.downcast_ref::<StarlarkFloat>() {
        return Ok(Json::from(f.0));
    }
    if let Some(list) = ListRef::from_value(value) {
        return list
            .content()
            .iter()
            .map(|v| starlark_to_json(heap, *v, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array);
    }
    if let Some(tuple) = TupleRef::from_value(value) {
        return tuple
            .content()
            .iter()
            .map(|v| starlark_to_json(heap, *v, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array);
    }
    if let Some(dict) = DictRef::from_value(value) {
        let mut out = Map::new();
        for (k, v) in dict.iter() {
            let key = match k.unpack_str() {
                Some(s) => s.to_owned(),
                None => k.to_str(),
            };
            out.insert(key, starlark_to_json(heap, v, depth + 1)?);
        }
        return Ok(Json::Object(out));
    }
    if value.get_type() == "set" {
        let items = value.iterate(heap).map_err(|e| MappingError::Runtime(short_message(&e)))?;
        return items.map(|v| starlark_to_json(heap, v, depth + 1)).collect::<Result<Vec<_>, _>>().map(Json::Array);
    }
    Err(MappingError::Runtime(format!("cannot convert {} to JSON", value.get_type())))
}

#[cfg(test)]
mod tests;
