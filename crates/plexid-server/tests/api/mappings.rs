//! `/api/v3/propertymappings/source/plex/` and the test endpoint.

use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

const LIST: &str = "/api/v3/propertymappings/source/plex/";

async fn crud_and_syntax(app: &TestApp) {
    let expression = "return {\"attributes\": {\"avatar\": info.get(\"thumb\")}}";
    let (status, created) =
        app.post(LIST, json!({"name": "plex-avatar", "expression": expression, "managed": "sneaky"})).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created,
        json!({"pk": created["pk"], "managed": null, "name": "plex-avatar", "expression": expression,
               "component": "ak-property-mapping-source-plex-form", "verbose_name": "Plex Source Property Mapping",
               "verbose_name_plural": "Plex Source Property Mappings",
               "meta_model_name": "authentik_sources_plex.plexsourcepropertymapping"}),
        "managed is read-only (D8)"
    );
    let pk = created["pk"].as_str().unwrap().to_owned();
    let (status, errors) = app.post(LIST, json!({"name": "x", "expression": "return {"})).await;
    assert_eq!(status, 400);
    let message = errors["expression"][0].as_str().unwrap();
    assert!(message.starts_with("Expression Syntax Error: "), "{message}");
    assert!(message.contains("(None, line 2)"), "{message}");
    let (status, dup) = app.post(LIST, json!({"name": "plex-avatar", "expression": "return {}"})).await;
    assert_eq!((status.as_u16(), dup), (400, json!({"name": ["Property Mapping with this name already exists."]})));
    let (status, errors) = app.post(LIST, json!({})).await;
    assert_eq!(
        (status.as_u16(), errors),
        (400, json!({"name": ["This field is required."], "expression": ["This field is required."]}))
    );

    let item = format!("{LIST}{pk}/");
    assert_eq!(app.get(&item).await.1, created);
    let (status, updated) = app.patch(&item, json!({"expression": "return {\"name\": info[\"title\"]}"})).await;
    assert_eq!((status.as_u16(), updated["name"].clone()), (200, json!("plex-avatar")));
    let (status, errors) = app.patch(&item, json!({"expression": "return ("})).await;
    assert_eq!(status, 400);
    assert!(errors["expression"][0].as_str().unwrap().contains("(plex-avatar, line 2)"), "{errors}");
    assert_eq!(
        app.get(&item).await.1["expression"],
        "return {\"name\": info[\"title\"]}",
        "a bad update changes nothing"
    );
    let (status, put) = app.put(&item, json!({"name": "renamed", "expression": "return None"})).await;
    assert_eq!((status.as_u16(), put["name"].clone()), (200, json!("renamed")));
    assert_eq!(app.get(&format!("{LIST}not-a-uuid/")).await.0, 404);
    assert_eq!(app.get(&format!("{LIST}{}/", uuid::Uuid::new_v4())).await.0, 404);

    // Filters and search.
    app.post(LIST, json!({"name": "other", "expression": "return {}"})).await;
    let (_, by_name) = app.get(&format!("{LIST}?name=renamed")).await;
    assert_eq!(by_name["pagination"]["count"], 1);
    let (_, searched) = app.get(&format!("{LIST}?search=OTH")).await;
    assert_eq!(searched["results"][0]["name"], "other");
    let (_, unmanaged) = app.get(&format!("{LIST}?managed__isnull=true&ordering=-name")).await;
    assert_eq!(unmanaged["results"][0]["name"], "renamed");
    let (status, body) = app.get(&format!("{LIST}?managed=nope")).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"managed": ["Select a valid choice. nope is not one of the available choices."]}))
    );

    // A source using it; used_by; deleting removes it from the source's lists.
    let (status, _) = app
        .post("/api/v3/sources/plex/", json!({"name": "P", "slug": "p", "plex_token": "t", "user_property_mappings": [pk], "group_property_mappings": [pk]}))
        .await;
    assert_eq!(status, 201);
    let (_, used) = app.get(&format!("{item}used_by/")).await;
    assert_eq!(used.as_array().unwrap().len(), 1);
    assert_eq!(used[0]["model_name"], "source");
    assert_eq!(used[0]["action"], "cascade_many");
    assert_eq!(app.delete(&item).await.0, 204);
    let (_, source) = app.get("/api/v3/sources/plex/p/").await;
    assert_eq!(
        (source["user_property_mappings"].clone(), source["group_property_mappings"].clone()),
        (json!([]), json!([]))
    );
}
both!(crud_and_syntax, crud_and_syntax);

