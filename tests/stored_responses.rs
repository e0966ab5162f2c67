//! Stored responses driven by the official openai-python SDK (`tests/stored_responses.py`), on
//! the chat and the Anthropic route: `previous_response_id` over text turns and a tool loop,
//! retrieve, `input_items`, delete, `item_reference` the way the Vercel AI SDK sends it, and a
//! restart of the real binary, after a kill in the middle of many writes.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::fake::{client, FakeUpstream, Shim};
use common::stored::{run_python, Route, SIGNATURE};
use serde_json::{json, Value};

/// What each upstream request of the `conversation` phase must contain, in order.
fn expected(route: Route) -> Vec<Vec<String>> {
    let id = route.call_id();
    let s = |v: &[&str]| v.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    let turn1 = s(&["user: My name is Ada.", "assistant: Hello Ada."]);
    let turn2 = [
        turn1.clone(),
        s(&["user: What is my name?", "assistant: Your name is Ada."]),
    ]
    .concat();
    let call = format!("call {id} get_weather {{\"city\":\"Paris\"}}");
    let result = format!("result {id}: 18C and sunny");
    let tool_step = s(&[
        "user: Weather in Paris?",
        "reasoning: Paris, so the weather tool.",
        "assistant: Let me check.",
        &call,
        &result,
    ]);
    vec![
        s(&["system: Answer briefly.", "user: My name is Ada."]),
        // The previous instructions are not carried over, as in OpenAI's API.
        [turn1.clone(), s(&["user: What is my name?"])].concat(),
        [turn2, s(&["user: Thanks"])].concat(),
        s(&["user: Weather in Paris?"]),
        tool_step.clone(),
        [
            tool_step.clone(),
            s(&["assistant: It is 18C and sunny.", "user: And tomorrow?"]),
        ]
        .concat(),
        // Back-to-back user messages: one chat message (as for any request), Anthropic blocks.
        match route {
            Route::Chat => s(&["user: one\n\ntwo\n\nthree"]),
            Route::Anthropic => s(&["user: one", "user: two", "user: three"]),
        },
        [turn1, s(&["user: Spell it."])].concat(),
        tool_step,
        s(&["user: Forget this."]),
        s(&["user: Bye."]),
    ]
}

async fn conversation(route: Route) {
    let Some(py) = common::openai_python() else {
        return;
    };
    let up = FakeUpstream::start().await;
    let shim = Shim::start(route.settings(&up), |_| {}).await;
    for reply in [
        route.text("Hello Ada."),
        route.text("Your name is Ada."),
        route.text("You're welcome."),
        route.weather_call(),
        route.text("It is 18C and sunny."),
        route.text("Tomorrow too."),
        route.text("ok"),
        route.text("A-D-A."),
        route.text("Done."),
        route.text("ok"),
        route.text("ok"),
    ] {
        up.push(reply);
    }
    let ids = run_python(&py, &shim.url(""), "conversation", None).await;
    let seen: Vec<Vec<String>> = up.requests().iter().map(|r| route.lines(&r.body)).collect();
    let want = expected(route);
    assert_eq!(
        seen.len(),
        want.len(),
        "the 400s sent nothing upstream: {seen:#?}"
    );
    for (i, (got, want)) in seen.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "upstream request #{i}");
    }
    if route == Route::Anthropic {
        // The thinking's signature came back exactly, from the chain and from references.
        for i in [4, 5, 8] {
            let body = up.requests()[i].body.to_string();
            assert!(body.contains(SIGNATURE), "request #{i}: {body}");
        }
    }
    // Every output item of the tool turn is stored and referable by its id.
    assert_eq!(ids["t1_items"].as_array().unwrap().len(), 3, "{ids}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_keeps_a_conversation_on_the_chat_route() {
    conversation(Route::Chat).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_keeps_a_conversation_on_the_anthropic_route() {
    conversation(Route::Anthropic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_runs_as_written() {
    let Some(py) = common::openai_python() else {
        return;
    };
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("## Other Responses clients").unwrap()..];
    let start = section.find("```python\n").unwrap() + "```python\n".len();
    let code = &section[start..start + section[start..].find("```").unwrap()];
    let up = FakeUpstream::start().await;
    let mut settings = Route::Anthropic.settings(&up);
    settings[0]["slug"] = json!("claude-sonnet-4-5");
    let shim = Shim::start(settings, |_| {}).await;
    up.push(Route::Anthropic.text("Hello, Ada!"));
    up.push(Route::Anthropic.text("Your name is Ada."));
    let code = code.replace("http://127.0.0.1:8765", &shim.url(""));
    let out = tokio::process::Command::new(&py)
        .args(["-c", &code])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0], "Your name is Ada.");
    assert!(lines[1].starts_with("message msg_"), "{stdout}");
    assert_eq!(
        Route::Anthropic.lines(&up.requests()[1].body),
        [
            "user: My name is Ada. Say hello.",
            "assistant: Hello, Ada!",
            "user: What is my name?"
        ]
    );
    // `first` was deleted; `second` is still stored.
    let db = codex_shim::store::Store::open(&shim.database()).unwrap();
    assert_eq!(db.responses_size().unwrap().0, 1);
}

