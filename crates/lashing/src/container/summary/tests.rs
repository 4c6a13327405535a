//! Unit tests of [`summaries`]' split over threads.

use super::*;
use crate::state::tests::{cgroup_paths, example_config};
use crate::state::{State, create_dir};
use proptest::prelude::*;

/// 150 containers of every status `list` can tell without a cgroup: stopped (no init, or an
/// init pid that is not this process's start time), running and created (this live process as
/// init, with and without the exec fifo), plus one being created (left out) and a directory
/// without a state file (gone meanwhile: left out).
fn fabricate(root: &Path, bundles: &Path) -> Vec<(String, Status)> {
    let me = ProcId::current().expect("own /proc/self/stat");
    let config = example_config(bundles);
    let mut expected = Vec::new();
    for i in 0..150 {
        let id = format!("c{i:03}");
        let (dir, _lock) = create_dir(root, &id).unwrap();
        let mut st = State::new(&id, cgroup_paths(), config.clone());
        st.creator = None;
        let status = match i % 4 {
            0 => Status::Stopped,
            1 => {
                st.init_process_pid = me.pid;
                st.init_process_start = me.start + 1;
                Status::Stopped
            }
            2 => {
                st.init_process_pid = me.pid;
                st.init_process_start = me.start;
                Status::Running
            }
            _ => {
                st.init_process_pid = me.pid;
                st.init_process_start = me.start;
                std::fs::write(dir.join(FIFO), b"").unwrap();
                Status::Created
            }
        };
        st.save(&dir).unwrap();
        expected.push((id, status));
    }
    let (dir, _lock) = create_dir(root, "d-creating").unwrap();
    State::new("d-creating", cgroup_paths(), config)
        .save(&dir)
        .unwrap();
    create_dir(root, "e-empty").unwrap();
    expected
}

fn shown(list: &[(String, Result<Summary>)]) -> Vec<(String, Status, i32)> {
    list.iter()
        .map(|(id, s)| {
            let s = s.as_ref().unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(&s.state.id, id);
            (id.clone(), s.state.status, s.state.pid)
        })
        .collect()
}

/// Every number of threads, the refused ones included (more than the containers), gives the
/// same list in the same order as one thread, and that list is the fabricated one.
#[test]
fn any_number_of_threads_lists_the_same() {
    let (root, bundles) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let expected = fabricate(root.path(), bundles.path());
    let fd = rustix::fs::open(
        root.path(),
        OFlags::RDONLY | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .unwrap();
    let ids = entries(&fd).unwrap();
    assert_eq!(
        ids.len(),
        152,
        "150 containers, one being created, one empty"
    );
    let one = shown(&summarize_split(fd.as_fd(), root.path(), &ids, 1));
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let want: Vec<_> = expected
        .iter()
        .map(|(id, status)| {
            let pid = if *status == Status::Stopped { 0 } else { me };
            (id.clone(), *status, pid)
        })
        .collect();
    assert_eq!(one, want);
    for threads in [2, 3, 4, 7, 151, 152, 200] {
        let many = shown(&summarize_split(fd.as_fd(), root.path(), &ids, threads));
        assert_eq!(many, one, "{threads} threads");
    }
    let all = summaries(root.path()).unwrap();
    assert_eq!(shown(&all), one, "summaries() itself");
}

#[test]
fn threads_follow_the_work_and_the_cpus() {
    assert_eq!(threads_for(0, 8), 1);
    assert_eq!(threads_for(127, 8), 1);
    assert_eq!(threads_for(128, 8), 2);
    assert_eq!(threads_for(1000, 8), MAX_THREADS);
    assert_eq!(threads_for(1000, 3), 3);
    assert_eq!(threads_for(1000, 0), 1);
}

proptest! {
    /// The ranges are consecutive, cover every item once, in order, are never empty (but for
    /// no items at all), number min(threads, items), and differ in length by at most one.
    #[test]
    fn split_covers_in_order(len in 0usize..5000, threads in 0usize..300) {
        let parts = split_for(len, threads);
        prop_assert_eq!(parts.len(), threads.clamp(1, len.max(1)));
        let mut next = 0;
        for r in &parts {
            prop_assert_eq!(r.start, next);
            prop_assert!(len == 0 || !r.is_empty());
            next = r.end;
        }
        prop_assert_eq!(next, len);
        let sizes = parts.iter().map(|r| r.len());
        let (min, max) = (sizes.clone().min().unwrap(), sizes.max().unwrap());
        prop_assert!(max - min <= 1);
    }
}
