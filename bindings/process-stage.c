/*
 * tsrun-stage: the last, single-threaded step before a container process runs.
 *
 * The container init and the exec-init are Node processes: Node always has several
 * threads, and only the main thread enters the container's mount namespace and root; the
 * others keep the host's. Such a process must never be visible inside the container (a
 * process with CAP_SYS_PTRACE there could open /proc/<pid>/root, cwd or fds of any of its
 * threads and reach the host). So Node prepares everything, then execs this program in
 * place with execveat(fd, "", AT_EMPTY_PATH) on an fd it opened from the host before any
 * namespace change: the exec ends every other thread, and what is left holds the
 * container's root, mount namespace and our few fds only. The binary is static: nothing
 * is loaded from the container's filesystem (no ELF interpreter, no shared library).
 *
 *   tsrun-stage PLAN_FD
 *
 * PLAN_FD (a memfd) holds the plan, records of [tag: 1 byte][length: u32 LE][data], in
 * the order Node wrote them (see src/init/stage.ts for the tags). Modes:
 *   'e' exec, foreground: join the pid (and time) namespace for our child, fork; the
 *       child becomes the process; we report its host pid, wait, exit with its status.
 *   'd' exec --detach: the same, but we exit at once (the caller's subreaper reaps it).
 *   'i' container init: no fork (we are already the container's pid 1): become the user,
 *       load seccomp, say ready, wait on exec.fifo for `tsrun start`, run startContainer
 *       hooks, write "0" and exec (the fifo's EOF tells `start` the execve happened).
 *   'j' container init joining an existing pid namespace: fork first, as in 'd', and the
 *       child goes on as in 'i'.
 *   'k' the same, for a foreground `tsrun run`: we wait for the child as in 'e'.
 *
 *   tsrun-stage wait SOCK_FD PRESERVE PROC_INDEX ATTRS [OPTION...]
 *
 * The container init without Node (src/init/direct.ts): `tsrun create` spawns us
 * from its main thread, which has made the container's namespaces (we are pid 1 of the new
 * pid namespace, alone in it). Our fds past 2+PRESERVE become close-on-exec. With
 * PROC_INDEX >= 0 we make the container's proc mount (only a process in the pid namespace
 * can) and send it on SOCK_FD named PROC_INDEX, as `proc` mode does; then we wait for the
 * plan (a memfd) on SOCK_FD while tsrun mounts the rootfs and pivots (pivot_root moves our
 * root with its own), and go on as 'i'. The plan then also says where to chdir ('w'),
 * whether to unshare the cgroup namespace ('Q': tsrun has put us in our cgroups) and which
 * session keyring to join ('k'). The direct exec uses it too (PROC_INDEX -1): spawned in
 * the container's namespaces but pid and mount (from tsrun's read-only view of its own
 * files), put in its cgroups, then an 'e' or 'd' plan whose 'J' record is the container's
 * mount namespace, joined before the chdir.
 *
 *   tsrun-stage proc PIDNS_FD SOCK_FD USERNS_FD ATTRS [OPTION...]
 *
 * A fresh proc mount for a pid namespace we join (proc shows the pid namespace of the
 * process that makes it, and a Node init that joins one must never be visible in it): in
 * an empty mount namespace of our own, join the pid namespace, fork; the child (visible
 * there, holding nothing of the host) makes the mount with fsopen/fsmount (ATTRS:
 * MOUNT_ATTR_* flags, OPTIONs: "key=value" or "flag") and sends it on SOCK_FD. With a
 * USERNS_FD (not -1) it joins the container's user namespace first (see proc_mode).
 *
 * Messages to the runtime go on the control socket as JSON lines: {"type":"pid","pid":N},
 * {"type":"ready"}, {"type":"error","msg":"..."}; it is close-on-exec, so the runtime sees
 * EOF once the final execve has happened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define MAX_LIST 4096

struct list {
  char *item[MAX_LIST + 1];
  int n;
};

struct hook {
  char *path;
  struct list args, env;
  int timeout; /* seconds, 0: none */
};