async fn test_endpoint(app: &TestApp) {
    let expression = "return {\"attributes\": {\"avatar\": info.get(\"thumb\")}}";
    let (_, mapping) = app.post(LIST, json!({"name": "avatar", "expression": expression})).await;
    let url = format!("/api/v3/propertymappings/all/{}/test/", mapping["pk"].as_str().unwrap());
    let context = json!({"context": {"info": {"thumb": "https://plex.tv/users/x/avatar"}}});
    let (status, result) = app.post(&format!("{url}?format_result=false"), context.clone()).await;
    assert_eq!(
        (status.as_u16(), result),
        (
            200,
            json!({"result": "{\"attributes\": {\"avatar\": \"https://plex.tv/users/x/avatar\"}}", "successful": true})
        )
    );
    let (_, formatted) = app.post(&format!("{url}?format_result=true"), context).await;
    assert_eq!(
        formatted["result"],
        "{\n    \"attributes\": {\n        \"avatar\": \"https://plex.tv/users/x/avatar\"\n    }\n}"
    );
    // D13: a failing mapping says why.
    let (_, failing) = app.post(LIST, json!({"name": "failing", "expression": "return info[\"missing\"]"})).await;
    let url = format!("/api/v3/propertymappings/all/{}/test/", failing["pk"].as_str().unwrap());
    let (status, result) = app.post(&url, json!({"context": {"info": {}}})).await;
    assert_eq!((status.as_u16(), result["successful"].clone()), (200, json!(false)));
    assert!(!result["result"].as_str().unwrap().is_empty());
    let (_, runaway) = app
        .post(LIST, json!({"name": "runaway", "expression": "for i in range(100000000):\n    pass\nreturn 1"}))
        .await;
    let url = format!("/api/v3/propertymappings/all/{}/test/", runaway["pk"].as_str().unwrap());
    let (status, result) = app.post(&url, json!({})).await;
    assert_eq!((status.as_u16(), result["successful"].clone()), (200, json!(false)), "{result}");
    let (status, errors) = app.post(&url, json!({"user": 999999})).await;
    assert_eq!((status.as_u16(), errors), (400, json!({"user": ["Invalid pk \"999999\" - object does not exist."]})));
    assert_eq!(
        app.post(&format!("/api/v3/propertymappings/all/{}/test/", uuid::Uuid::new_v4()), json!({})).await.0,
        404
    );
}
both!(test_endpoint, test_endpoint);

/// The process's peak resident memory (VmHWM), in MiB.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

