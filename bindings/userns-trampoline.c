/*
 * tsrun-userns: the single-threaded step user namespaces need (a multithreaded process,
 * such as Node, cannot unshare(CLONE_NEWUSER) or setns into a user namespace). It runs
 * only tsrun's own code and then execs the host's node with tsrun's init script: nothing
 * from a container's filesystem ever runs here.
 *
 *   tsrun-userns init SYNC_FD JOIN_FD CHILD_FLAGS TIMENS_FD PROGRAM ARGV0 ARGS...
 *     Join the time namespace TIMENS_FD if >= 0 (see join_time_first), then
 *     enter a user namespace (new: unshare; JOIN_FD >= 0: setns to it; -2: none, only
 *     the pid/time namespaces are made, for tsrun as root of a user namespace that does
 *     not own its own pid namespace), write "U" on
 *     SYNC_FD and wait for "G" (the parent writes uid_map, setgroups and gid_map in
 *     between), unshare CHILD_FLAGS (CLONE_NEWPID, CLONE_NEWTIME: namespaces for our
 *     children, owned by that user namespace), write "N" and wait for "G" (time offsets),
 *     fork: the child becomes root of the user namespace and execs PROGRAM (pid 1 of the
 *     new pid namespace); we write "P<pid>\n", close every other fd and wait for it,
 *     then exit with its status (128+signal when killed), so the parent sees the init's
 *     exit as ours. We die with the parent (PR_SET_PDEATHSIG): the init is then
 *     reparented to the caller's subreaper, as without a user namespace.
 *
 *   tsrun-userns exec USERNS_FD TIMENS_FD PROGRAM ARGV0 ARGS...
 *     (tsrun exec) setns to the user namespace (and the time namespace, if >= 0), become
 *     root in it and execv PROGRAM (the parent already put us in the pid namespace).
 *     USERNS_FD -1 (create joining a time namespace by path, no user namespace): only the
 *     time namespace is joined, PROGRAM runs as we do.
 *
 *   tsrun-userns join SYNC_FD USERNS_FD PIDNS_FD TIMENS_FD WAIT PROGRAM ARGV0 ARGS...
 *     (tsrun exec, rootless: an unprivileged parent cannot setns into the container's pid
 *     namespace) setns to the user namespace first (USERNS_FD -1: none, as for init -2),
 *     then the pid and time namespaces (TIMENS_FD may be -1), fork: the child becomes root and execs PROGRAM; as in init
 *     mode we write "P<pid>\n" on SYNC_FD, close the other fds, wait and exit with its
 *     status, dying with the parent (PR_SET_PDEATHSIG). WAIT 0 (exec --detach): exit at
 *     once instead, so that the process is the caller's subreaper's to reap right away
 *     (a short process would otherwise be reaped by us and its status lost).
 *
 *   tsrun-userns hold
 *     (idmapped mounts) unshare(CLONE_NEWUSER), write "U" on stdout and wait for EOF on
 *     stdin: meanwhile the parent writes our uid_map/gid_map and opens /proc/<pid>/ns/user,
 *     the user namespace mount_setattr(MOUNT_ATTR_IDMAP) takes. Runs nothing else.
 *
 * Errors: one line, exit status 125. In init and join modes the line goes to SYNC_FD as
 * "E<message>\n" (tsrun reports it as its own one-line error); otherwise to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Where errors go instead of stderr: the sync socket of init and join modes (or -1). */
static int report_fd = -1;

static void die(const char *what) {
  char line[512];
  int len = snprintf(line, sizeof line, "%stsrun-userns: %s: %s\n", report_fd >= 0 ? "E" : "", what, strerror(errno));
  if (len > (int)sizeof line - 1) len = sizeof line - 1;
  if (report_fd < 0 || send(report_fd, line, len, MSG_NOSIGNAL) != len) fputs(line + (report_fd >= 0), stderr);
  exit(125);
}

static int num(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0') {
    fprintf(stderr, "tsrun-userns: bad number %s\n", s);
    exit(125);
  }
  return (int)v;
}

static void write_byte(int fd, char c) {
  while (write(fd, &c, 1) < 0)
    if (errno != EINTR) die("write sync");
}

static int read_byte(int fd) {
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n == 1) return c;
    if (n == 0) return -1;
    if (errno != EINTR) die("read sync");
  }
}

static void become_root(void) {
  /* Root of the namespace when 0 is mapped; otherwise we stay the overflow id. */
  if (setresgid(0, 0, 0) < 0 && errno != EINVAL) die("setresgid(0)");
  /* Host supplementary groups must not follow us in (impossible when setgroups is deny). */
  if (setgroups(0, NULL) < 0 && errno != EPERM) die("setgroups");
  if (setresuid(0, 0, 0) < 0 && errno != EINVAL) die("setresuid(0)");
}

/*
 * Fork: the child becomes root of the user namespace and execs PROG (PROG[0] the file,
 * then argv). We write "P<pid>\n" on SYNC, hold no fd of the container's (stdio, control
 * socket, preserved fds), wait for the child and exit as it did (128+signal if killed).
 */
