//! Hard limits for mapping expressions: evaluation in worker processes.
//!
//! Starlark's own limits count statements and its heap, but one statement can allocate
//! gigabytes (`[0] * 10000000` inside a comprehension) or run for seconds inside a builtin. So
//! expressions run in separate worker processes (the `plexid` binary started with a hidden
//! subcommand that calls [`serve`]):
//!
//! * the worker caps its own data segment with `RLIMIT_DATA` (heap limit plus a margin), so an
//!   allocation beyond it fails and the worker dies instead of the server;
//! * the [`Pool`] kills a worker that has not answered by its deadline (1.5 × the time limit)
//!   and starts a fresh one for the next evaluation;
//! * at most `size` evaluations run at once; more wait for a worker, so many sign-ins at once
//!   cannot multiply the memory.
//!
//! The protocol is one JSON line per request (`{"expression", "variables"}`) and one per answer
//! (`{"ok": value}` or `{"error": {"kind", "message"}}`) over the worker's stdin and stdout.

use std::io::{BufRead, Write};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use crate::{evaluate, Limits, MappingError};

/// Memory a worker may use besides the Starlark heap (the program, the interpreter, the JSON).
pub const MEMORY_MARGIN: usize = 48 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct Request {
    expression: String,
    variables: Map<String, Json>,
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

/// Caps this process's data segment (heap and anonymous mappings) at `bytes`.
#[cfg(unix)]
fn limit_memory(bytes: usize) -> std::io::Result<()> {
    let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
    // SAFETY: setrlimit reads the struct we pass and changes only this process's limits.
    let result = unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn limit_memory(_bytes: usize) -> std::io::Result<()> {
    Ok(())
}

/// The worker's side: caps its memory, then answers requests from stdin until it closes.
pub fn serve(limits: &Limits) -> std::io::Result<()> {
    limit_memory(limits.max_heap_bytes + MEMORY_MARGIN)?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        let answer: Answer = match serde_json::from_str::<Request>(&line) {
            Ok(request) => evaluate(&request.expression, &request.variables, limits).into(),
            Err(error) => Answer::Error { kind: "runtime".into(), message: format!("bad request: {error}") },
        };
        serde_json::to_writer(&mut stdout, &answer)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}

/// A running worker.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
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
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| MappingError::Runtime(format!("cannot start a mapping worker: {e}")))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Worker { child, stdin, stdout })
    }

    /// Evaluates `expression` in a worker within the limits. A worker that overruns its time
    /// or memory is killed and replaced.
    pub async fn evaluate(&self, expression: &str, variables: &Map<String, Json>) -> Result<Json, MappingError> {
        let _permit = self.permits.acquire().await.map_err(|_| MappingError::Runtime("the pool is closed".into()))?;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut worker = match idle {
            Some(worker) => worker,
            None => self.start()?,
        };
        let request = Request { expression: expression.to_owned(), variables: variables.clone() };
        let mut line = serde_json::to_vec(&request).map_err(|e| MappingError::Runtime(e.to_string()))?;
        line.push(b'\n');
        let exchange = async {
            worker.stdin.write_all(&line).await?;
            worker.stdin.flush().await?;
            let mut answer = String::new();
            worker.stdout.read_line(&mut answer).await?;
            Ok::<String, std::io::Error>(answer)
        };
        match tokio::time::timeout(self.deadline(), exchange).await {
            Ok(Ok(answer)) if !answer.is_empty() => {
                let parsed: Answer = serde_json::from_str(&answer)
                    .map_err(|e| MappingError::Runtime(format!("unreadable worker answer: {e}")))?;
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(worker);
                parsed.into()
            }
            // The worker died: its allocation over the memory cap failed.
            Ok(_) => {
                let _ = worker.child.wait().await;
                Err(MappingError::Limit(format!(
                    "memory limit exceeded (the expression needed more than {} MiB)",
                    (self.limits.max_heap_bytes + MEMORY_MARGIN) / (1024 * 1024)
                )))
            }
            Err(_) => {
                let _ = worker.child.kill().await;
                Err(MappingError::Limit(format!(
                    "time limit exceeded (the expression ran longer than {} ms)",
                    self.limits.timeout.as_millis()
                )))
            }
        }
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
}
