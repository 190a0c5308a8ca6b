//! `hearth serve` checks every argument before it binds its port or resolves its model
//! (issue 19 item 9: `--batch-size 0` bound the port and then failed; `--threads 100000`
//! aborted the process with "failed to set up alternative stack guard page").

use std::net::TcpListener;
use std::process::Command;

#[test]
fn issue19_9_serve_checks_its_arguments_before_binding() {
    // The port is taken: an error about the argument, not "cannot listen", shows the
    // argument was checked first; the model path does not exist, so nothing was loaded.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for (args, says) in [
        (&["--batch-size", "0"][..], "batch"),
        (&["--threads", "100000"][..], "100000 threads is more than the 1024"),
        (&["--header-timeout", "0"][..], "--header-timeout"),
        (&["--max-connections", "0"][..], "--max-connections"),
        (&["--allowed-host", "http://x"][..], "--allowed-host"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(["serve", "--model", "/nonexistent/model.gguf", "--port", &port])
            .args(args)
            .env_remove("HEARTH_HOST")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(1), "{args:?} must fail cleanly, not abort: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("cannot listen") && !stderr.contains("listening"), "{args:?}: {stderr}");
    }
}
