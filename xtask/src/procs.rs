//! Child processes, each in its own process group, stopped together on
//! Ctrl-C or SIGTERM so nothing is left listening.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Res;

/// Children started by this xtask.
#[derive(Clone, Default)]
pub(crate) struct Group {
    children: Arc<Mutex<Vec<(String, Child)>>>,
    stopping: Arc<AtomicBool>,
}

impl Group {
    /// A group whose children are stopped on Ctrl-C / SIGTERM.
    pub(crate) fn with_signal_handler() -> Res<Group> {
        let group = Group::default();
        let g = group.clone();
        ctrlc::set_handler(move || {
            g.stopping.store(true, Ordering::SeqCst);
        })
        .map_err(|e| format!("could not install the Ctrl-C handler: {e}"))?;
        Ok(group)
    }

    /// Starts `cmd` in a new process group.
    pub(crate) fn spawn(&self, name: &str, mut cmd: Command) -> Res<()> {
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("could not start {name}: {e}"))?;
        self.children
            .lock()
            .expect("lock")
            .push((name.to_owned(), child));
        Ok(())
    }

    /// `true` once Ctrl-C or SIGTERM arrived.
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Waits until a signal arrives or a child exits; returns the name and status of the exited child.
    pub(crate) fn wait(&self) -> Option<(String, ExitStatus)> {
        while !self.stopping() {
            let mut children = self.children.lock().expect("lock");
            for (name, child) in children.iter_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Some((name.clone(), status));
                }
            }
            drop(children);
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    }

    /// Stops every child: SIGTERM to its group, then SIGKILL after 5 s.
    pub(crate) fn stop_all(&self) {
        let mut children = self.children.lock().expect("lock");
        for (_, child) in children.iter() {
            let _ = Command::new("kill")
                .args(["-TERM", "--"])
                .arg(format!("-{}", child.id()))
                .status();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        for (name, child) in children.iter_mut() {
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if let Ok(None) = child.try_wait() {
                eprintln!("xtask: {name} did not stop in 5 s; killing it");
                let _ = Command::new("kill")
                    .args(["-KILL", "--"])
                    .arg(format!("-{}", child.id()))
                    .status();
                let _ = child.wait();
            }
        }
        children.clear();
    }
}

/// Runs a command to completion, inheriting stdio; error names the command.
pub(crate) fn run(what: &str, cmd: &mut Command) -> Res<()> {
    let status = cmd
        .status()
        .map_err(|e| format!("could not run {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Waits until something listens on `127.0.0.1:port`, up to `timeout`.
pub(crate) fn wait_for_port(port: u16, timeout: Duration, group: &Group) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline && !group.stopping() {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}
