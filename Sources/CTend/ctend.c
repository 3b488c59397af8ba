#define _GNU_SOURCE
// The C side of tend: child-side setup after clone, and thin wrappers for what Glibc doesn't export to Swift.
// Over 800 lines because the holder's loop (a process that must run before any Swift code) lives here with the
// spawner's helpers it shares; each part is marked with a MARK comment.
#include "ctend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

// MARK: - Spawning

struct child_args {
    const struct ctend_spawn_attr *attr;
    // Written by the child before it exits on failure. The parent is suspended (CLONE_VFORK) until the
    // child execs or exits, and the memory is shared (CLONE_VM), so the parent reads these afterwards.
    volatile int stage;
    volatile int err;
};

// Only async-signal-safe calls below, and raw syscalls for the credentials: glibc's setgroups/setresuid
// broadcast to every thread of the process (setxid), which in a CLONE_VM child means the parent's threads.
static void child_fail(struct child_args *a, int stage, int err) {
    a->stage = stage;
    a->err = err;
    _exit(stage);
}

static void write_pid(char *slot, pid_t pid) {
    char *p = slot;
    while (*p) p++;
    // p points at the end of "NAME="; write the decimal pid there.
    char digits[24];
    int n = 0;
    unsigned long v = (unsigned long)pid;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = digits[--n];
    *p = 0;
}

static int child_main(void *arg) {
    struct child_args *a = arg;
    const struct ctend_spawn_attr *s = a->attr;

    // Default dispositions for every signal: the manager's handlers (if any) must not run in the service.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        (void)sigaction(sig, &dfl, NULL);
    }

    if (s->fail_stage) child_fail(a, s->fail_stage, s->fail_errno);
    if (s->new_session && setsid() < 0) child_fail(a, CTEND_STAGE_SETSID, errno);

    // Descriptor layout: move every source above the target range first, so that dup2 into 0..n-1
    // can't clobber a source that is still needed.
    int base = s->fd_count + 3;
    int moved[512];
    int count = s->fd_count > 512 ? 512 : s->fd_count;
    for (int i = 0; i < count; i++) {
        int src = s->fd_map[i];
        if (src < 0) {
            src = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
            if (src < 0) child_fail(a, i == 0 ? CTEND_STAGE_STDIN : i == 1 ? CTEND_STAGE_STDOUT : i == 2 ? CTEND_STAGE_STDERR : CTEND_STAGE_FDS, errno);
        }
        int hi = fcntl(src, F_DUPFD_CLOEXEC, base);
        if (hi < 0) child_fail(a, CTEND_STAGE_FDS, errno);
        moved[i] = hi;
    }
    for (int i = 0; i < count; i++) {
        if (dup2(moved[i], i) < 0) child_fail(a, i == 0 ? CTEND_STAGE_STDIN : i == 1 ? CTEND_STAGE_STDOUT : i == 2 ? CTEND_STAGE_STDERR : CTEND_STAGE_FDS, errno);
    }
    if (syscall(SYS_close_range, (unsigned)count, ~0U, 0) < 0) {
        for (int fd = count; fd < 65536; fd++) (void)close(fd);
    }

    for (int i = 0; i < s->rlimit_count; i++) {
        struct rlimit rl = {(rlim_t)s->rlimits[i].soft, (rlim_t)s->rlimits[i].hard};
        if (setrlimit(s->rlimits[i].resource, &rl) < 0) {
            /* systemd's setrlimit_closest(): a limit above the hard limit that can't be raised (EPERM, no
             * CAP_SYS_RESOURCE) is lowered to the closest one possible instead of failing the start. */
            struct rlimit highest;
            if (errno != EPERM || getrlimit(s->rlimits[i].resource, &highest) < 0 || highest.rlim_max == RLIM_INFINITY)
                child_fail(a, CTEND_STAGE_LIMITS, errno);
            struct rlimit fixed = {rl.rlim_cur < highest.rlim_max ? rl.rlim_cur : highest.rlim_max,
                                   rl.rlim_max < highest.rlim_max ? rl.rlim_max : highest.rlim_max};
            if ((fixed.rlim_cur != highest.rlim_cur || fixed.rlim_max != highest.rlim_max)
                && setrlimit(s->rlimits[i].resource, &fixed) < 0)
                child_fail(a, CTEND_STAGE_LIMITS, errno);
        }
    }
    if (s->set_nice && setpriority(PRIO_PROCESS, 0, s->nice) < 0) child_fail(a, CTEND_STAGE_NICE, errno);
    if (s->umask >= 0) umask((mode_t)s->umask);

    if (s->sandbox) {
        int err = 0, stage = ctend_sandbox_before_credentials(s->sandbox, s->change_ids, &err);
        if (stage) child_fail(a, stage, err);
    }

    if (s->change_ids) {
        if (syscall(SYS_setgroups, (size_t)s->group_count, s->groups) < 0) child_fail(a, CTEND_STAGE_GROUP, errno);
        if (syscall(SYS_setresgid, s->gid, s->gid, s->gid) < 0) child_fail(a, CTEND_STAGE_GROUP, errno);
        if (syscall(SYS_setresuid, s->uid, s->uid, s->uid) < 0) child_fail(a, CTEND_STAGE_USER, errno);
    }
    if (s->sandbox) {
        int err = 0, stage = ctend_sandbox_after_credentials(s->sandbox, &err);
        if (stage) child_fail(a, stage, err);
    }
    // After the credential change, as systemd does, so the directory is checked with the service's rights.
    if (s->cwd && chdir(s->cwd) < 0) child_fail(a, CTEND_STAGE_CHDIR, errno);

    if (s->pid_env) {
        pid_t self = (pid_t)syscall(SYS_getpid);
        for (int i = 0; i < s->pid_env_count; i++) write_pid(s->pid_env[i], self);
    }

    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) child_fail(a, CTEND_STAGE_SIGNAL_MASK, errno);

    execve(s->path, s->argv, s->envp);
    child_fail(a, CTEND_STAGE_EXEC, errno);
    return 0;
}

