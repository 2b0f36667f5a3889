use std::time::Duration;

use serde_json::{json, Map, Value as Json};

use super::*;

fn vars(v: Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m,
        _ => panic!("variables must be an object"),
    }
}

fn eval(expr: &str, v: Json) -> Result<Json, MappingError> {
    evaluate(expr, &vars(v), &Limits::default())
}

fn obj(v: Json) -> Map<String, Json> {
    vars(v)
}

// --- syntax ---------------------------------------------------------------

#[test]
fn syntax_error_reports_name_and_line_plus_one() {
    let err = check_syntax("x = 1\nreturn {\"a\": 1", Some("Plex avatar")).unwrap_err();
    let MappingError::Syntax(msg) = &err else {
        panic!("expected syntax error, got {err:?}");
    };
    assert!(!msg.is_empty());
    assert!(msg.ends_with("(Plex avatar, line 3)"), "unexpected message: {msg}");
}

#[test]
fn syntax_error_first_line_none_filename() {
    let err = check_syntax("return {", None).unwrap_err();
    let MappingError::Syntax(msg) = &err else {
        panic!("expected syntax error, got {err:?}");
    };
    assert!(msg.ends_with("(None, line 2)"), "unexpected message: {msg}");
    assert!(!msg.contains('\u{1b}'));
}

#[test]
fn syntax_error_bad_token_line() {
    let err = check_syntax("a = 1\nb = 2\nreturn a +* b", None).unwrap_err();
    let MappingError::Syntax(msg) = &err else {
        panic!("expected syntax error, got {err:?}");
    };
    assert!(msg.ends_with("(None, line 4)"), "unexpected message: {msg}");
}

#[test]
fn evaluate_reports_syntax_errors_too() {
    assert!(matches!(eval("return (", json!({})), Err(MappingError::Syntax(_))));
}

#[test]
fn valid_expressions_pass_check() {
    for expr in [
        "return {\"username\": info[\"username\"]}",
        "",
        "# just a comment",
        "if info.get(\"email\"):\n    return {\"email\": info[\"email\"].lower()}\nreturn None",
        "names = [g.lower() for g in info.get(\"groups\", [])]\nreturn {\"groups\": names}",
        "return f\"{info['username']}@plex\"",
        "def helper(x):\n    return x * 2\nreturn helper(2)",
        "if True:\n\treturn 1",
        "x = 1\r\nreturn x\r\n",
    ] {
        check_syntax(expr, Some("m")).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
    }
}

#[test]
fn load_is_rejected() {
    assert!(check_syntax("load(\"x.star\", \"y\")\nreturn 1", None).is_err());
}

// --- evaluation -----------------------------------------------------------

#[test]
fn evaluate_returns_dict_from_info() {
    let out =
        eval("return {\"attributes\": {\"avatar\": info.get(\"thumb\")}}", json!({"info": {"thumb": "x"}})).unwrap();
    assert_eq!(out, json!({"attributes": {"avatar": "x"}}));
}

#[test]
fn evaluate_missing_get_is_none() {
    let out = eval("return {\"attributes\": {\"avatar\": info.get(\"thumb\")}}", json!({"info": {}})).unwrap();
    assert_eq!(out, json!({"attributes": {"avatar": null}}));
}

#[test]
fn no_return_is_null() {
    assert_eq!(eval("x = 1", json!({})).unwrap(), Json::Null);
    assert_eq!(eval("", json!({})).unwrap(), Json::Null);
    assert_eq!(eval("# nothing", json!({})).unwrap(), Json::Null);
}

#[test]
fn python_isms_work() {
    let expr = r#"
username = info["username"].lower().strip()
parts = info["email"].split("@")
groups = [g.upper() for g in info.get("groups", []) if g]
if len(groups) > 1:
    kind = "many"
else:
    kind = "few"
return {
    "username": username,
    "domain": parts[1],
    "groups": groups,
    "kind": kind,
    "id": str(info["id"]),
    "greeting": f"hi {username}",
    "fmt": "{}-{}".format(username, len(parts)),
    "slug": slugify(" Hello,  World! "),
    "one": list_flatten(["a"]),
    "none": list_flatten([]),
    "many": list_flatten(["a", "b"]),
    "tuple": (1, 2),
    "admin": info.get("admin", False) == True,
}
"#;
    let out =
        eval(expr, json!({"info": {"username": " Alice ", "email": "a@b.c", "groups": ["x", "", "y"], "id": 42}}))
            .unwrap();
    assert_eq!(
        out,
        json!({
            "username": "alice",
            "domain": "b.c",
            "groups": ["X", "Y"],
            "kind": "many",
            "id": "42",
            "greeting": "hi alice",
            "fmt": "alice-2",
            "slug": "hello-world",
            "one": "a",
            "none": null,
            "many": ["a", "b"],
            "tuple": [1, 2],
            "admin": false,
        })
    );
}