static struct {
  char mode;
  int control, fifo, pidns, timens, listener;
  int fifo_w; /* exec.fifo's write end, open from `start` until our execve */
  int has_user;
  uid_t uid;
  gid_t gid;
  gid_t gids[MAX_LIST];
  int ngids;
  int has_umask;
  mode_t umask;
  int has_caps;
  uint64_t bounding, effective, permitted, inheritable, ambient;
  int last_cap;
  int nnp;
  struct { int resource; struct rlimit limit; char *label; } rlimits[32];
  int nrlimits;
  unsigned char *bpf;
  uint32_t bpf_len;
  unsigned seccomp_flags;
  char *listener_msg;
  uint32_t listener_len;
  char *exe;
  struct list argv, envp;
  char *lsm_file, *lsm_value;
  unsigned char *cpus;
  uint32_t cpus_len;
  char *cpus_text;
  int tty;
  struct hook hooks[64];
  int nhooks;
  char *hook_state;
  int seccomp_loaded;
  int home[16]; /* 'e': cgroup.procs fds of the runtime's own cgroups, rejoined after the fork */
  int nhome;
  const char *cwd;     /* 'w': chdir here first (wait mode) */
  int cgroupns;        /* 'Q': unshare(CLONE_NEWCGROUP) first (wait mode) */
  const char *keyring; /* 'k': join this session keyring, searchable by its owner (wait mode) */
  int mntns;           /* 'J': join this mount namespace first, then chdir to 'w' (wait mode, exec) */
} plan = { .control = -1, .fifo = -1, .pidns = -1, .timens = -1, .listener = -1, .fifo_w = -1, .mntns = -1 };

/* strerror as Go and Node spell it ("no such file or directory"): engines match these words. */
static const char *why(int err) {
  static char text[128];
  snprintf(text, sizeof text, "%s", strerror(err));
  if (text[0] >= 'A' && text[0] <= 'Z') text[0] = (char)(text[0] - 'A' + 'a');
  return text;
}

/* Report an error to the runtime (or, once it has gone, to the container's stderr), exit 1. */
static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  char msg[2048], out[4400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (plan.seccomp_loaded && (errno == EPERM || errno == EACCES || errno == ENOSYS)) {
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof msg - len, " (the seccomp filter of linux.seccomp was already loaded and may deny it)");
  }
  if (plan.control >= 0) {
    size_t o = 0;
    o += snprintf(out, sizeof out, "{\"type\":\"error\",\"msg\":\"");
    for (const char *p = msg; *p && o < sizeof out - 16; p++) {
      unsigned char c = (unsigned char)*p;
      if (c == '"' || c == '\\') o += snprintf(out + o, sizeof out - o, "\\%c", c);
      else if (c < 0x20) o += snprintf(out + o, sizeof out - o, "\\u%04x", c);
      else out[o++] = (char)c;
    }
    o += snprintf(out + o, sizeof out - o, "\"}\n");
    if (write(plan.control, out, o) == (ssize_t)o) _exit(1);
  }
  /* Between `start` and execve: `tsrun start` reads "E<message>" and reports it. */
  if (plan.fifo_w >= 0 && dprintf(plan.fifo_w, "E%s", msg) > 0) _exit(1);
  dprintf(2, "tsrun: %s\n", msg);
  _exit(1);
}

static void say(const char *line) {
  if (plan.control < 0) return;
  size_t len = strlen(line);
  if (write(plan.control, line, len) != (ssize_t)len) fail("writing to the runtime: %s", why(errno));
}

/* ---- the plan ---- */

static uint64_t number(const char *s, const char *what) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0') fail("tsrun-stage: bad %s in the plan: %s", what, s);
  return v;
}

static void add(struct list *l, char *s) {
  if (l->n >= MAX_LIST) fail("tsrun-stage: too many entries in the plan");
  l->item[l->n++] = s;
  l->item[l->n] = NULL;
}

