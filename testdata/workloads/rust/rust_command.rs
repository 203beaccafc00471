// rust_command MODE N MIB: touch MIB MiB of anonymous memory in 4 KiB pages,
// then run /bin/true N times with std::process::Command, and print the
// loop's wall time and CPU time (this process's and its children's, user
// and system) in nanoseconds on one line of stdout, as spawn_loop.c does. MODE plain: Command as it is,
// which std spawns with posix_spawn (vfork-like); MODE pre_exec: the same
// Command with a pre_exec closure that does nothing, which needs code in
// the child, so std forks (socketpair, fork, exec) instead. Built by the
// integration tests with rustc alone: no crates.
use std::os::unix::process::CommandExt;
use std::process::{exit, Command};
use std::time::Instant;

extern "C" {
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
    fn madvise(addr: *mut u8, len: usize, advice: i32) -> i32;
    fn getrusage(who: i32, usage: *mut RUsage) -> i32;
}

// struct rusage of x86_64 Linux: two timevals, then 14 longs.
#[repr(C)]
struct RUsage {
    utime: [i64; 2],
    stime: [i64; 2],
    rest: [i64; 14],
}

const RUSAGE_SELF: i32 = 0;
const RUSAGE_CHILDREN: i32 = -1;

fn cpu_ns() -> i64 {
    let mut total = 0;
    for who in [RUSAGE_SELF, RUSAGE_CHILDREN] {
        let mut u = RUsage { utime: [0; 2], stime: [0; 2], rest: [0; 14] };
        if unsafe { getrusage(who, &mut u) } != 0 {
            eprintln!("rust_command: getrusage failed");
            exit(1);
        }
        total += (u.utime[0] + u.stime[0]) * 1_000_000_000 + (u.utime[1] + u.stime[1]) * 1000;
    }
    total
}

const PROT_READ: i32 = 0x1;
const PROT_WRITE: i32 = 0x2;
const MAP_PRIVATE: i32 = 0x02;
const MAP_ANONYMOUS: i32 = 0x20;
const MADV_NOHUGEPAGE: i32 = 15;

fn usage() -> ! {
    eprintln!("usage: rust_command plain|pre_exec N MIB");
    exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        usage();
    }
    let pre_exec = match args[1].as_str() {
        "plain" => false,
        "pre_exec" => true,
        _ => usage(),
    };
    let n: u64 = args[2].parse().unwrap_or_else(|_| usage());
    let mib: usize = args[3].parse().unwrap_or_else(|_| usage());

    if mib > 0 {
        let len = mib << 20;
        // The memory stays mapped until exit: it is the parent's RSS.
        let p = unsafe { mmap(std::ptr::null_mut(), len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) };
        if p as usize == usize::MAX {
            eprintln!("rust_command: mmap failed");
            exit(1);
        }
        unsafe {
            madvise(p, len, MADV_NOHUGEPAGE);
            let mut off = 0;
            while off < len {
                *p.add(off) = 1;
                off += 4096;
            }
        }
    }

    let start = Instant::now();
    let start_cpu = cpu_ns();
    let mut bad = false;
    for _ in 0..n {
        let mut cmd = Command::new("/bin/true");
        if pre_exec {
            unsafe {
                cmd.pre_exec(|| Ok(()));
            }
        }
        match cmd.status() {
            Ok(st) if st.success() => {}
            _ => bad = true,
        }
    }
    println!("{} {}", start.elapsed().as_nanos(), cpu_ns() - start_cpu);
    exit(if bad { 1 } else { 0 });
}
