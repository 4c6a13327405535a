//! Signal names and numbers as `lashing kill` accepts them, and the signals `lashing run`
//! forwards.

/// The standard signals by name (without the `SIG` prefix).
const NAMES: [(&str, i32); 35] = [
    ("ABRT", libc::SIGABRT),
    ("ALRM", libc::SIGALRM),
    ("BUS", libc::SIGBUS),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("FPE", libc::SIGFPE),
    ("HUP", libc::SIGHUP),
    ("ILL", libc::SIGILL),
    ("INT", libc::SIGINT),
    ("IO", libc::SIGIO),
    ("IOT", libc::SIGIOT),
    ("KILL", libc::SIGKILL),
    ("PIPE", libc::SIGPIPE),
    ("POLL", libc::SIGPOLL),
    ("PROF", libc::SIGPROF),
    ("PWR", libc::SIGPWR),
    ("QUIT", libc::SIGQUIT),
    ("SEGV", libc::SIGSEGV),
    ("STKFLT", libc::SIGSTKFLT),
    ("STOP", libc::SIGSTOP),
    ("SYS", libc::SIGSYS),
    ("TERM", libc::SIGTERM),
    ("TRAP", libc::SIGTRAP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("UNUSED", libc::SIGSYS),
    ("URG", libc::SIGURG),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("VTALRM", libc::SIGVTALRM),
    ("WINCH", libc::SIGWINCH),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
];

/// The lowest real-time signal a program may use (glibc keeps 32 and 33 for itself).
const RTMIN: i32 = 34;
/// The highest real-time signal.
const RTMAX: i32 = 64;

/// Parses a signal as runc does: a number (any value; the kernel judges it), or a name in any
/// case with or without the `SIG` prefix. Also accepts `RTMIN`, `RTMIN+n`, `RTMAX`, `RTMAX-n`.
pub fn parse_signal(raw: &str) -> Option<i32> {
    if let Ok(n) = raw.parse::<i32>() {
        return Some(n);
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Some(*n);
    }
    // RTMIN, RTMIN+n, RTMAX, RTMAX-n.
    let (base, rest, sign) = if let Some(rest) = name.strip_prefix("RTMIN") {
        (RTMIN, rest, '+')
    } else {
        (RTMAX, name.strip_prefix("RTMAX")?, '-')
    };
    let off: i32 = if rest.is_empty() {
        0
    } else {
        rest.strip_prefix(sign)?.parse().ok()?
    };
    // Checked: `RTMIN+2147483647` must be refused, not overflow.
    let n = if sign == '+' {
        base.checked_add(off)?
    } else {
        base.checked_sub(off)?
    };
    (RTMIN..=RTMAX).contains(&n).then_some(n)
}

/// The signals `lashing run` catches and forwards to the container's init: every catchable
/// signal but `SIGCHLD` (which it handles itself), including the real-time ones.
pub fn forwarded() -> Vec<i32> {
    (1..=31)
        .filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP && s != libc::SIGCHLD)
        .chain(RTMIN..=RTMAX)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_prefix_in_any_case() {
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("kill"), Some(9));
        assert_eq!(parse_signal("SigTerm"), Some(15));
        assert_eq!(parse_signal("usr1"), Some(libc::SIGUSR1));
        assert_eq!(parse_signal("XFSZ"), Some(libc::SIGXFSZ));
    }

    #[test]
    fn numbers_pass_through() {
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("9999"), Some(9999));
    }

    #[test]
    fn realtime_names() {
        assert_eq!(parse_signal("RTMIN"), Some(34));
        assert_eq!(parse_signal("SIGRTMIN+3"), Some(37));
        assert_eq!(parse_signal("RTMAX-1"), Some(63));
        assert_eq!(parse_signal("RTMAX+1"), None);
        assert_eq!(parse_signal("RTMIN+31"), None);
        assert_eq!(parse_signal("RTMINx"), None);
    }

    #[test]
    fn unknown_names() {
        assert_eq!(parse_signal("FOO"), None);
        assert_eq!(parse_signal("SIG"), None);
        assert_eq!(parse_signal(""), None);
    }

    #[test]
    fn every_named_signal_is_distinct_from_sigchld_in_forwarding() {
        let f = forwarded();
        assert!(!f.contains(&libc::SIGCHLD));
        assert!(!f.contains(&libc::SIGKILL));
        assert!(f.contains(&libc::SIGTERM) && f.contains(&libc::SIGWINCH) && f.contains(&64));
        for (name, n) in NAMES {
            assert_eq!(parse_signal(name), Some(n), "{name}");
        }
    }

    #[test]
    fn huge_realtime_offsets_are_refused() {
        for raw in [
            "RTMIN+2147483647",
            "SIGRTMIN+2147483647",
            "RTMAX-2147483647",
            "RTMAX--2147483648",
            "RTMIN+-2147483648",
        ] {
            assert_eq!(parse_signal(raw), None, "{raw}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_signal_text_panics(s in "(SIG)?(RTMIN|RTMAX|rtmin|KILL|TERM|[A-Z]{0,6})([-+][-+]?[0-9]{0,12})?|-?[0-9]{0,12}") {
            if let Some(n) = parse_signal(&s) {
                let _ = n;
            }
        }
    }
}
