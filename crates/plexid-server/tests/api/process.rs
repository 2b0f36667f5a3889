//! The processes tests start (nginx, Caddy, Apache, ChromeDriver and its browsers, `plexid`
//! itself): each leads a process group of its own, and its guard kills the whole group when it
//! is dropped, also when the test fails half-way, so no worker, child or browser outlives the
//! test (a server's master alone being killed would leave its workers running).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// A running process group, killed (every process in it) when dropped.
pub struct Group {
    child: Child,
}

impl Group {
    /// Starts `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> std::io::Result<Group> {
        Ok(Group { child: command.process_group(0).spawn()? })
    }

    /// The leader, to take its pipes.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}
