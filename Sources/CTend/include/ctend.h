// CTend: the few things Swift can't do safely or can't import from Glibc.
//
// Every symbol is prefixed ctend_. Functions return 0 or a positive errno (never print); those that
// create a descriptor return it, or -errno. All descriptors are created O_CLOEXEC.
#ifndef CTEND_H
#define CTEND_H

#include <stdint.h>
#include <sys/types.h>

#include "ctend_sandbox.h"

#pragma clang assume_nonnull begin

// MARK: - Spawning

/// Which step of the child-side setup failed. The values are systemd's exit codes (systemd.exec(5),
/// "Process Exit Codes"), and the child exits with exactly that code, so a failed setup looks to the
/// manager like `code=exited, status=203/EXEC`, as it does under systemd.
enum ctend_stage {
    CTEND_STAGE_NONE = 0,
    CTEND_STAGE_CHDIR = 200,
    CTEND_STAGE_NICE = 201,
    CTEND_STAGE_FDS = 202,
    CTEND_STAGE_EXEC = 203,
    CTEND_STAGE_LIMITS = 205,
    CTEND_STAGE_SIGNAL_MASK = 207,
    CTEND_STAGE_STDIN = 208,
    CTEND_STAGE_STDOUT = 209,
    CTEND_STAGE_GROUP = 216,
    CTEND_STAGE_USER = 217,
    CTEND_STAGE_SETSID = 220,
    CTEND_STAGE_STDERR = 222,
};

struct ctend_rlimit {
    int resource;
    uint64_t soft;
    uint64_t hard;
};

struct ctend_spawn_attr {
    /// The program (an absolute path; PATH lookup is the caller's job) and its argv/envp, NULL-terminated.
    const char *_Nullable path;
    char *_Nullable const *_Nullable argv;
    char *_Nullable const *_Nullable envp;
    /// fd_map[i] becomes descriptor i in the child (i = 0, 1, 2, then 3... for passed sockets).
    /// -1 means "open /dev/null" (read-only for 0, write-only otherwise). Every other descriptor is closed.
    const int *_Nullable fd_map;
    int fd_count;
    /// Working directory, or NULL to keep the manager's.
    const char *_Nullable cwd;
    /// setsid() in the child (a new session and process group whose id is the child's pid).
    int new_session;
    /// Credentials: applied only when change_ids is set (setgroups, setresgid, setresuid, in that order).
    int change_ids;
    uid_t uid;
    gid_t gid;
    const gid_t *_Nullable groups;
    int group_count;
    /// umask, or -1 to keep it.
    int umask;
    /// Nice value when set_nice is non-zero.
    int set_nice;
    int nice;
    const struct ctend_rlimit *_Nullable rlimits;
    int rlimit_count;
    /// Environment entries of the form "NAME=" followed by at least 21 spare bytes of storage: the child
    /// writes its own pid there before exec (LISTEN_PID=, WATCHDOG_PID=), which no parent can know in advance.
    char *_Nullable *_Nullable pid_env;
    int pid_env_count;
    /// When non-zero, the child exits at once with this stage code, its errno recorded: the parent found a
    /// problem (an unknown User=, say) that systemd reports from the forked child, and reports it the same way.
    int fail_stage;
    int fail_errno;
    /// Namespaces, mounts, capabilities, OOM score, no_new_privs (ctend_sandbox.h), or NULL for none.
    const struct ctend_sandbox *_Nullable sandbox;
};

/// Spawns a child with clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD): the parent is suspended until the child
/// has exec'd or exited, so afterwards *stage_out says whether setup failed (and *errno_out why).
/// A failed child has already exited with the stage's code; reap it like any other child.
/// Returns 0, or an errno if no child was created.
int ctend_spawn(const struct ctend_spawn_attr *attr, pid_t *pid_out, int *pidfd_out, int *stage_out,
                int *errno_out);

// MARK: - Process control

int ctend_pidfd_open(pid_t pid);
/// pidfd_send_signal(2): 0 or errno.
int ctend_pidfd_send_signal(int pidfd, int sig);
/// Reaps one exited child of any kind (waitid(P_ALL, WEXITED|WNOHANG)). 1 when reaped (code/status as in
/// siginfo: CLD_EXITED with the exit status, or CLD_KILLED/CLD_DUMPED with the signal), 0 if none, -errno.
int ctend_reap_any(pid_t *pid, int *code, int *status);
/// prctl(PR_SET_CHILD_SUBREAPER, 1).
int ctend_set_child_subreaper(void);
/// Marks the executable's own file-backed mappings MADV_RANDOM (no fault-around: a page is mapped when it
/// is used, not its 15 neighbours) and releases the pages mapped so far (MADV_PAGEOUT); what is used later
/// comes back on demand from the page cache. Returns the number of mappings advised.
int ctend_trim_text(void);
/// prctl(PR_SET_NAME): the process's comm (15 bytes at most).
void ctend_set_name(const char *name);