static int spawn_and_wait(int sync, char **prog, int wait) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(sync);
    report_fd = -1;
    prctl(PR_SET_PDEATHSIG, 0);
    become_root();
    execv(prog[0], prog + 1);
    die(prog[0]);
  }
  char msg[32];
  int len = snprintf(msg, sizeof msg, "P%d\n", (int)pid);
  if (write(sync, msg, len) != len) die("write sync");
  if (!wait) return 0;
  for (int fd = 3; fd < 1024; fd++) close(fd);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid");
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

/* The container's time namespace (ours and our children's), when TIMENS >= 0. */
static void join_time(int timens) {
  if (timens < 0) return;
  if (setns(timens, CLONE_NEWTIME) < 0) die("joining the container's time namespace");
  close(timens);
}

/*
 * Before a user namespace is entered: join the time namespace TIMENS now if we may (one
 * owned by the host's user namespace needs the host's CAP_SYS_ADMIN, which a new user
 * namespace takes away). EPERM: it must be one owned by the user namespace we enter,
 * joined after it; the fd to pass to join_time then is returned (else -1).
 */
static int join_time_first(int timens) {
  if (timens < 0) return -1;
  if (setns(timens, CLONE_NEWTIME) == 0) {
    close(timens);
    return -1;
  }
  if (errno != EPERM) die("joining the container's time namespace");
  return timens;
}

static int init_mode(int argc, char **argv) {
  if (argc < 8) return fprintf(stderr, "usage: tsrun-userns init SYNC_FD JOIN_FD CHILD_FLAGS TIMENS_FD PROGRAM ARGV0 ARGS...\n"), 125;
  int sync = num(argv[2]), join = num(argv[3]), flags = num(argv[4]);
  report_fd = sync;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_DUMPABLE, 0);
  int timens = join_time_first(num(argv[5]));
  if (join >= 0) {
    if (setns(join, CLONE_NEWUSER) < 0) die("joining the user namespace");
    close(join);
  } else if (join == -1 && unshare(CLONE_NEWUSER) < 0) {
    die("unshare(CLONE_NEWUSER)");
  }
  join_time(timens);
  /*
   * Dumpable while the parent writes our /proc files (as runc's nsexec): a non-dumpable
   * process's /proc/<pid> belongs to root, which only a root parent can open, and
   * newuidmap/newgidmap refuse a target that is not owned by their caller.
   */
  prctl(PR_SET_DUMPABLE, 1);
  write_byte(sync, 'U');
  /* The parent writes the id maps now; it closes instead of answering on failure. */
  if (read_byte(sync) != 'G') return 125;
  if (flags && unshare(flags) < 0) die("unshare (pid/time namespaces)");
  write_byte(sync, 'N');
  if (read_byte(sync) != 'G') return 125;
  prctl(PR_SET_DUMPABLE, 0);
  return spawn_and_wait(sync, argv + 6, 1);
}

static int join_mode(int argc, char **argv) {
  if (argc < 9) return fprintf(stderr, "usage: tsrun-userns join SYNC_FD USERNS_FD PIDNS_FD TIMENS_FD WAIT PROGRAM ARGV0 ARGS...\n"), 125;
  int sync = num(argv[2]), userns = num(argv[3]), pidns = num(argv[4]), timens = num(argv[5]), wait = num(argv[6]);
  report_fd = sync;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_DUMPABLE, 0);
  if (userns >= 0) {
    if (setns(userns, CLONE_NEWUSER) < 0) die("joining the container's user namespace");
    close(userns);
  }
  if (setns(pidns, CLONE_NEWPID) < 0) die("joining the container's pid namespace");
  close(pidns);
  join_time(timens);
  return spawn_and_wait(sync, argv + 7, wait);
}

static int exec_mode(int argc, char **argv) {
  if (argc < 6) return fprintf(stderr, "usage: tsrun-userns exec USERNS_FD TIMENS_FD PROGRAM ARGV0 ARGS...\n"), 125;
  int userns = num(argv[2]), timens = join_time_first(num(argv[3]));
  if (userns >= 0) {
    if (setns(userns, CLONE_NEWUSER) < 0) die("joining the container's user namespace");
    close(userns);
  }
  join_time(timens);
  if (userns >= 0) become_root();
  execv(argv[4], argv + 5);
  die(argv[4]);
  return 125;
}

static int hold_mode(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (unshare(CLONE_NEWUSER) < 0) die("unshare(CLONE_NEWUSER)");
  write_byte(1, 'U');
  while (read_byte(0) >= 0) {
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "init") == 0) return init_mode(argc, argv);
  if (argc > 1 && strcmp(argv[1], "exec") == 0) return exec_mode(argc, argv);
  if (argc > 1 && strcmp(argv[1], "join") == 0) return join_mode(argc, argv);
  if (argc > 1 && strcmp(argv[1], "hold") == 0) return hold_mode();
  fprintf(stderr, "usage: tsrun-userns init|exec|join|hold ...\n");
  return 125;
}