#[test]
fn variables_are_mutable_copies() {
    let out =
        eval("info[\"extra\"] = 1\ninfo[\"list\"].append(3)\nreturn info", json!({"info": {"list": [1, 2]}})).unwrap();
    assert_eq!(out, json!({"list": [1, 2, 3], "extra": 1}));
}

#[test]
fn tab_indented_expression_runs() {
    let out = eval("if True:\n\treturn 1\nreturn 2", json!({})).unwrap();
    assert_eq!(out, json!(1));
}

#[test]
fn runtime_error_missing_key() {
    let err = eval("return info[\"missing\"]", json!({"info": {}})).unwrap_err();
    let MappingError::Runtime(msg) = &err else {
        panic!("expected runtime error, got {err:?}");
    };
    assert!(!msg.trim().is_empty());
    assert!(!msg.contains('\n'), "message should be one line: {msg:?}");
    assert!(!msg.contains('\u{1b}'));
    assert!(msg.contains("line 2"), "message should contain the line: {msg}");
}

#[test]
fn runtime_error_fail_and_type_error() {
    let err = eval("fail(\"nope\")", json!({})).unwrap_err();
    match &err {
        MappingError::Runtime(m) => assert!(m.contains("nope"), "{m}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(eval("return 1 + \"a\"", json!({})), Err(MappingError::Runtime(_))));
    assert!(matches!(
        eval("return undefined_name", json!({})),
        Err(MappingError::Syntax(_)) | Err(MappingError::Runtime(_))
    ));
}

