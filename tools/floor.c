/*
 * floor.c - the kernel floor of starting a runc-style Linux container.
 *
 * Part of lashing (the team's own file, first kept in ../shared/tools/floor.c); licensed
 * under Apache-2.0 like the rest of the project (see LICENSE). scripts/bench builds and times it.
 *
 * Issues, with zero user-space overhead (no config parsing, no re-exec, no
 * helper processes), the kernel work any OCI runtime must ask for to run a
 * `runc spec`-style container on a cgroup v1 + unified hybrid host:
 *  1. parent: mkdir CGROUP_NAME in each mounted v1 hierarchy (cpu cpuacct
 *     cpuset memory devices freezer blkio pids, and name=systemd, which runc and
 *     crun join too) and in the cgroup2 "unified" mount; cpuset.cpus/mems
 *     copied from the parent, pids.max=1000, memory.limit_in_bytes=1G,
 *     devices deny-all + runc's default allow list;
 *  2. clone(NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET); the child blocks on a pipe until
 *     the parent has written its pid into every cgroup.procs, then unshares
 *     NEWCGROUP (after the join, as runc and crun do, so it sees "/" as root);
 *  3. child: rslave /, rbind ROOTFS, proc, /dev tmpfs, devpts, /dev/shm, mqueue,
 *     ro sysfs, 6 device nodes + the standard /dev symlinks, runc's default
 *     masked and read-only paths (those that exist), sethostname, pivot_root
 *     (".", ".") + umount2(MNT_DETACH), ro remount of /, RLIMIT_NOFILE=1024,
 *     capability bounding set/capset to runc's default 3, no_new_privs, execve;
 *  4. parent: waitpid, rmdir the cgroups, exit with the child's status.
 * Not done (cheap or optional): bringing lo up, setuid/setgid/setgroups,
 * ambient caps, the /sys/fs/cgroup mount of the default runc spec.
 *
 * Build: gcc -O2 -o floor tools/floor.c
 * Usage: floor ROOTFS CGROUP_NAME [PROGRAM ARGS...]   (as root)
 *   ROOTFS must contain proc/ sys/ dev/; PROGRAM is a path inside it
 *   (default /bin/true). CGROUP_NAME is one new path component (e.g. floor-$$),
 *   created directly under /sys/fs/cgroup/<hierarchy>/ and removed on exit.
 *   Exit status: the program's (128+signal if killed), 1 on a setup error.
 *   FLOOR_TIMES=1 in the environment: each phase's CLOCK_MONOTONIC stamp goes to stderr as
 *   "floor-stamp NS SIDE PHASE" (SIDE parent or child; scripts/bench prints them as a waterfall
 *   next to lashing's --debug one). Without it, nothing is read or printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CG "/sys/fs/cgroup/"
#define N(a) (sizeof(a) / sizeof *(a))
static const char *ctrls[] = {"cpu", "cpuacct", "cpuset", "memory", "devices",
                              "freezer", "blkio", "pids", "systemd", "unified"};
static char cgdir[N(ctrls)][512]; /* cgroups we created ("" = none) */
static int in_child, sync_w = -1;
static pid_t child_pid;
static int timing; /* FLOOR_TIMES */

static void stamp(const char *side, const char *phase) {
  struct timespec ts;
  if (!timing) return;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  fprintf(stderr, "floor-stamp %lld %s %s\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, side,
          phase);
}

static void cleanup(void) {
  for (size_t i = 0; i < N(ctrls); i++) {
    for (int tries = 0; cgdir[i][0] && rmdir(cgdir[i]) < 0; usleep(1000))
      if (errno != EBUSY || ++tries > 200) { /* EBUSY: exiting task not yet gone */
        fprintf(stderr, "floor: rmdir %s: %s (errno %d)\n", cgdir[i], strerror(errno), errno);
        break;
      }
    cgdir[i][0] = 0;
  }
}

static void die(const char *what, const char *arg) {
  int e = errno;
  fprintf(stderr, "floor: %s%s%s: %s (errno %d)\n", what, arg ? " " : "", arg ? arg : "",
          strerror(e), e);
  if (in_child) _exit(1);
  if (sync_w >= 0) close(sync_w); /* a child still waiting sees EOF and exits */
  if (child_pid > 0) waitpid(child_pid, NULL, 0);
  cleanup();
  exit(1);
}
#define CHK(expr, what, arg) do { if ((expr) < 0) die(what, arg); } while (0)