static void read_plan(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) fail("tsrun-stage: plan: %s", why(errno));
  size_t size = (size_t)st.st_size;
  unsigned char *buf = malloc(size + 1);
  if (!buf) fail("tsrun-stage: out of memory");
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("tsrun-stage: reading the plan: %s", n < 0 ? why(errno) : "short read");
    got += (size_t)n;
  }
  close(fd);
  struct hook *hook = NULL;
  for (size_t off = 0; off < size;) {
    if (size - off < 5) fail("tsrun-stage: truncated plan");
    char tag = (char)buf[off];
    uint32_t len = (uint32_t)buf[off + 1] | (uint32_t)buf[off + 2] << 8 | (uint32_t)buf[off + 3] << 16 | (uint32_t)buf[off + 4] << 24;
    off += 5;
    if (len > size - off) fail("tsrun-stage: truncated plan");
    /* A NUL-terminated copy, so that text records are C strings. */
    char *data = malloc(len + 1);
    if (!data) fail("tsrun-stage: out of memory");
    memcpy(data, buf + off, len);
    data[len] = '\0';
    off += len;
    switch (tag) {
    case 'M': plan.mode = data[0]; break;
    case 'o':
      if (plan.nhome == 16) fail("tsrun-stage: too many cgroups");
      plan.home[plan.nhome++] = (int)number(data, "cgroup fd");
      break;
    case 'c': plan.control = (int)number(data, "control fd"); break;
    case 'f': plan.fifo = (int)number(data, "fifo fd"); break;
    case 'p': plan.pidns = (int)number(data, "pid namespace fd"); break;
    case 't': plan.timens = (int)number(data, "time namespace fd"); break;
    case 'u': plan.has_user = 1; plan.uid = (uid_t)number(data, "uid"); break;
    case 'g': plan.gid = (gid_t)number(data, "gid"); break;
    case 'G':
      if (plan.ngids >= MAX_LIST) fail("tsrun-stage: too many groups");
      plan.gids[plan.ngids++] = (gid_t)number(data, "gid");
      break;
    case 'm': plan.has_umask = 1; plan.umask = (mode_t)number(data, "umask"); break;
    case 'C': plan.has_caps = 1; plan.last_cap = (int)number(data, "last capability"); break;
    case 'B': plan.bounding = number(data, "capabilities"); break;
    case 'E': plan.effective = number(data, "capabilities"); break;
    case 'P': plan.permitted = number(data, "capabilities"); break;
    case 'I': plan.inheritable = number(data, "capabilities"); break;
    case 'A': plan.ambient = number(data, "capabilities"); break;
    case 'n': plan.nnp = 1; break;
    case 'r': {
      /* "RESOURCE SOFT HARD LABEL" */
      if (plan.nrlimits >= 32) fail("tsrun-stage: too many rlimits");
      char *soft, *hard, *label;
      if (!(soft = strchr(data, ' ')) || !(hard = strchr(soft + 1, ' ')) || !(label = strchr(hard + 1, ' '))) fail("tsrun-stage: bad rlimit in the plan");
      *soft++ = *hard++ = *label++ = '\0';
      plan.rlimits[plan.nrlimits].resource = (int)number(data, "rlimit");
      plan.rlimits[plan.nrlimits].limit.rlim_cur = (rlim_t)number(soft, "rlimit");
      plan.rlimits[plan.nrlimits].limit.rlim_max = (rlim_t)number(hard, "rlimit");
      plan.rlimits[plan.nrlimits++].label = label;
      break;
    }
    case 'S': plan.bpf = (unsigned char *)data; plan.bpf_len = len; break;
    case 's': plan.seccomp_flags = (unsigned)number(data, "seccomp flags"); break;
    case 'l': plan.listener = (int)number(data, "listener fd"); break;
    case 'L': plan.listener_msg = data; plan.listener_len = len; break;
    case 'x': plan.exe = data; break;
    case 'a': add(&plan.argv, data); break;
    case 'v': add(&plan.envp, data); break;
    case 'F': plan.lsm_file = data; break;
    case 'V': plan.lsm_value = data; break;
    case 'U': plan.cpus = (unsigned char *)data; plan.cpus_len = len; break;
    case 'W': plan.cpus_text = data; break;
    case 'T': plan.tty = 1; break;
    case 'h':
      if (plan.nhooks >= 64) fail("tsrun-stage: too many hooks");
      hook = &plan.hooks[plan.nhooks++];
      hook->path = data;
      break;
    case 'H': if (hook) add(&hook->args, data); break;
    case 'N': if (hook) add(&hook->env, data); break;
    case 'O': if (hook) hook->timeout = (int)number(data, "hook timeout"); break;
    case 'K': plan.hook_state = data; break;
    case 'w': plan.cwd = data; break;
    case 'Q': plan.cgroupns = 1; break;
    case 'k': plan.keyring = data; break;
    case 'J': plan.mntns = (int)number(data, "mount namespace fd"); break;
    default: fail("tsrun-stage: unknown record '%c' in the plan", tag);
    }
  }
  free(buf);
  if (!plan.exe || plan.argv.n == 0) fail("tsrun-stage: the plan has no process");
}

/* ---- the steps ---- */