int ctend_spawn(const struct ctend_spawn_attr *attr, pid_t *pid_out, int *pidfd_out, int *stage_out,
                int *errno_out) {
    const size_t stack_size = 256 * 1024;
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return errno;

    struct child_args args = {.attr = attr, .stage = 0, .err = 0};
    // Block every signal around clone: the child must not run a handler of ours before it resets them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int pidfd = -1;
    pid_t pid = clone(child_main, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &args,
                      &pidfd);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, stack_size);
    if (pid < 0) return saved;
    // CLONE_PIDFD descriptors are created with O_CLOEXEC by the kernel.
    *pid_out = pid;
    *pidfd_out = pidfd;
    *stage_out = args.stage;
    *errno_out = args.err;
    return 0;
}

// MARK: - Process control

int ctend_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int ctend_pidfd_send_signal(int pidfd, int sig) {
    return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? errno : 0;
}

static int reap(idtype_t type, id_t id, pid_t *pid, int *code, int *status) {
    siginfo_t info;
    for (;;) {
        memset(&info, 0, sizeof info);
        if (waitid(type, id, &info, WEXITED | WNOHANG) == 0) break;
        if (errno == EINTR) continue;
        return -errno;
    }
    if (info.si_pid == 0) return 0;
    if (pid) *pid = info.si_pid;
    *code = info.si_code;
    *status = info.si_status;
    return 1;
}

int ctend_reap_any(pid_t *pid, int *code, int *status) { return reap(P_ALL, 0, pid, code, status); }

int ctend_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ? errno : 0; }

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
int ctend_trim_text(void) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = 0;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f) return 0;
    char line[8192];
    int advised = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        int path_off = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_off) < 3 || path_off == 0) continue;
        char *path = line + path_off;
        path[strcspn(path, "\n")] = 0;
        // Only clean, read-only mappings of our own binary: code and constants, never data.
        if (strcmp(path, exe) != 0 || perms[1] == 'w') continue;
        (void)madvise((void *)lo, hi - lo, MADV_RANDOM);
        (void)madvise((void *)lo, hi - lo, MADV_PAGEOUT);
        advised++;
    }
    fclose(f);
    return advised;
}

void ctend_set_name(const char *name) { (void)prctl(PR_SET_NAME, name, 0, 0, 0); }

// MARK: - Signals

