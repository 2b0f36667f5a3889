//! Hard limits for mapping expressions: parsing and evaluation in worker processes.
//!
//! Starlark's own limits count statements and its heap, but one statement can allocate
//! gigabytes (`[0] * 10000000` inside a comprehension) or run for seconds inside a builtin, and
//! its parser and compiler recurse once per level of the syntax tree (a stack overflow aborts a
//! process). So expressions are parsed and run in separate worker processes (the `plexid`
//! binary started with a hidden subcommand that calls [`serve`]), after the lexical limits of
//! [`crate::check_bounds`]:
//!
//! * the worker caps its own data segment with `RLIMIT_DATA` (heap limit plus a margin), so an
//!   allocation beyond it fails and the worker dies instead of the server, and lets its main
//!   thread's stack grow to [`WORKER_STACK_BYTES`];
//! * the [`Pool`] kills a worker that has not answered by its deadline (1.5 × the time limit)
//!   and starts a fresh one for the next evaluation;
//! * a worker that dies says why on its standard error, which the pool logs (at warn) and reads
//!   to report the cause: memory, stack, or something else;
//! * a worker found dead while idle is replaced before it is given a request, so it cannot fail
//!   the next evaluation;
//! * at most `size` evaluations run at once; more wait for a worker, so many sign-ins at once
//!   cannot multiply the memory.
//!
//! The protocol is one JSON line per request (`{"expression", "variables", "check",
//! "filename"}`) and one per answer (`{"ok": value}` or `{"error": {"kind", "message"}}`) over
//! the worker's stdin and stdout.

use std::io::{BufRead, Write};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use crate::{check_syntax, evaluate, Limits, MappingError};

/// Memory a worker may use besides the Starlark heap (the program, the interpreter, the JSON).
pub const MEMORY_MARGIN: usize = 48 * 1024 * 1024;

/// How far a worker's main thread stack may grow (it is not part of `RLIMIT_DATA`).
pub const WORKER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// How much of a worker's standard error is kept to explain its death.
const STDERR_KEPT: usize = 4096;

/// How long a dead worker's exit status and last words are waited for.
const DEATH_WAIT: Duration = Duration::from_secs(2);

#[derive(Serialize, Deserialize)]
struct Request {
    expression: String,
    #[serde(default)]
    variables: Map<String, Json>,
    /// Only parse (the save of a mapping).
    #[serde(default)]
    check: bool,
    /// The mapping's name, for syntax errors.
    #[serde(default)]
    filename: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Ok(Json),
    Error { kind: String, message: String },
}

impl From<Result<Json, MappingError>> for Answer {
    fn from(result: Result<Json, MappingError>) -> Self {
        match result {
            Ok(value) => Answer::Ok(value),
            Err(error) => {
                let kind = match &error {
                    MappingError::Syntax(_) => "syntax",
                    MappingError::Runtime(_) => "runtime",
                    MappingError::Limit(_) => "limit",
                };
                Answer::Error { kind: kind.into(), message: error.to_string() }
            }
        }
    }
}

impl From<Answer> for Result<Json, MappingError> {
    fn from(answer: Answer) -> Self {
        match answer {
            Answer::Ok(value) => Ok(value),
            Answer::Error { kind, message } => Err(match kind.as_str() {
                "syntax" => MappingError::Syntax(message),
                "limit" => MappingError::Limit(message),
                _ => MappingError::Runtime(message),
            }),
        }
    }
}