static void cloexec(int fd) {
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void reset_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &sa, NULL); /* KILL, STOP, glibc's own: EINVAL, fine */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* One sendmsg: `fd` as SCM_RIGHTS with `len` bytes of payload (at least one byte goes). */
static int send_fd(int sock, int fd, const char *payload, size_t len) {
  char dummy = 0;
  struct iovec iov = { .iov_base = len ? (void *)payload : &dummy, .iov_len = len ? len : 1 };
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static void send_listener_fd(int notify) {
  size_t first = plan.listener_len < 4096 ? plan.listener_len : 4096;
  if (send_fd(plan.listener, notify, plan.listener_msg, first) < 0) fail("linux.seccomp.listenerPath: sending the seccomp fd: %s", why(errno));
  for (size_t off = first; off < plan.listener_len;) {
    ssize_t n = write(plan.listener, plan.listener_msg + off, plan.listener_len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("linux.seccomp.listenerPath: sending the container state: %s", why(errno));
    off += (size_t)n;
  }
  close(notify);
  close(plan.listener);
  plan.listener = -1;
}

static void load_seccomp(void) {
  if (!plan.bpf || plan.seccomp_loaded) return;
  struct sock_fprog prog = { .len = (unsigned short)(plan.bpf_len / sizeof(struct sock_filter)), .filter = (struct sock_filter *)plan.bpf };
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan.seccomp_flags, &prog);
  if (r < 0) fail("linux.seccomp: loading the filter: %s", why(errno));
  plan.seccomp_loaded = 1;
  if (plan.seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) send_listener_fd((int)r);
}

static void set_caps(uint64_t eff, uint64_t perm, uint64_t inh) {
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2] = {
    { .effective = (uint32_t)eff, .permitted = (uint32_t)perm, .inheritable = (uint32_t)inh },
    { .effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(perm >> 32), .inheritable = (uint32_t)(inh >> 32) },
  };
  if (syscall(SYS_capset, &hdr, data) < 0) fail("process.capabilities: capset: %s", why(errno));
}

/* The kernel's capability numbers, for messages (linux/capability.h). */
static const char *const CAP_NAMES[] = {
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
  "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

static const char *cap_name(int n) {
  return n >= 0 && n < (int)(sizeof CAP_NAMES / sizeof CAP_NAMES[0]) ? CAP_NAMES[n] : "an unnamed capability";
}

/* The user, groups and capabilities of the process (runc's finalizeNamespace order). */
static void become_user(void) {
  if (plan.has_caps) {
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail("prctl(PR_SET_KEEPCAPS): %s", why(errno));
    for (int n = 0; n <= plan.last_cap; n++) {
      if (plan.bounding & (1ULL << n)) continue;
      if (prctl(PR_CAPBSET_DROP, n, 0, 0, 0) < 0 && errno != EINVAL)
        fail("process.capabilities.bounding: cannot drop %s: %s", cap_name(n), why(errno));
    }
  }
  if (plan.has_user) {
    /* A user namespace that denies setgroups (rootless, own gid only) has no groups to drop. */
    char policy[16] = "";
    int pf = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
    if (pf >= 0) {
      ssize_t n = read(pf, policy, sizeof policy - 1);
      policy[n > 0 ? n : 0] = '\0';
      close(pf);
    }
    if (strncmp(policy, "deny", 4) == 0) {
      if (plan.ngids > 0) fail("process.user.additionalGids: cannot set additional groups: setgroups is denied in this user namespace (a rootless container mapping only its user's gid; map a range through /etc/subgid instead)");
    } else if (setgroups((size_t)plan.ngids, plan.gids) < 0) {
      fail("process.user.additionalGids: setgroups: %s", why(errno));
    }
    if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) < 0) fail("process.user.gid %u: setresgid: %s", (unsigned)plan.gid, why(errno));
    if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) < 0) fail("process.user.uid %u: setresuid: %s", (unsigned)plan.uid, why(errno));
  }
  if (plan.has_caps) {
    set_caps(plan.effective, plan.permitted, plan.inheritable);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
      fail("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %s", why(errno));
    for (int n = 0; n <= plan.last_cap; n++) {
      if (!(plan.ambient & (1ULL << n))) continue;
      if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, n, 0, 0) < 0)
        fail("process.capabilities.ambient: cannot raise %s: %s", cap_name(n), why(errno));
    }
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  }
  if (plan.has_umask) umask(plan.umask);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * startContainer hooks: in the container, with its state on stdin. Returns NULL or a
 * message (static buffer) saying which hook failed and how.
 */