static void fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
}

int ctend_block_signals(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int ctend_signalfd(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int ctend_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    for (;;) {
        ssize_t n = read(fd, &info, sizeof info);
        if (n == (ssize_t)sizeof info) return (int)info.ssi_signo;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        return n < 0 ? -errno : -EIO;
    }
}

// MARK: - Event loop

int ctend_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int ctend_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data.u64 = data};
    return epoll_ctl(epfd, op, fd, &ev) < 0 ? errno : 0;
}

int ctend_epoll_wait(int epfd, struct ctend_event *events, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        events[i].events = evs[i].events;
        events[i].data = evs[i].data.u64;
    }
    return n;
}

int ctend_timerfd(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int ctend_timerfd_set(int fd, uint64_t ns) {
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(ns / 1000000000ull);
    its.it_value.tv_nsec = (long)(ns % 1000000000ull);
    // An absolute time of exactly 0 would disarm; a deadline in the past must still fire.
    if (ns != 0 && its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? errno : 0;
}

int ctend_eventfd(void) {
    int fd = eventfd(0, EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int ctend_set_pipe_size(int fd, int size) {
    int r = fcntl(fd, F_SETPIPE_SZ, size);
    return r < 0 ? -errno : r;
}

int ctend_inotify_add(int fd, const char *path) {
    int wd = inotify_add_watch(fd, path, IN_CREATE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE);
    return wd < 0 ? -errno : wd;
}

int ctend_inotify_dir(const char *path, int nonblock) {
    int fd = inotify_init1(IN_CLOEXEC | (nonblock ? IN_NONBLOCK : 0));
    if (fd < 0) return -errno;
    int wd = ctend_inotify_add(fd, path);
    if (wd < 0) {
        close(fd);
        return wd;
    }
    return fd;
}

uint64_t ctend_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ctend_realtime_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000ull;
}

// MARK: - Sockets

static int fill_addr(struct sockaddr_un *addr, const char *path) {
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr->sun_path) return ENAMETOOLONG;
    strcpy(addr->sun_path, path);
    return 0;
}

int ctend_unix_listen(const char *path, int backlog) {
    struct sockaddr_un addr;
    int e = fill_addr(&addr, path);
    if (e) return -e;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    (void)unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, backlog) < 0) {
        e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int ctend_unix_connect(const char *path) {
    struct sockaddr_un addr;
    int e = fill_addr(&addr, path);
    if (e) return -e;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    for (;;) {
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
        if (errno == EINTR) continue;
        e = errno;
        close(fd);
        return -e;
    }
}

int ctend_accept(int fd) {
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c >= 0) return c;
        if (errno == EINTR) continue;
        return -errno;
    }
}

int ctend_peer_cred(int fd, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return errno;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int ctend_notify_socket(const char *path) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof addr.sun_path) return -ENAMETOOLONG;
    memcpy(addr.sun_path, path, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    int abstract = path[0] == '@';
    if (abstract) addr.sun_path[0] = 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) goto fail;
    // A deeper queue absorbs bursts (a service may send many STATUS= updates at once).
    int size = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (!abstract) (void)unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, abstract ? len : (socklen_t)sizeof addr) < 0) goto fail;
    if (!abstract) (void)chmod(path, 0777);
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

int ctend_recv_notify(int fd, void *buf, size_t cap, size_t *len, pid_t *pid, uid_t *uid, gid_t *gid,
                      int *fds, int max_fds, int *nfds) {
    // systemd accepts up to 768 descriptors with one message (NOTIFY_FD_MAX).
    union {
        struct cmsghdr align;
        char data[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 768)];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data;
    msg.msg_controllen = sizeof control.data;
    ssize_t n;
    for (;;) {
        n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n >= 0) break;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -errno;
    }
    *len = (size_t)n;
    *pid = 0;
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    *nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            *pid = cred.pid;
            *uid = cred.uid;
            *gid = cred.gid;
        } else if (c->cmsg_type == SCM_RIGHTS) {
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *received = (int *)CMSG_DATA(c);
            for (int i = 0; i < count; i++) {
                int rfd;
                memcpy(&rfd, received + i, sizeof rfd);
                if (*nfds < max_fds) fds[(*nfds)++] = rfd;
                else close(rfd);
            }
        }
    }
    return 1;
}