/// `codex-shim serve` as its own process, with its own state dir.
struct Serve {
    dir: std::path::PathBuf,
    port: u16,
    settings: std::path::PathBuf,
}

impl Serve {
    fn spawn(&self) -> Child {
        Command::new(env!("CARGO_BIN_EXE_codex-shim"))
            .args(["--port", &self.port.to_string(), "--settings"])
            .arg(&self.settings)
            .arg("serve")
            .env("HOME", self.dir.join("home"))
            .env("CODEX_SHIM_HOME", self.dir.join("state"))
            .env("CODEX_HOME", self.dir.join("codex"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client().get(self.url("/health")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "the shim did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One stored streaming request with a sizeable input; the id of its response once the
/// terminal event has been read (the shim stores a response before it sends that event).
async fn one_stored(url: String, n: usize) -> Option<String> {
    let body = json!({"model": "m", "stream": true, "input": format!("request {n}: {}", "x".repeat(16_000))});
    let mut r = client().post(url).json(&body).send().await.ok()?;
    let mut text = String::new();
    while let Ok(Some(chunk)) = r.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(at) = text.find("\"type\":\"response.completed\"") {
            let data = text[..at].rfind("data: ")?;
            let end = text[data..].find('\n').map(|e| data + e)?;
            let event: Value = serde_json::from_str(&text[data + 6..end]).ok()?;
            return event["response"]["id"].as_str().map(str::to_string);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_responses_survive_a_restart_and_a_kill_in_the_middle_of_writes() {
    let Some(py) = common::openai_python() else {
        return;
    };
    let up = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    let settings = dir.path().join("models.json");
    std::fs::write(&settings, Route::Chat.settings(&up).to_string()).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let serve = Serve {
        dir: dir.path().to_path_buf(),
        port,
        settings,
    };
    let mut child = serve.spawn();
    serve.wait_healthy().await;
    up.push(Route::Chat.text("Hello Ada."));
    up.push(Route::Chat.text("Your name is Ada."));
    let ids = run_python(&py, &serve.url(""), "restart-1", None).await;

    // Many streams store at once; the process is killed while they are still going.
    up.repeat(Route::Chat.text("stored"));
    let done = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for worker in 0..24 {
        let (url, done) = (serve.url("/v1/responses"), done.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                match one_stored(url.clone(), worker * 10_000 + i).await {
                    Some(id) => done.lock().unwrap().push(id),
                    None => return,
                }
            }
        }));
    }
    assert!(
        common::fake::eventually(60, || done.lock().unwrap().len() >= 150).await,
        "the streams did not get going"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let stored: Vec<String> = done.lock().unwrap().clone();

    // The database opens cleanly, and every response whose terminal event went out is there.
    let db = dir.path().join("state").join(codex_shim::store::FILE_NAME);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let mut child = serve.spawn();
    serve.wait_healthy().await;
    for id in &stored {
        let r = client()
            .get(serve.url(&format!("/v1/responses/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{id} was answered before the kill");
    }
    // The conversation from before the restart goes on.
    up.push(Route::Chat.text("You're welcome."));
    let before = up.requests().len();
    run_python(&py, &serve.url(""), "restart-2", Some(&ids)).await;
    let last = up.requests().last().unwrap().body.clone();
    assert_eq!(up.requests().len(), before + 1);
    assert_eq!(
        Route::Chat.lines(&last),
        [
            "user: My name is Ada.",
            "assistant: Hello Ada.",
            "user: What is my name?",
            "assistant: Your name is Ada.",
            "user: Thanks"
        ]
    );
    eprintln!(
        "{} responses answered before the kill, all stored",
        stored.len()
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