static const char *run_hooks(void) {
  static char failure[1400];
  for (int i = 0; i < plan.nhooks; i++) {
    struct hook *h = &plan.hooks[i];
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
      snprintf(failure, sizeof failure, "hooks.startContainer[%d] %s: pipe: %s", i, h->path, why(errno));
      return failure;
    }
    pid_t pid = fork();
    if (pid < 0) {
      snprintf(failure, sizeof failure, "hooks.startContainer[%d] %s: fork: %s", i, h->path, why(errno));
      return failure;
    }
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(out[1], 2);
      if (h->args.n == 0) add(&h->args, h->path);
      execve(h->path, h->args.item, h->env.n ? h->env.item : plan.envp.item);
      dprintf(2, "%s", strerror(errno));
      _exit(errno == ENOENT ? 127 : 126);
    }
    close(in[0]);
    close(out[1]);
    /* The state is small: one write; a hook that does not read it is fine (EPIPE ignored). */
    signal(SIGPIPE, SIG_IGN);
    if (plan.hook_state) {
      ssize_t ignored = write(in[1], plan.hook_state, strlen(plan.hook_state));
      (void)ignored;
    }
    close(in[1]);
    char text[1024];
    size_t got = 0;
    long deadline = h->timeout > 0 ? now_ms() + h->timeout * 1000L : -1;
    int status = 0, timed_out = 0;
    for (;;) {
      struct pollfd p = { .fd = out[0], .events = POLLIN };
      int wait_ms = deadline < 0 ? 100 : (int)(deadline - now_ms());
      if (deadline >= 0 && wait_ms <= 0) {
        kill(pid, SIGKILL);
        timed_out = 1;
        waitpid(pid, &status, 0);
        break;
      }
      if (poll(&p, 1, wait_ms > 100 ? 100 : wait_ms) > 0) {
        char tmp[512];
        ssize_t n = read(out[0], tmp, sizeof tmp);
        if (n > 0 && got < sizeof text - 1) {
          size_t take = (size_t)n < sizeof text - 1 - got ? (size_t)n : sizeof text - 1 - got;
          memcpy(text + got, tmp, take);
          got += take;
        }
      }
      if (waitpid(pid, &status, WNOHANG) == pid) break;
    }
    close(out[0]);
    signal(SIGPIPE, SIG_DFL);
    while (got > 0 && (text[got - 1] == '\n' || text[got - 1] == ' ')) got--;
    text[got] = '\0';
    if (timed_out) {
      snprintf(failure, sizeof failure, "hooks.startContainer[%d] %s: timed out after %ds", i, h->path, h->timeout);
      return failure;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && strcmp(text, strerror(ENOENT)) == 0) {
      snprintf(failure, sizeof failure, "hooks.startContainer[%d] %s: no such file or directory", i, h->path);
    } else if (WIFSIGNALED(status)) {
      snprintf(failure, sizeof failure, "hooks.startContainer[%d] %s failed: killed by %s%s%s", i, h->path, sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "a signal", got ? ": " : "", text);
    } else {
      snprintf(failure, sizeof failure, "hooks.startContainer[%d] %s failed: exit status %d%s%s", i, h->path, WEXITSTATUS(status), got ? ": " : "", text);
    }
    return failure;
  }
  return NULL;
}

/*
 * The container init: ready, then wait for `tsrun start` on exec.fifo (as runc, through
 * /proc/self/fd). The fifo stays open (close-on-exec) after "0": `start` waits for its EOF,
 * so poststart hooks run only once our execve has happened (or we died).
 */
static void wait_for_start(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", plan.fifo);
  /*
   * exec.fifo is reopened through the container's /proc (as runc does): without a proc
   * mount `start` could never succeed, so `create` fails now, with the reason, instead of
   * leaving a container that has stopped and a late line on its stderr.
   */
  struct stat st;
  if (stat(path, &st) < 0) fail("opening exec.fifo through %s: %s (the container needs a proc mount on /proc)", path, why(errno));
  /* `tsrun create` exits once we are ready: we must outlive it. */
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  say("{\"type\":\"ready\"}\n");
  close(plan.control);
  plan.control = -1;
  int fifo;
  do fifo = open(path, O_WRONLY | O_CLOEXEC);
  while (fifo < 0 && errno == EINTR);
  if (fifo < 0) fail("opening exec.fifo: %s", why(errno));
  close(plan.fifo);
  plan.fifo = -1;
  /* From here on fail() reports on the fifo (once: not on our stderr too). */
  plan.fifo_w = fifo;
  const char *failure = plan.nhooks ? run_hooks() : NULL;
  if (failure) {
    errno = 0; /* the message is complete: no seccomp hint from a stale errno */
    fail("%s", failure);
  }
  if (write(fifo, "0", 1) != 1) fail("writing exec.fifo: %s", why(errno));
}

static void set_final_affinity(void) {
  if (!plan.cpus) return;
  if (sched_setaffinity(0, plan.cpus_len, (cpu_set_t *)plan.cpus) < 0)
    fail("process.execCPUAffinity.final %s: %s", plan.cpus_text ? plan.cpus_text : "", errno == EINVAL ? "none of these CPUs is online or allowed here" : why(errno));
}

static void write_lsm_label(void) {
  if (!plan.lsm_file) return;
  int fd = open(plan.lsm_file, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, plan.lsm_value, strlen(plan.lsm_value)) < 0) fail("writing %s: %s", plan.lsm_file, why(errno));
  close(fd);
}