static void wr(const char *dir, const char *file, const char *val) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  CHK(fd, "open", p);
  ssize_t n = write(fd, val, strlen(val));
  if (n != (ssize_t)strlen(val)) { if (n >= 0) errno = EIO; die("write", p); }
  close(fd);
}

static void copy_parent(const char *dir, const char *file) { /* cpuset.{cpus,mems} */
  char p[600], buf[4096];
  snprintf(p, sizeof p, CG "cpuset/%s", file);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  CHK(fd, "open", p);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  CHK(n, "read", p);
  close(fd);
  buf[n] = 0;
  wr(dir, file, buf);
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long fl,
                const char *data) {
  if (mount(src, dst, type, fl, data) < 0) die("mount", dst);
}

struct cargs { int pr; const char *rootfs; char **argv; };

static int child(void *arg) {
  struct cargs *a = arg;
  char c, p[64];
  struct stat st;
  in_child = 1;
  close(sync_w);
  if (read(a->pr, &c, 1) != 1) _exit(1); /* parent failed to set up the cgroups */
  close(a->pr);
  stamp("child", "cgroups joined (parent's signal read)");
  CHK(unshare(CLONE_NEWCGROUP), "unshare", "CLONE_NEWCGROUP");
  mnt(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL);
  mnt(a->rootfs, a->rootfs, NULL, MS_BIND | MS_REC, NULL);
  CHK(chdir(a->rootfs), "chdir", a->rootfs); /* all paths below are relative to it */
  mnt("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mnt("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  CHK(mkdir("dev/pts", 0755), "mkdir", "dev/pts");
  mnt("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
      "newinstance,ptmxmode=0666,mode=0620,gid=5");
  CHK(mkdir("dev/shm", 0755), "mkdir", "dev/shm");
  mnt("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k");
  CHK(mkdir("dev/mqueue", 0755), "mkdir", "dev/mqueue");
  mnt("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
  mnt("sysfs", "sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL);
  static const struct { const char *name; int maj, min; } devs[] = {
      {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  umask(0);
  for (size_t i = 0; i < N(devs); i++) {
    snprintf(p, sizeof p, "dev/%s", devs[i].name);
    CHK(mknod(p, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)), "mknod", p);
  }
  umask(022);
  static const char *links[][2] = {{"pts/ptmx", "dev/ptmx"}, {"/proc/self/fd", "dev/fd"},
      {"/proc/self/fd/0", "dev/stdin"}, {"/proc/self/fd/1", "dev/stdout"}, {"/proc/self/fd/2", "dev/stderr"}};
  for (size_t i = 0; i < N(links); i++) CHK(symlink(links[i][0], links[i][1]), "symlink", links[i][1]);
  static const char *masked[] = {"proc/acpi", "proc/asound", "proc/kcore", "proc/keys",
      "proc/latency_stats", "proc/timer_list", "proc/timer_stats", "proc/sched_debug",
      "sys/firmware", "proc/scsi"}; /* runc spec defaults; missing ones are skipped */
  for (size_t i = 0; i < N(masked); i++) {
    if (lstat(masked[i], &st) < 0) { if (errno == ENOENT) continue; die("stat", masked[i]); }
    if (S_ISDIR(st.st_mode)) mnt("tmpfs", masked[i], "tmpfs", MS_RDONLY, NULL);
    else mnt("dev/null", masked[i], NULL, MS_BIND, NULL);
  }
  static const char *ro[] = {"proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger"};
  for (size_t i = 0; i < N(ro); i++) {
    if (lstat(ro[i], &st) < 0) { if (errno == ENOENT) continue; die("stat", ro[i]); }
    mnt(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL);
    mnt(ro[i], ro[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  }
  stamp("child", "rootfs mounted (devices, masks, read-only paths)");
  CHK(sethostname("floor", 5), "sethostname", "floor");
  CHK(syscall(SYS_pivot_root, ".", "."), "pivot_root", a->rootfs);
  mnt(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL); /* old root: never propagate to host */
  CHK(umount2(".", MNT_DETACH), "umount2", "old root");
  CHK(chdir("/"), "chdir", "/");
  stamp("child", "pivot_root done (old root detached)");
  mnt(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
  struct rlimit rl = {1024, 1024};
  CHK(setrlimit(RLIMIT_NOFILE, &rl), "setrlimit", "RLIMIT_NOFILE");
  const unsigned long long keep = 1ULL << CAP_AUDIT_WRITE | 1ULL << CAP_KILL | 1ULL << CAP_NET_BIND_SERVICE;
  for (int cap = 0; cap < 64; cap++) /* EINVAL = past the kernel's last capability */
    if (!(keep >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      if (errno == EINVAL) break;
      die("prctl", "PR_CAPBSET_DROP");
    }
  CHK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl", "PR_SET_NO_NEW_PRIVS");
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct cd[2] = {{(__u32)keep, (__u32)keep, 0}, {0, 0, 0}};
  CHK(syscall(SYS_capset, &hdr, cd), "capset", NULL);
  static char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                         "TERM=xterm", "HOME=/root", NULL};
  stamp("child", "caps set: execve");
  execve(a->argv[0], a->argv, envp);
  die("execve", a->argv[0]);
  return 1;
}

int main(int argc, char **argv) {
  static char stack[256 << 10] __attribute__((aligned(16)));
  static char *deflt[] = {"/bin/true", NULL};
  char p[512], pid[32];
  int fds[2], st;
  if (argc < 3) { fprintf(stderr, "usage: floor ROOTFS CGROUP_NAME [PROGRAM ARGS...]\n"); return 2; }
  const char *name = argv[2];
  if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
      !strcmp(name, "process_api") || strlen(name) > 200) {
    fprintf(stderr, "floor: CGROUP_NAME must be one new path component, got '%s'\n", name);
    return 2;
  }
  struct cargs a = {.rootfs = argv[1], .argv = argc > 3 ? argv + 3 : deflt};
  const char *t = getenv("FLOOR_TIMES");
  timing = t && *t && strcmp(t, "0");
  stamp("parent", "main");
  for (size_t i = 0; i < N(ctrls); i++) { /* 1. cgroups, in every hierarchy present */
    snprintf(p, sizeof p, CG "%s/cgroup.procs", ctrls[i]);
    if (access(p, F_OK) < 0) continue;
    snprintf(p, sizeof p, CG "%s/%s", ctrls[i], name);
    CHK(mkdir(p, 0755), "mkdir", p); /* EEXIST: never adopt (or remove) a cgroup we did not make */
    strcpy(cgdir[i], p);
    if (!strcmp(ctrls[i], "cpuset")) { copy_parent(p, "cpuset.cpus"); copy_parent(p, "cpuset.mems"); }
    if (!strcmp(ctrls[i], "memory")) wr(p, "memory.limit_in_bytes", "1073741824");
    if (!strcmp(ctrls[i], "pids")) wr(p, "pids.max", "1000");
    if (!strcmp(ctrls[i], "devices")) {
      static const char *allow[] = {"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
          "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm"};
      wr(p, "devices.deny", "a");
      for (size_t j = 0; j < N(allow); j++) wr(p, "devices.allow", allow[j]);
    }
  }
  stamp("parent", "cgroups made (cpuset, limits, devices)");
  CHK(pipe2(fds, O_CLOEXEC), "pipe2", NULL); /* 2. clone, child waits for the cgroup join */
  a.pr = fds[0];
  sync_w = fds[1];
  child_pid = clone(child, stack + sizeof stack,
                    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD, &a);
  CHK(child_pid, "clone", NULL);
  close(fds[0]);
  stamp("parent", "clone returned");
  snprintf(pid, sizeof pid, "%d", child_pid);
  for (size_t i = 0; i < N(ctrls); i++)
    if (cgdir[i][0]) wr(cgdir[i], "cgroup.procs", pid);
  stamp("parent", "child in every cgroup");
  if (write(sync_w, "x", 1) != 1) die("write", "sync pipe");
  close(sync_w);
  sync_w = -1;
  while (waitpid(child_pid, &st, 0) < 0) /* 4. wait, remove cgroups, pass the status on */
    if (errno != EINTR) die("waitpid", pid);
  child_pid = 0;
  stamp("parent", "child exited");
  cleanup();
  stamp("parent", "cgroups removed");
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