int ctend_pipe(int fds[2], int nonblock_read) {
    if (pipe2(fds, O_CLOEXEC) < 0) return errno;
    if (nonblock_read) return ctend_set_nonblocking(fds[0], 1);
    return 0;
}

int ctend_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return errno;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags) < 0 ? errno : 0;
}

// MARK: - The holder: a small parent that outlives the manager (see Sources/TendSystem/Holder.swift)
//
// Messages on a SOCK_SEQPACKET socketpair, one per packet:
//   manager -> holder: 'P' NAME (one descriptor attached): hold it;  'D' NAME: close and forget it;
//                      'R': the manager is about to exit to be executed again (daemon-reexec).
//   holder -> manager: 'H' NAME (its descriptor attached): handed back at a (re)start, in the order held;
//                      'E' PID STATUS (two ints): a process the holder reaped (an orphan the manager left);
//                      'Z': the hand-over is complete.

struct held { char *name; int fd; };
static struct held *held_list;
static size_t held_count, held_cap;
static struct { pid_t pid; int status; } *exits;
static size_t exit_count, exit_cap;

static void held_drop(const char *name) {
    for (size_t i = 0; i < held_count; i++) {
        if (strcmp(held_list[i].name, name) == 0) {
            close(held_list[i].fd);
            free(held_list[i].name);
            held_list[i] = held_list[--held_count];
            return;
        }
    }
}

// Names are never reused while held (the manager drops an entry before it holds another under that name),
// so a put doesn't search: a bring-up of N services costs O(N), not O(N²).
static void held_put(const char *name, int fd) {
    if (held_count == held_cap) {
        size_t cap = held_cap ? held_cap * 2 : 64;
        struct held *n = realloc(held_list, cap * sizeof *n);
        if (!n) { close(fd); return; }
        held_list = n;
        held_cap = cap;
    }
    held_list[held_count].name = strdup(name);
    held_list[held_count].fd = fd;
    held_count++;
}

static int send_packet_fds(int sock, const void *data, size_t len, const int *fds, int nfds);

static int send_packet(int sock, const void *data, size_t len, int fd) {
    return send_packet_fds(sock, data, len, &fd, fd >= 0 ? 1 : 0);
}

static int send_packet_fds(int sock, const void *data, size_t len, const int *fds, int nfds) {
    struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
    union { char buf[CMSG_SPACE(sizeof(int) * 8)]; struct cmsghdr align; } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds > 8) nfds = 8;
    if (nfds > 0) {
        memset(&u, 0, sizeof u);
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n >= 0) return 0;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            struct pollfd p = { .fd = sock, .events = POLLOUT };
            (void)poll(&p, 1, 1000);
            continue;
        }
        return -errno;
    }
}

/// Reads one packet; returns its length (0 at end of file, -errno on error) and the descriptor attached or -1.
#define HOLDER_MAX_FDS 8
static ssize_t recv_packet_fds(int sock, char *buf, size_t cap, int fds[HOLDER_MAX_FDS], int *nfds, int flags);

static ssize_t recv_packet(int sock, char *buf, size_t cap, int *fd, int flags) {
    int fds[HOLDER_MAX_FDS];
    int n = 0;
    ssize_t len = recv_packet_fds(sock, buf, cap, fds, &n, flags);
    *fd = n > 0 ? fds[0] : -1;
    for (int i = 1; i < n; i++) close(fds[i]);
    return len;
}

/// The holder's side of a manager's messages: 'P' NAME with one descriptor holds it as NAME, with several
/// as "NAME 0", "NAME 1", ...; 'D' NAME drops; 'R' marks a re-exec. Returns -1 once the socket is closed.
static int take_messages(int sock, int *reexec) {
    for (;;) {
        char buf[4200];
        int fds[HOLDER_MAX_FDS];
        int n = 0;
        ssize_t len = recv_packet_fds(sock, buf, sizeof buf, fds, &n, MSG_DONTWAIT);
        if (len == -EAGAIN) return 0;
        if (len <= 0) return -1;
        int used = 0;
        if (buf[0] == 'P' && n == 1) {
            held_put(buf + 1, fds[0]);
            used = 1;
        } else if (buf[0] == 'P' && n > 1) {
            for (int i = 0; i < n; i++) {
                char name[4300];
                snprintf(name, sizeof name, "%s %d", buf + 1, i);
                held_put(name, fds[i]);
            }
            used = n;
        } else if (buf[0] == 'D') {
            held_drop(buf + 1);
        } else if (buf[0] == 'R') {
            *reexec = 1;
        }
        for (int i = used; i < n; i++) close(fds[i]);
    }
}