/* process.rlimits, while we are still root (a hard limit can only be raised with CAP_SYS_RESOURCE). */
static void set_rlimits(void) {
  for (int i = 0; i < plan.nrlimits; i++) {
    if (setrlimit(plan.rlimits[i].resource, &plan.rlimits[i].limit) == 0) continue;
    int err = errno;
    struct rlimit now;
    if (err == EPERM && getrlimit(plan.rlimits[i].resource, &now) == 0) {
      char hard[32];
      if (now.rlim_max == RLIM_INFINITY) snprintf(hard, sizeof hard, "unlimited");
      else snprintf(hard, sizeof hard, "%llu", (unsigned long long)now.rlim_max);
      fail("%s: %s (raising a hard limit needs CAP_SYS_RESOURCE, which this host does not grant; the hard limit here is %s)", plan.rlimits[i].label, why(err), hard);
    }
    errno = err;
    fail("%s: %s", plan.rlimits[i].label, why(err));
  }
}

/* From here on we are the container's process: the steps runc takes in its init, then execve. */
static void become_process(void) {
  set_rlimits();
  if (plan.tty) {
    /* A new session with the pty (already on fds 0-2) as controlling terminal. */
    if (setsid() < 0) fail("setsid: %s", why(errno));
    if (ioctl(0, TIOCSCTTY, 0) < 0) fail("ioctl(TIOCSCTTY): %s", why(errno));
  }
  /* Without no_new_privs loading needs CAP_SYS_ADMIN: before the user change (as runc). */
  if (!plan.nnp) load_seccomp();
  become_user();
  set_final_affinity();
  write_lsm_label();
  /*
   * As runc: the filter is on before `start` is awaited, so startContainer hooks run under
   * it, and its set-up errors fail `create`.
   */
  if (plan.nnp) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("prctl(PR_SET_NO_NEW_PRIVS): %s", why(errno));
    load_seccomp();
  }
  if (plan.mode == 'i' || plan.mode == 'j' || plan.mode == 'k') wait_for_start();
  reset_signals();
  execve(plan.exe, plan.argv.item, plan.envp.item);
  int err = errno;
  if (err == ENOENT) fail("exec: \"%s\": no such file or directory", plan.argv.item[0]);
  if (err == EACCES) fail("exec: \"%s\": permission denied", plan.argv.item[0]);
  fail("exec: \"%s\": %s", plan.argv.item[0], why(err));
}

/* One line from the runtime (the control socket may be non-blocking), which must name `type`. */
static void wait_for_line(const char *type) {
  char buf[256];
  size_t got = 0;
  while (got < sizeof buf - 1) {
    struct pollfd p = { .fd = plan.control, .events = POLLIN };
    if (poll(&p, 1, -1) < 0 && errno != EINTR) fail("waiting for the runtime: %s", why(errno));
    ssize_t n = read(plan.control, buf + got, 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) fail("the runtime went away before it answered %s", type);
    if (buf[got++] == '\n') break;
  }
  buf[got] = '\0';
  if (!strstr(buf, type)) fail("unexpected answer from the runtime: %s", buf);
}

/*
 * The seccomp listener's message names the process's host pid, which only the parent
 * knows after a fork: it sends it over a pipe and the child puts it in place.
 */
#define PID_PLACEHOLDER "\"__TSRUN_HOST_PID__\""

static void fill_in_host_pid(pid_t pid) {
  char digits[16], *out;
  int dlen = snprintf(digits, sizeof digits, "%d", (int)pid);
  size_t plen = strlen(PID_PLACEHOLDER), n = 0;
  for (char *p = plan.listener_msg; (p = strstr(p, PID_PLACEHOLDER)) != NULL; p += plen) n++;
  if (n == 0) return;
  out = malloc(plan.listener_len + n * (size_t)dlen + 1);
  if (!out) fail("tsrun-stage: out of memory");
  size_t o = 0;
  for (char *p = plan.listener_msg;;) {
    char *hit = strstr(p, PID_PLACEHOLDER);
    size_t keep = hit ? (size_t)(hit - p) : strlen(p);
    memcpy(out + o, p, keep);
    o += keep;
    if (!hit) break;
    memcpy(out + o, digits, (size_t)dlen);
    o += (size_t)dlen;
    p = hit + plen;
  }
  out[o] = '\0';
  plan.listener_msg = out;
  plan.listener_len = (uint32_t)o;
}

