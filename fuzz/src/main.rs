//! One fuzzing binary for every parser of outside input, the target chosen by its first argument
//! (one instrumented build of kockpit serves them all; a binary per target would link it twenty times).
//!
//!   kockpit-fuzz --list          the targets, one a line
//!   kockpit-fuzz TARGET          under afl-fuzz: the persistent fuzzing loop; alone: one input from stdin
//!
//! Each target feeds its input to the parser as the program does once it has the text: files a user
//! writes pass `read_text`'s checks first (UTF-8, bracket depth), remote output goes in as it arrives.
//! Whatever the input, a parser must return (no panic, no hang); a file's error must point inside it.

mod targets;

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    if arg == "--list" || arg.is_empty() {
        for (name, _, what) in targets::TARGETS {
            println!("{name:18} {what}");
        }
        if arg.is_empty() {
            eprintln!("usage: kockpit-fuzz TARGET (see the list above)");
            std::process::exit(2);
        }
        return;
    }
    let Some(&(_, target, _)) = targets::TARGETS.iter().find(|(n, _, _)| *n == arg) else {
        eprintln!("kockpit-fuzz: unknown target {arg:?}; `kockpit-fuzz --list` shows them");
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| target(data));
}