static ssize_t recv_packet_fds(int sock, char *buf, size_t cap, int fds[HOLDER_MAX_FDS], int *nfds, int flags) {
    struct iovec iov = { .iov_base = buf, .iov_len = cap - 1 };
    union { char buf[CMSG_SPACE(sizeof(int) * HOLDER_MAX_FDS)]; struct cmsghdr align; } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    *nfds = 0;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            if (*nfds < HOLDER_MAX_FDS) fds[(*nfds)++] = got; else close(got);
        }
    }
    buf[n] = 0;
    return n;
}

static void hand_over(int sock) {
    char buf[4200];
    for (size_t i = 0; i < held_count; i++) {
        int len = snprintf(buf, sizeof buf, "H%s", held_list[i].name);
        if (len > 0 && (size_t)len < sizeof buf) (void)send_packet(sock, buf, (size_t)len, held_list[i].fd);
    }
    for (size_t i = 0; i < exit_count; i++) {
        buf[0] = 'E';
        memcpy(buf + 1, &exits[i].pid, sizeof(pid_t));
        memcpy(buf + 1 + sizeof(pid_t), &exits[i].status, sizeof(int));
        (void)send_packet(sock, buf, 1 + sizeof(pid_t) + sizeof(int), -1);
    }
    exit_count = 0;
    (void)send_packet(sock, "Z", 1, -1);
}

static void holder_noop(int sig) { (void)sig; }

int ctend_init_handlers(const int *sigs, int n) {
    // A signal whose disposition is the default is dropped for a namespace's init before it is queued: a
    // handler (never run: the signals stay blocked and are read from a signalfd) makes it arrive.
    struct sigaction noop = { .sa_handler = holder_noop };
    for (int i = 0; i < n; i++)
        if (sigs[i] != SIGCHLD && sigaction(sigs[i], &noop, NULL) < 0) return -1;
    return 0;
}

static pid_t spawn_manager(const char *exe, char *const argv[], int *sock_out) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) { close(sv[0]); close(sv[1]); return -1; }
    if (pid == 0) {
        close(sv[0]);
        int fd = fcntl(sv[1], F_DUPFD, 3);  // without FD_CLOEXEC: the new manager inherits it
        char value[16];
        snprintf(value, sizeof value, "%d", fd);
        setenv("TEND_HOLDER_FD", value, 1);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        execv(exe, argv);
        _exit(127);
    }
    close(sv[1]);
    *sock_out = sv[0];
    return pid;
}