/// Sets the soft limit of the data segment (`data_segment`, the hard one too, so it cannot be
/// raised again) or of the stack to `bytes`, within the hard limit.
#[cfg(unix)]
fn set_limit(data_segment: bool, bytes: usize) -> std::io::Result<()> {
    let resource = if data_segment { libc::RLIMIT_DATA } else { libc::RLIMIT_STACK };
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read or fill the struct we pass and change only this
    // process's limits.
    let result = unsafe {
        if libc::getrlimit(resource, &mut limit) != 0 {
            -1
        } else {
            let wanted = bytes as libc::rlim_t;
            let cur = if limit.rlim_max == libc::RLIM_INFINITY { wanted } else { wanted.min(limit.rlim_max) };
            let max = if data_segment { cur } else { limit.rlim_max };
            libc::setrlimit(resource, &libc::rlimit { rlim_cur: cur, rlim_max: max })
        }
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Caps this process's data segment (heap and anonymous mappings) at `heap_bytes`, and lets the
/// main thread's stack grow to [`WORKER_STACK_BYTES`] (the kernel reads that limit whenever the
/// stack grows).
#[cfg(unix)]
fn limit_process(heap_bytes: usize) -> std::io::Result<()> {
    set_limit(true, heap_bytes)?;
    if let Err(error) = set_limit(false, WORKER_STACK_BYTES) {
        eprintln!("mapping worker: cannot raise the stack limit: {error}");
    }
    Ok(())
}

#[cfg(not(unix))]
fn limit_process(_heap_bytes: usize) -> std::io::Result<()> {
    Ok(())
}

/// The worker's side: sets its limits, then answers requests from stdin until it closes.
pub fn serve(limits: &Limits) -> std::io::Result<()> {
    limit_process(limits.max_heap_bytes + MEMORY_MARGIN)?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        let answer: Answer = match serde_json::from_str::<Request>(&line) {
            Ok(request) if request.check => {
                check_syntax(&request.expression, request.filename.as_deref()).map(|()| Json::Null).into()
            }
            Ok(request) => evaluate(&request.expression, &request.variables, limits).into(),
            Err(error) => Answer::Error { kind: "runtime".into(), message: format!("bad request: {error}") },
        };
        serde_json::to_writer(&mut stdout, &answer)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}

/// A running worker and the tail of what it wrote to standard error.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Has the process ended (while it sat idle, for instance)?
    fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits (briefly) for the exit status and the last of standard error of a worker that
    /// closed its output.
    async fn last_words(mut self) -> (Option<ExitStatus>, String) {
        let status = tokio::time::timeout(DEATH_WAIT, self.child.wait()).await.ok().and_then(Result::ok);
        let _ = tokio::time::timeout(DEATH_WAIT, &mut self.reader).await;
        let stderr = self.stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
        (status, stderr)
    }
}

/// Logs each line a worker writes to standard error and keeps the last [`STDERR_KEPT`] bytes.
fn read_stderr(
    stderr: tokio::process::ChildStderr,
    pid: Option<u32>,
    kept: Arc<Mutex<String>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line: String = line.chars().take(1000).collect();
            tracing::warn!(pid, line = %line, "mapping worker wrote to standard error");
            let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
            kept.push_str(&line);
            kept.push('\n');
            if kept.len() > STDERR_KEPT {
                let cut = kept.len() - STDERR_KEPT;
                let cut = (cut..kept.len()).find(|i| kept.is_char_boundary(*i)).unwrap_or(kept.len());
                kept.drain(..cut);
            }
        }
    })
}

/// Why a worker died, from its exit status and last words: an allocation over the memory cap,
/// a stack overflow (an expression nested too deeply for the parser), or something else.
pub fn cause_of_death(status: Option<ExitStatus>, stderr: &str, limits: &Limits) -> MappingError {
    #[cfg(unix)]
    let signal = status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    if stderr.contains("memory allocation of")
        || stderr.contains("out of memory")
        || stderr.contains("capacity overflow")
    {
        return MappingError::Limit(format!(
            "memory limit exceeded (the expression needed more than {} MiB)",
            (limits.max_heap_bytes + MEMORY_MARGIN) / (1024 * 1024)
        ));
    }
    #[cfg(unix)]
    let segfault = signal == Some(libc::SIGSEGV);
    #[cfg(not(unix))]
    let segfault = false;
    if stderr.contains("overflowed its stack") || segfault {
        return MappingError::Limit("stack limit exceeded (the expression is nested too deeply)".into());
    }
    let how = match (status.and_then(|s| s.code()), signal) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => "no exit status".to_owned(),
    };
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("nothing on standard error");
    MappingError::Runtime(format!("the mapping worker stopped unexpectedly ({how}): {last}"))
}

