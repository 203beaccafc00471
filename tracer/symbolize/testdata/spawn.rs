// Spawns once through std::process::Command (posix_spawnp, clone3 in
// glibc) from run, a call site the unwinder must reach through glibc's
// frames, which have no frame pointers.
use std::process::Command;

#[inline(never)]
fn run() {
    Command::new("true").status().unwrap();
}

fn main() {
    run();
}