/// Forks: the child returns the manager's end of the socketpair and goes on as the manager; the parent
/// becomes the holder and never returns. It holds the descriptors the manager gives it (log pipes, notify
/// sockets, pidfds of main processes), is the subreaper that services orphaned by the manager's death fall to
/// (it reaps them and reports their exits), forwards SIGTERM, SIGINT, SIGHUP sent to it to the manager, and
/// when the manager dies of a signal (kill -9, a crash) or asked to be executed again, it starts a new one
/// (`exe` with `argv`) and hands everything back. When the manager exits by itself, the holder exits with its
/// status. Returns -1 if the holder could not be set up (the caller runs without one).
static const int holder_signals[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void holder_loop(int sock, pid_t manager, const char *exe, char *const argv[]) __attribute__((noreturn));

int ctend_holder_start(const char *exe, char *const argv[]) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    sigset_t mask;
    sigemptyset(&mask);
    for (size_t i = 0; i < sizeof holder_signals / sizeof *holder_signals; i++) sigaddset(&mask, holder_signals[i]);
    sigset_t old;
    sigprocmask(SIG_BLOCK, &mask, &old);
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    pid_t manager = fork();
    if (manager < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (manager == 0) {
        close(sv[0]);
        sigprocmask(SIG_SETMASK, &old, NULL);
        (void)prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        return sv[1];
    }
    close(sv[1]);
    // The holder executes itself again, so that it carries none of the manager's memory: the constructor
    // below sees TEND_HOLDER_EXEC and runs the loop before anything else of the program (no Swift runtime
    // work, no heap of the manager's). The pid, the signal mask and the subreaper flag stay across execve.
    int fd = fcntl(sv[0], F_DUPFD, 3);
    if (fd >= 0) {
        char value[4200];
        snprintf(value, sizeof value, "%d:%d:%s", fd, (int)manager, exe);
        setenv("TEND_HOLDER_EXEC", value, 1);
        execv(exe, argv);
        unsetenv("TEND_HOLDER_EXEC");
        close(fd);
    }
    holder_loop(sv[0], manager, exe, argv);  // exec failed: loop in this image
}

__attribute__((constructor)) static void holder_entry(int argc, char **argv, char **envp) {
    (void)argc;
    (void)envp;
    const char *v = getenv("TEND_HOLDER_EXEC");
    if (!v) return;
    int sock = -1, manager = -1, used = 0;
    if (sscanf(v, "%d:%d:%n", &sock, &manager, &used) != 2 || used <= 0 || sock < 0 || manager <= 0) return;
    static char exe[4096];
    snprintf(exe, sizeof exe, "%s", v + used);
    unsetenv("TEND_HOLDER_EXEC");
    (void)fcntl(sock, F_SETFD, FD_CLOEXEC);
    holder_loop(sock, manager, exe, argv);
}

/// Whether the holder acts as a container's init: it is PID 1 of its namespace, or `--init` was given (before
/// a `--` that starts a command's arguments).
static int holder_init_mode(char *const argv[]) {
    if (getpid() == 1) return 1;
    for (size_t i = 1; argv[i]; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--init") == 0) return 1;
    }
    return 0;
}

/// SIGKILL to every child of the holder (orphans that fell to it), read from /proc; returns how many.
static int kill_children(void) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    pid_t me = getpid();
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0) continue;
        buf[len] = 0;
        char *close_paren = strrchr(buf, ')');
        char state;
        int ppid;
        if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) continue;
        if (ppid == me) {
            (void)kill((pid_t)atoi(e->d_name), SIGKILL);
            n++;
        }
    }
    closedir(d);
    return n;
}

/// As a namespace's init ends every process in it, the holder in init mode ends what is left when the
/// manager has exited (processes that escaped their unit, a `docker exec`'s orphans) and reaps them, within a
/// bound of 5 s, so that the container leaves no process behind and no zombie.
static void end_the_rest(int sfd) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (getpid() == 1) (void)kill(-1, SIGKILL);
        else (void)kill_children();
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {}
        if (pid < 0 && errno == ECHILD) return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited >= 5000) return;
        struct pollfd p = { .fd = sfd, .events = POLLIN };
        if (poll(&p, 1, 100) > 0) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {}
        }
    }
}