/// How to start a worker: the program and its arguments.
#[derive(Clone, Debug)]
pub struct WorkerCommand {
    pub program: std::path::PathBuf,
    pub args: Vec<String>,
}

/// Evaluations in worker processes, at most `size` at once.
pub struct Pool {
    command: WorkerCommand,
    limits: Limits,
    permits: Semaphore,
    idle: Mutex<Vec<Worker>>,
}

/// How one exchange with a worker went.
enum Exchange {
    Answered(Worker, Answer),
    /// Writing the request failed: the worker was dead before it could read it.
    NotDelivered,
    /// It closed its output or sent something unreadable after reading the request.
    Died(Worker),
    TimedOut(Worker),
}

impl Pool {
    pub fn new(command: WorkerCommand, limits: Limits, size: usize) -> Pool {
        Pool { command, limits, permits: Semaphore::new(size.max(1)), idle: Mutex::new(Vec::new()) }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How long an evaluation may take before its worker is killed.
    fn deadline(&self) -> Duration {
        self.limits.timeout + self.limits.timeout / 2
    }

    fn start(&self) -> Result<Worker, MappingError> {
        let mut child = Command::new(&self.command.program)
            .args(&self.command.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| MappingError::Runtime(format!("cannot start a mapping worker: {e}")))?;
        let missing = || MappingError::Runtime("a mapping worker's pipes are missing".into());
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(missing)?);
        let stderr = Arc::new(Mutex::new(String::new()));
        let reader = read_stderr(child.stderr.take().ok_or_else(missing)?, child.id(), Arc::clone(&stderr));
        Ok(Worker { child, stdin, stdout, stderr, reader })
    }