// MARK: - Signals

/// Blocks the given signals in the calling thread (and threads created later). 0 or errno.
int ctend_block_signals(const int *signals, int count);
/// A non-blocking signalfd for the given signals.
int ctend_signalfd(const int *signals, int count);
/// Reads one signal from a signalfd: its number, 0 if none is pending, -errno.
int ctend_signalfd_read(int fd);

// MARK: - Event loop

struct ctend_event {
    uint32_t events;
    uint64_t data;
};
enum {
    CTEND_EPOLLIN = 0x001,
    CTEND_EPOLLOUT = 0x004,
    CTEND_EPOLLERR = 0x008,
    CTEND_EPOLLHUP = 0x010,
    CTEND_EPOLLRDHUP = 0x2000,
};
int ctend_epoll_create(void);
/// op: 1 add, 2 delete, 3 modify (EPOLL_CTL_*). 0 or errno.
int ctend_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// epoll_wait; returns the count or -errno (EINTR included, for the caller to retry).
int ctend_epoll_wait(int epfd, struct ctend_event *events, int max, int timeout_ms);
/// A non-blocking CLOCK_MONOTONIC timerfd.
int ctend_timerfd(void);
/// Arms the timerfd at an absolute CLOCK_MONOTONIC time in nanoseconds; 0 disarms. 0 or errno.
int ctend_timerfd_set(int fd, uint64_t monotonic_ns);
/// A blocking eventfd (for a thread that sleeps until there is work), or -errno.
int ctend_eventfd(void);
/// Grows a pipe's buffer (F_SETPIPE_SZ); returns the new size or -errno.
int ctend_set_pipe_size(int fd, int size);
/// inotify_init1(IN_CLOEXEC|IN_NONBLOCK?) and inotify_add_watch for a directory's changes (create, modify,
/// moved to/from, delete). Returns the inotify fd, or -errno.
int ctend_inotify_dir(const char *path, int nonblock);
/// Adds another directory to an inotify instance. Returns the watch descriptor or -errno.
int ctend_inotify_add(int fd, const char *path);
/// CLOCK_MONOTONIC now, in nanoseconds.
uint64_t ctend_monotonic_ns(void);
/// CLOCK_REALTIME now, in microseconds.
uint64_t ctend_realtime_us(void);

// MARK: - Sockets

/// A listening SOCK_STREAM unix socket bound at path (an old socket file there is removed first).
int ctend_unix_listen(const char *path, int backlog);
/// A connected SOCK_STREAM unix socket (blocking).
int ctend_unix_connect(const char *path);
/// accept4 with SOCK_CLOEXEC|SOCK_NONBLOCK.
int ctend_accept(int fd);
/// SO_PEERCRED of a connected unix socket. 0 or errno.
int ctend_peer_cred(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
/// The notify socket of one service: SOCK_DGRAM, SO_PASSCRED, non-blocking, bound at path (a leading '@'
/// means an abstract name), mode 0777 so that services running as any user can send. Returns the fd or -errno.
int ctend_notify_socket(const char *path);
/// Receives one datagram with its sender's credentials and any descriptors (MSG_CMSG_CLOEXEC).
/// Returns 1 with a message, 0 when none is pending, -errno on error. *len is the datagram's real length
/// (larger than cap when it was truncated); *pid is 0 when no credentials came with it; received descriptors
/// beyond max_fds are closed, and *nfds counts those stored.
int ctend_recv_notify(int fd, void *buf, size_t cap, size_t *len, pid_t *pid, uid_t *uid, gid_t *gid,
                      int *fds, int max_fds, int *nfds);
/// A pipe with O_CLOEXEC; flags may add O_NONBLOCK to the read end (nonblock_read).
int ctend_pipe(int fds[_Nonnull 2], int nonblock_read);
/// Sets or clears O_NONBLOCK. 0 or errno.
int ctend_set_nonblocking(int fd, int on);

// The holder (see ctend.c): a parent that outlives the manager and holds its descriptors.
int ctend_holder_start(const char *exe, char *_Nullable const argv[_Nonnull]);
int ctend_holder_send(int sock, const char *message, int fd);
int ctend_holder_send_fds(int sock, const char *message, const int *fds, int nfds);
int ctend_holder_configure(int sock);
int ctend_holder_recv(int sock, int blocking, char *name, size_t cap, int *fd, int *pid, int *status);
/// No-op handlers for `sigs` (kept blocked, read from a signalfd): a namespace's init otherwise never gets them.
int ctend_init_handlers(const int *sigs, int n);

#pragma clang assume_nonnull end
#endif