/* Join the container's pid (and time) namespace for our child, fork, report its host pid. */
static pid_t fork_into_pid_namespace(void) {
  if (plan.timens >= 0 && setns(plan.timens, CLONE_NEWTIME) < 0) fail("joining the container's time namespace: %s", why(errno));
  if (plan.pidns >= 0 && setns(plan.pidns, CLONE_NEWPID) < 0) fail("joining the container's pid namespace: %s", why(errno));
  if (plan.timens >= 0) close(plan.timens);
  if (plan.pidns >= 0) close(plan.pidns);
  plan.timens = plan.pidns = -1;
  /*
   * The child waits for its host pid, sent once the runtime has it: its own messages
   * (ready, error) must come after ours.
   */
  int host_pid[2];
  if (pipe2(host_pid, O_CLOEXEC) < 0) fail("pipe: %s", why(errno));
  pid_t pid = fork();
  if (pid < 0) fail("fork: %s", why(errno));
  if (pid == 0) {
    pid_t mine;
    close(host_pid[1]);
    if (read(host_pid[0], &mine, sizeof mine) != sizeof mine) _exit(1); /* the parent failed and said so */
    close(host_pid[0]);
    if (plan.listener_msg) fill_in_host_pid(mine);
    return 0;
  }
  close(host_pid[0]);
  char line[64];
  snprintf(line, sizeof line, "{\"type\":\"pid\",\"pid\":%d}\n", (int)pid);
  say(line);
  /* A container's init: `tsrun create` records the pid (for delete --force after a SIGKILL) before the child goes on. */
  if (plan.mode == 'j' || plan.mode == 'k') wait_for_line("pid-recorded");
  if (write(host_pid[1], &pid, sizeof pid) != sizeof pid) fail("tsrun-stage: sending the host pid: %s", why(errno));
  close(host_pid[1]);
  return pid;
}

static void die(const char *what) {
  dprintf(2, "%s: %s\n", what, why(errno));
  _exit(1);
}

/* A detached proc mount of our pid namespace, with fsconfig OPTIONS (key or key=value). */
static int make_proc_mount(unsigned attrs, char **options, int n) {
  int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
  if (fs < 0) die("fsopen(proc)");
  /* The source /proc/self/mountinfo shows, as for mount("proc", ..., "proc", ...). */
  if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", "proc", 0) < 0) die("source");
  for (int i = 0; i < n; i++) {
    char *eq = strchr(options[i], '=');
    if (eq) *eq = '\0';
    if (syscall(SYS_fsconfig, fs, eq ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, options[i], eq ? eq + 1 : NULL, 0) < 0) die(options[i]);
  }
  if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) die("creating the proc mount");
  int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
  if (mnt < 0) die("fsmount(proc)");
  close(fs);
  return mnt;
}

/* One fd received on `sock` (SCM_RIGHTS), or -1 at EOF. */
static int recv_fd(int sock) {
  char byte;
  struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/* KEYCTL_JOIN_SESSION_KEYRING, then let the owner search it (`exec` joins it by name). */
static void join_keyring(const char *name) {
  long key = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name);
  if (key < 0) {
    if (errno == ENOSYS) return; /* no keyrings in this kernel: best effort, as runc */
    fail("session keyring %s: %s", name, why(errno));
  }
  char desc[512];
  long n = syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, key, desc, sizeof desc);
  if (n < 0 || (size_t)n > sizeof desc) fail("describing the session keyring: %s", why(errno));
  /* "type;uid;gid;perm;description" */
  char *perm = desc;
  for (int i = 0; i < 3 && perm; i++) perm = strchr(perm, ';') ? strchr(perm, ';') + 1 : NULL;
  if (!perm) fail("describing the session keyring: unexpected answer");
  unsigned long bits = strtoul(perm, NULL, 16) | 0x80000 /* KEY_USR_SEARCH */;
  if (syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, key, bits) < 0) fail("session keyring permissions: %s", why(errno));
}