    /// An idle worker that is still alive, or a new one.
    fn worker(&self) -> Result<(Worker, bool), MappingError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(mut worker) = idle else { return Ok((self.start()?, false)) };
            if !worker.has_exited() {
                return Ok((worker, true));
            }
            tracing::warn!(status = ?worker.child.try_wait(), "a mapping worker died while idle; starting another");
        }
    }

    async fn exchange(&self, mut worker: Worker, line: &[u8]) -> Exchange {
        if worker.stdin.write_all(line).await.is_err() || worker.stdin.flush().await.is_err() {
            return Exchange::NotDelivered;
        }
        let mut answer = String::new();
        match tokio::time::timeout(self.deadline(), worker.stdout.read_line(&mut answer)).await {
            Err(_) => Exchange::TimedOut(worker),
            Ok(Ok(n)) if n > 0 => match serde_json::from_str(&answer) {
                Ok(parsed) => Exchange::Answered(worker, parsed),
                Err(_) => Exchange::Died(worker),
            },
            Ok(_) => Exchange::Died(worker),
        }
    }

    /// Sends `request` to a worker within the limits. A worker that overruns its time is
    /// killed; one that dies is replaced, and its cause of death is the answer.
    async fn ask(&self, request: &Request) -> Result<Json, MappingError> {
        let _permit = self.permits.acquire().await.map_err(|_| MappingError::Runtime("the pool is closed".into()))?;
        let mut line = serde_json::to_vec(request).map_err(|e| MappingError::Runtime(e.to_string()))?;
        line.push(b'\n');
        // A reused worker may have died since its last answer; then the request is given to a
        // new one (once: a new worker that cannot take a request is a real failure).
        let mut tries = 0;
        loop {
            tries += 1;
            let (worker, reused) = self.worker()?;
            match self.exchange(worker, &line).await {
                Exchange::Answered(worker, answer) => {
                    self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(worker);
                    return answer.into();
                }
                Exchange::NotDelivered if reused && tries == 1 => {
                    tracing::warn!("a mapping worker had died while idle; starting another");
                }
                Exchange::NotDelivered => {
                    return Err(MappingError::Runtime("a new mapping worker did not take its request".into()));
                }
                Exchange::Died(worker) => {
                    let (status, stderr) = worker.last_words().await;
                    let cause = cause_of_death(status, &stderr, &self.limits);
                    tracing::warn!(?status, cause = %cause, "a mapping worker died during an evaluation");
                    return Err(cause);
                }
                Exchange::TimedOut(mut worker) => {
                    let _ = worker.child.kill().await;
                    return Err(MappingError::Limit(format!(
                        "time limit exceeded (the expression ran longer than {} ms)",
                        self.limits.timeout.as_millis()
                    )));
                }
            }
        }
    }

    /// Evaluates `expression` in a worker within the limits.
    pub async fn evaluate(&self, expression: &str, variables: &Map<String, Json>) -> Result<Json, MappingError> {
        crate::check_bounds(expression, None)?;
        let request =
            Request { expression: expression.to_owned(), variables: variables.clone(), check: false, filename: None };
        self.ask(&request).await
    }

    /// Checks that `expression` parses (`filename`: the mapping's name, for the message), in a
    /// worker: the parser's recursion cannot reach the server's stack. `Runtime` errors are the
    /// pool's own failures, not the expression's.
    pub async fn check_syntax(&self, expression: &str, filename: Option<&str>) -> Result<(), MappingError> {
        crate::check_bounds(expression, filename)?;
        let request = Request {
            expression: expression.to_owned(),
            variables: Map::new(),
            check: true,
            filename: filename.map(str::to_owned),
        };
        self.ask(&request).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_round_trip() {
        for result in [
            Ok(json!({"a": 1})),
            Err(MappingError::Syntax("bad (None, line 2)".into())),
            Err(MappingError::Runtime("boom".into())),
            Err(MappingError::Limit("step limit exceeded".into())),
        ] {
            let answer: Answer = result.clone().into();
            let text = serde_json::to_string(&answer).unwrap();
            let back: Result<Json, MappingError> = serde_json::from_str::<Answer>(&text).unwrap().into();
            assert_eq!(back, result);
        }
    }

    /// A pool whose "worker" is a shell script.
    fn shell_pool(script: &str) -> Pool {
        let command = WorkerCommand { program: "sh".into(), args: vec!["-c".into(), script.into()] };
        Pool::new(command, Limits::default(), 1)
    }

    #[tokio::test]
    async fn a_worker_that_died_idle_does_not_fail_the_next_evaluation() {
        // Each worker answers one request, then exits.
        let pool = shell_pool(r#"read line; echo '{"ok": 1}'"#);
        for _ in 0..3 {
            assert_eq!(pool.evaluate("return 1", &Map::new()).await, Ok(json!(1)));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    #[tokio::test]
    async fn a_death_is_reported_by_its_cause() {
        let memory = shell_pool("read line; echo 'memory allocation of 1048576 bytes failed' >&2; kill -ABRT $$");
        let error = memory.evaluate("return 1", &Map::new()).await.unwrap_err();
        assert!(matches!(&error, MappingError::Limit(m) if m.starts_with("memory limit exceeded")), "{error:?}");
        let stack = shell_pool("read line; echo \"thread 'main' has overflowed its stack\" >&2; kill -ABRT $$");
        let error = stack.check_syntax("return 1", None).await.unwrap_err();
        assert!(matches!(&error, MappingError::Limit(m) if m.contains("nested too deeply")), "{error:?}");
        let other = shell_pool("read line; echo 'something broke' >&2; exit 3");
        let error = other.evaluate("return 1", &Map::new()).await.unwrap_err();
        assert_eq!(
            error,
            MappingError::Runtime("the mapping worker stopped unexpectedly (exit code 3): something broke".into())
        );
    }

    #[tokio::test]
    async fn limits_are_checked_before_any_worker_is_asked() {
        let pool = shell_pool("exit 1");
        let deep = format!("return {}1", "-".repeat(50_000));
        let error = pool.check_syntax(&deep, Some("m")).await.unwrap_err();
        assert!(matches!(&error, MappingError::Syntax(m) if m.contains("nested too deeply")), "{error:?}");
        let long = "#".repeat(crate::MAX_EXPRESSION_CHARS + 1);
        assert!(matches!(pool.evaluate(&long, &Map::new()).await, Err(MappingError::Syntax(_))));
    }
}