static void holder_loop(int sock, pid_t manager, const char *exe, char *const argv[]) {
    sigset_t mask;
    sigemptyset(&mask);
    for (size_t i = 0; i < sizeof holder_signals / sizeof *holder_signals; i++) sigaddset(&mask, holder_signals[i]);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    prctl(PR_SET_NAME, "tend-holder", 0, 0, 0);
    // As PID 1 of a namespace, a signal whose disposition is the default is dropped before it is queued: a
    // handler (never run: the signals stay blocked and are read from the signalfd) makes them arrive.
    struct sigaction noop = { .sa_handler = holder_noop };
    for (size_t i = 0; i < sizeof holder_signals / sizeof *holder_signals; i++)
        if (holder_signals[i] != SIGCHLD) sigaction(holder_signals[i], &noop, NULL);
    // It holds about five descriptors per service: as many as the hard limit allows.
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &nofile);
    }
    // The holder needs none of what it inherited but the terminal's stdio.
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    int init_mode = holder_init_mode(argv);
    int reexec = 0;
    time_t starts[5] = {0};
    int start_index = 0;
    (void)send_packet(sock, "Z", 1, -1);
    for (;;) {
        struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = sock, .events = POLLIN } };
        int n = poll(p, sock >= 0 ? 2 : 1, -1);
        if (n < 0 && errno != EINTR) _exit(1);
        if (sock >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && take_messages(sock, &reexec) < 0) {
            close(sock);
            sock = -1;
        }
        if (!(p[0].revents & POLLIN)) continue;
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo != SIGCHLD) {
                // A signal typed at the terminal reaches the manager itself (same process group); one sent to
                // the holder (kill, a container runtime) is passed on.
                if (si.ssi_code != SI_KERNEL && manager > 0) kill(manager, (int)si.ssi_signo);
                continue;
            }
            for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0) break;
                if (pid != manager) {
                    if (sock >= 0) {
                        char buf[1 + sizeof(pid_t) + sizeof(int)];
                        buf[0] = 'E';
                        memcpy(buf + 1, &pid, sizeof pid);
                        memcpy(buf + 1 + sizeof pid, &status, sizeof status);
                        if (send_packet(sock, buf, sizeof buf, -1) == 0) continue;
                    }
                    if (exit_count == exit_cap) {
                        size_t cap = exit_cap ? exit_cap * 2 : 64;
                        void *e = realloc(exits, cap * sizeof *exits);
                        if (!e) continue;
                        exits = e;
                        exit_cap = cap;
                    }
                    exits[exit_count].pid = pid;
                    exits[exit_count].status = status;
                    exit_count++;
                    continue;
                }
                // The manager is gone.
                if (sock >= 0) {
                    (void)take_messages(sock, &reexec);  // what it said last (a final 'P', 'D' or 'R')
                    close(sock);
                    sock = -1;
                }
                if (!reexec && WIFEXITED(status)) {
                    if (init_mode) end_the_rest(sfd);
                    _exit(WEXITSTATUS(status));
                }
                time_t now = time(NULL);
                if (!reexec && starts[start_index] != 0 && now - starts[start_index] < 30) {
                    const char *text = "tend-holder: the manager died 5 times within 30 s; giving up.\n";
                    (void)write(2, text, strlen(text));
                    _exit(1);
                }
                starts[start_index] = now;
                start_index = (start_index + 1) % 5;
                if (!reexec) {
                    char text[160];
                    int len = snprintf(text, sizeof text, "tend-holder: the manager (pid %d) died of signal %d; starting it again.\n",
                                       (int)manager, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
                    if (len > 0) (void)write(2, text, (size_t)len);
                }
                reexec = 0;
                manager = spawn_manager(exe, argv, &sock);
                if (manager < 0) _exit(1);
                hand_over(sock);
            }
        }
    }
}

int ctend_holder_send(int sock, const char *message, int fd) {
    return send_packet(sock, message, strlen(message), fd);
}

int ctend_holder_send_fds(int sock, const char *message, const int *fds, int nfds) {
    return send_packet_fds(sock, message, strlen(message), fds, nfds);
}

int ctend_holder_configure(int sock) {
    // Room for every message of a large bring-up: the manager must not wait for the holder to be scheduled.
    int size = 8 << 20;
    if (setsockopt(sock, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        (void)setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return 0;
}

/// One packet from the holder: returns its kind ('H', 'E' or 'Z'), 0 when none is waiting (nonblocking), -1 at
/// end of file; the name (for 'H') into `name`, the descriptor, the pid and status (for 'E').
int ctend_holder_recv(int sock, int blocking, char *name, size_t cap, int *fd, int *pid, int *status) {
    char buf[4200];
    ssize_t n = recv_packet(sock, buf, sizeof buf, fd, blocking ? 0 : MSG_DONTWAIT);
    if (n == -EAGAIN) return 0;
    if (n <= 0) return -1;
    name[0] = 0;
    if (buf[0] == 'H') {
        snprintf(name, cap, "%s", buf + 1);
    } else if (buf[0] == 'E' && (size_t)n >= 1 + sizeof(pid_t) + sizeof(int)) {
        memcpy(pid, buf + 1, sizeof(pid_t));
        memcpy(status, buf + 1 + sizeof(pid_t), sizeof(int));
    }
    return (unsigned char)buf[0];
}