/* wait mode (see the top): on return the plan is read and we go on as 'i'. */
static void wait_mode(int argc, char **argv) {
  if (argc < 6) {
    dprintf(2, "usage: tsrun-stage wait SOCK_FD PRESERVE PROC_INDEX ATTRS [OPTION...]\n");
    _exit(125);
  }
  /* Until the plan: die with tsrun (a kill of create leaves nothing waiting). */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  int sock = (int)number(argv[2], "socket fd");
  unsigned preserve = (unsigned)number(argv[3], "preserved fd count");
  long index = strtol(argv[4], NULL, 10);
  unsigned attrs = (unsigned)number(argv[5], "mount attributes");
  /* Only 0-2 and the preserved fds may cross the final execve (ours are closed earlier). */
  if (syscall(SYS_close_range, 3 + preserve, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) die("close_range");
  if (index >= 0) {
    char name[24];
    int len = snprintf(name, sizeof name, "%ld", index);
    if (send_fd(sock, make_proc_mount(attrs, argv + 6, argc - 6), name, (size_t)len) < 0) die("sending the proc mount");
  }
  int plan_fd = recv_fd(sock);
  if (plan_fd < 0) _exit(1); /* tsrun went away (it reports why) */
  close(sock);
  read_plan(plan_fd);
  if (plan.mode != 'i' && plan.mode != 'e' && plan.mode != 'd') fail("tsrun-stage: wait mode takes an init or exec plan");
  if (plan.mntns >= 0) {
    /* The container's root comes with its mount namespace (exec: we were spawned outside it). */
    if (setns(plan.mntns, CLONE_NEWNS) < 0) fail("joining the container's mount namespace: %s", why(errno));
    close(plan.mntns);
    plan.mntns = -1;
  }
  if (plan.cwd && chdir(plan.cwd) < 0) fail("chdir to cwd (\"%s\") set in config.json failed: %s", plan.cwd, why(errno));
  if (plan.cgroupns && unshare(CLONE_NEWCGROUP) < 0) fail("unshare(CLONE_NEWCGROUP): %s", why(errno));
  if (plan.keyring) join_keyring(plan.keyring);
}

static int proc_mode(int argc, char **argv) {
  if (argc < 6) return dprintf(2, "usage: tsrun-stage proc PIDNS_FD SOCK_FD USERNS_FD ATTRS [OPTION...]\n"), 125;
  int pidns = (int)number(argv[2], "pid namespace fd"), sock = (int)number(argv[3], "socket fd");
  int userns = (int)number(argv[4], "user namespace fd");
  unsigned attrs = (unsigned)number(argv[5], "mount attributes");
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (userns >= 0) {
    /*
     * The container's user namespace: the proc mount must belong to it. The kernel mounts
     * a proc there only beside a fully visible one, so the host's tree stays; our child,
     * visible in the pod while it holds that tree, is still out of reach: not dumpable, and
     * its memory belongs to the host's user namespace (we were exec'd there), so
     * CAP_SYS_PTRACE inside the container's user namespace cannot open it.
     */
    if (setns(userns, CLONE_NEWUSER) < 0) die("joining the container's user namespace");
    close(userns);
    if (unshare(CLONE_NEWNS) < 0) die("unshare(CLONE_NEWNS)");
  } else {
    /* An empty mount namespace: a tmpfs as root, the host's tree detached. */
    if (unshare(CLONE_NEWNS) < 0) die("unshare(CLONE_NEWNS)");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("making / private");
    if (mount("tsrun-empty", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") < 0) die("mounting an empty tmpfs");
    if (chdir("/proc") < 0 || syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root into the empty tmpfs");
    if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) die("detaching the host's mounts");
  }
  if (setns(pidns, CLONE_NEWPID) < 0) die("joining the pid namespace");
  close(pidns);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    if (send_fd(sock, make_proc_mount(attrs, argv + 6, argc - 6), "proc", 4) < 0) die("sending the proc mount");
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv) {
  /* Nothing in the container may ptrace or open us while we are root with its set-up fds. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (argc > 1 && strcmp(argv[1], "proc") == 0) return proc_mode(argc, argv);
  if (argc > 1 && strcmp(argv[1], "wait") == 0) {
    wait_mode(argc, argv);
  } else if (argc == 2) {
    read_plan((int)number(argv[1], "plan fd"));
  } else {
    dprintf(2, "usage: tsrun-stage PLAN_FD\n");
    return 125;
  }
  /* None of our fds may reach the user's process: execve closes them. */
  cloexec(plan.control);
  cloexec(plan.fifo);
  cloexec(plan.pidns);
  cloexec(plan.timens);
  cloexec(plan.listener);
  for (int i = 0; i < plan.nhome; i++) cloexec(plan.home[i]);
  if (plan.mode == 'i') become_process();
  pid_t pid = fork_into_pid_namespace();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    become_process();
  }
  /* The parent: the child owns the control socket now (its EOF says execve happened). */
  close(plan.control);
  plan.control = -1;
  if (plan.listener >= 0) close(plan.listener);
  if (plan.mode != 'e' && plan.mode != 'k') return 0;
  /* Out of the container's cgroups, as runc's exec parent: `ps`, pids.max, the freezer and
     `kill --all` see the process only. */
  for (int i = 0; i < plan.nhome; i++) {
    if (write(plan.home[i], "0", 1) != 1) dprintf(2, "tsrun: warning: leaving the container's cgroup: %s\n", why(errno));
    close(plan.home[i]);
  }
  /* Hold none of the process's fds (a pty or pipe must see EOF when it exits). */
  for (int fd = 0; fd < 1024; fd++) close(fd);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 125;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