/// The expressions that once ran 22 s and took 7.9 GB: they end within twice the time limit,
/// the server's memory stays small, ten at once queue for the workers, and the health endpoint
/// answers throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_expressions_hit_hard_limits() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    let mut urls = Vec::new();
    for (name, expression) in
        [("lists", "return [[0]*10000000 for i in range(100)]"), ("strings", "return (\"a\"*1000000)*2000")]
    {
        let (status, mapping) = app.post(LIST, json!({"name": name, "expression": expression})).await;
        assert_eq!(status, 201, "{mapping}");
        urls.push(format!("/api/v3/propertymappings/all/{}/test/", mapping["pk"].as_str().unwrap()));
    }
    for url in &urls {
        let started = std::time::Instant::now();
        let (status, result) = app.post(url, json!({})).await;
        assert_eq!((status.as_u16(), result["successful"].clone()), (200, json!(false)), "{result}");
        let message = result["result"].as_str().unwrap();
        assert!(message.contains("limit exceeded"), "{message}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }
    // Ten at once, while the health endpoint is asked every 50 ms.
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let url = format!("{}{}", app.base, urls[i % 2]);
        let token = app.token.clone();
        tasks.spawn(async move {
            let response = reqwest::Client::new().post(url).bearer_auth(token).json(&json!({})).send().await.unwrap();
            response.json::<serde_json::Value>().await.unwrap()
        });
    }
    let health = format!("{}/-/health/live/", app.base);
    let mut slowest = std::time::Duration::ZERO;
    while !tasks.is_empty() {
        let asked = std::time::Instant::now();
        assert_eq!(reqwest::get(&health).await.unwrap().status(), 200);
        slowest = slowest.max(asked.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        while let Some(done) = tasks.try_join_next() {
            assert_eq!(done.unwrap()["successful"], false);
        }
    }
    assert!(slowest < std::time::Duration::from_millis(500), "health answered in {slowest:?} at worst");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "ten queued for two workers: {:?}",
        started.elapsed()
    );
    assert!(peak_rss_mib() < 100, "peak resident memory {} MiB", peak_rss_mib());
    // The workers are usable afterwards.
    let (_, ok) = app.post(LIST, json!({"name": "fine", "expression": "return {\"a\": 1}"})).await;
    let url = format!("/api/v3/propertymappings/all/{}/test/", ok["pk"].as_str().unwrap());
    assert_eq!(app.post(&url, json!({})).await.1["successful"], true);
}

/// Expressions built to overflow a parser's stack (issue 19: 50 KB of minus signs once aborted
/// the whole server): they are refused as field errors, an expression over the length limit too,
/// and the server answers throughout.
async fn deep_expressions_cannot_crash_the_server(app: &TestApp) {
    let minus = format!("return {}1", "-".repeat(50_000));
    let brackets = format!("return {}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let (_, kept) = app.post(LIST, json!({"name": "kept", "expression": "return 1"})).await;
    let item = format!("{LIST}{}/", kept["pk"].as_str().unwrap());
    for expression in [&minus, &brackets] {
        let (status, errors) = app.post(LIST, json!({"name": "deep", "expression": expression})).await;
        assert_eq!(status, 400, "{errors}");
        let message = errors["expression"][0].as_str().unwrap();
        assert_eq!(
            message,
            "Expression Syntax Error: expression nested too deeply (more than 500 levels) (None, line 2)"
        );
        let (status, errors) = app.patch(&item, json!({"expression": expression})).await;
        assert_eq!(status, 400, "{errors}");
        assert!(errors["expression"][0].as_str().unwrap().contains("(kept, line 2)"), "{errors}");
        assert_eq!(reqwest::get(format!("{}/-/health/live/", app.base)).await.unwrap().status(), 200);
    }
    let long = format!("return \"{}\"", "x".repeat(plexid_mapping::MAX_EXPRESSION_CHARS));
    let (status, errors) = app.post(LIST, json!({"name": "long", "expression": long})).await;
    assert_eq!(
        (status.as_u16(), errors),
        (400, json!({"expression": ["Ensure this field has no more than 65536 characters."]}))
    );
    assert_eq!(app.get(&item).await.1["expression"], "return 1", "nothing was changed");
    assert_eq!(app.count(LIST).await, 1, "nothing was created");
    // The limits leave room: a long, flat expression parses and runs.
    let flat: Vec<String> = (0..2_000).map(|i| format!("\"user{i}\": [{i}, -{i}]")).collect();
    let flat = format!("table = {{{}}}\nreturn table[\"user7\"]", flat.join(", "));
    assert_eq!(app.patch(&item, json!({"expression": flat})).await.0, 200);
    let url = format!("/api/v3/propertymappings/all/{}/test/", kept["pk"].as_str().unwrap());
    assert_eq!(app.post(&url, json!({})).await.1["result"], "[7, -7]");
}
both!(deep_expressions_cannot_crash_the_server, deep_expressions_cannot_crash_the_server);