#[test]
fn unconvertible_result_is_runtime_error() {
    let err = eval("def f():\n    pass\nreturn f", json!({})).unwrap_err();
    match &err {
        MappingError::Runtime(m) => {
            assert!(m.starts_with("cannot convert function to JSON"), "{m}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn self_referencing_list_is_error_not_overflow() {
    let err = eval("x = []\nx.append(x)\nreturn x", json!({})).unwrap_err();
    assert!(matches!(err, MappingError::Runtime(_)), "{err:?}");
}

#[test]
fn deep_recursion_is_stopped() {
    let err = eval("def f(n):\n    return f(n + 1)\nreturn f(0)", json!({})).unwrap_err();
    assert!(!err.to_string().is_empty());
}

#[test]
fn no_environment_access() {
    for expr in ["return open(\"/etc/passwd\")", "import os", "return __import__(\"os\")"] {
        assert!(eval(expr, json!({})).is_err(), "{expr} should fail");
    }
    // print is accepted but discarded.
    assert_eq!(eval("print(\"hi\")\nreturn 1", json!({})).unwrap(), json!(1));
}

// --- JSON round-trip -------------------------------------------------------

#[test]
fn json_round_trip() {
    let value = json!({
        "z": 1,
        "a": [1, -2, 3.5, -0.25, 1e20, "s", true, false, null, {"nested": {"deep": [[]]}}],
        "neg": -9007199254740993i64,
        "big": 9223372036854775807i64,
        "empty": {},
        "unicode": "héllo ✓",
    });
    let out = eval("return v", json!({"v": value.clone()})).unwrap();
    assert_eq!(out, value);
}

#[test]
fn numbers_are_typed_in_starlark() {
    let out = eval("return [type(a), type(b), a + 1, b * 2, 7 // 2, 7 / 2]", json!({"a": -3, "b": 1.5})).unwrap();
    assert_eq!(out, json!(["int", "float", -2, 3.0, 3, 3.5]));
}

#[test]
fn sets_become_arrays() {
    let out = eval("return set([3, 1, 3])", json!({})).unwrap();
    assert_eq!(out, json!([3, 1]));
}

#[test]
fn non_string_dict_keys_are_stringified() {
    let out = eval("return {1: \"a\", True: \"b\", None: \"c\"}", json!({})).unwrap();
    assert_eq!(out, json!({"1": "a", "True": "b", "None": "c"}));
}

// --- limits -----------------------------------------------------------------

#[test]
fn step_limit() {
    let limits = Limits { max_steps: 10_000, max_heap_bytes: 32 * 1024 * 1024, timeout: Duration::from_secs(30) };
    let err = evaluate("for i in range(100000000):\n    pass", &Map::new(), &limits).unwrap_err();
    assert_eq!(err, MappingError::Limit("step limit exceeded".to_owned()));
}

#[test]
fn step_limit_in_comprehension() {
    let limits = Limits { max_steps: 10_000, max_heap_bytes: 1024 * 1024 * 1024, timeout: Duration::from_secs(30) };
    let err = evaluate("return len([i for i in range(5000000)])", &Map::new(), &limits).unwrap_err();
    assert_eq!(err, MappingError::Limit("step limit exceeded".to_owned()));
}

#[test]
fn default_limits_stop_huge_loop() {
    let err = evaluate("for i in range(100000000):\n    pass", &Map::new(), &Limits::default()).unwrap_err();
    assert!(matches!(err, MappingError::Limit(_)), "{err:?}");
}

#[test]
fn time_limit() {
    let limits = Limits { max_steps: u64::MAX, max_heap_bytes: 1024 * 1024 * 1024, timeout: Duration::from_millis(50) };
    let started = std::time::Instant::now();
    let err = evaluate("for i in range(100000000):\n    pass", &Map::new(), &limits).unwrap_err();
    assert_eq!(err, MappingError::Limit("time limit exceeded".to_owned()));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn memory_limit() {
    let limits = Limits { max_steps: u64::MAX, max_heap_bytes: 4 * 1024 * 1024, timeout: Duration::from_secs(30) };
    let expr = "x = []\nfor i in range(100000):\n    x.append(\"a\" * 10000 + str(i))\nreturn len(x)";
    let err = evaluate(expr, &Map::new(), &limits).unwrap_err();
    assert_eq!(err, MappingError::Limit("memory limit exceeded".to_owned()));
}

#[test]
fn limits_default_values() {
    let l = Limits::default();
    assert_eq!(l.max_steps, 1_000_000);
    assert_eq!(l.max_heap_bytes, 32 * 1024 * 1024);
    assert_eq!(l.timeout, Duration::from_secs(1));
}

// --- merge / drop_nulls ------------------------------------------------------

#[test]
fn merge_nested_objects() {
    let mut target = obj(json!({"attributes": {"a": 1, "nested": {"x": 1}}, "name": "old"}));
    merge_properties(&mut target, &json!({"attributes": {"b": 2, "nested": {"y": 2}}, "name": "new"}));
    assert_eq!(
        Json::Object(target),
        json!({"attributes": {"a": 1, "b": 2, "nested": {"x": 1, "y": 2}}, "name": "new"})
    );
}

#[test]
fn merge_lists_append_unique() {
    let mut target = obj(json!({"groups": ["a", "b"], "objs": [{"k": 1}]}));
    merge_properties(&mut target, &json!({"groups": ["b", "c", "c"], "objs": [{"k": 1}, {"k": 2}]}));
    assert_eq!(Json::Object(target), json!({"groups": ["a", "b", "c"], "objs": [{"k": 1}, {"k": 2}]}));
}

#[test]
fn merge_overrides_mismatched_types_and_ignores_non_objects() {
    let mut target = obj(json!({"a": [1], "b": {"x": 1}, "c": 1}));
    merge_properties(&mut target, &json!({"a": "s", "b": [1], "c": {"y": 2}, "d": null}));
    assert_eq!(Json::Object(target.clone()), json!({"a": "s", "b": [1], "c": {"y": 2}, "d": null}));
    let before = target.clone();
    merge_properties(&mut target, &json!([1, 2]));
    merge_properties(&mut target, &Json::Null);
    merge_properties(&mut target, &json!("x"));
    assert_eq!(target, before);
}

#[test]
fn drop_nulls_top_level_only() {
    let mut target = obj(json!({"a": null, "b": 1, "c": {"d": null}, "e": [null]}));
    drop_nulls(&mut target);
    assert_eq!(Json::Object(target), json!({"b": 1, "c": {"d": null}, "e": [null]}));
}

#[test]
fn slugify_helper() {
    assert_eq!(slugify_str("Hello World"), "hello-world");
    assert_eq!(slugify_str("--A__b..C--"), "a-b-c");
    assert_eq!(slugify_str("!!!"), "");
}
