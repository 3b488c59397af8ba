#define _GNU_SOURCE
// The sandbox of a service (systemd.exec(5)), set up in the child between clone and exec. Like the rest of
// the child side (ctend.c), only system calls here: the child shares the manager's memory (CLONE_VM).
#include "ctend_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#endif

struct ctend_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};
#define CTEND_MOUNT_ATTR_RDONLY 0x1
#define CTEND_MOUNT_ATTR_NOSUID 0x2
#define CTEND_MOUNT_ATTR_NODEV 0x4
#define CTEND_MOUNT_ATTR_NOEXEC 0x8

// MARK: - Probe

struct probe_args {
    int flags;
    volatile int err;
};

static int probe_child(void *arg) {
    struct probe_args *a = arg;
    if (unshare(a->flags) < 0) {
        a->err = errno;
        _exit(1);
    }
    if ((a->flags & CLONE_NEWNS) && mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
        a->err = errno;
        _exit(1);
    }
    _exit(0);
}

int ctend_probe_unshare(int flags) {
    const size_t stack_size = 64 * 1024;
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return errno;
    struct probe_args a = {.flags = flags, .err = 0};
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    // No SIGCHLD: the manager's reaper never sees this child; it is waited for here (__WCLONE).
    pid_t pid = clone(probe_child, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK, &a);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        munmap(stack, stack_size);
        return saved;
    }
    int status = 0;
    while (waitpid(pid, &status, __WCLONE) < 0 && errno == EINTR) {}
    munmap(stack, stack_size);
    if (a.err) return a.err;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EPERM;
}

// MARK: - Mounts

static int set_read_only(const char *path, int read_only) {
    struct ctend_mount_attr attr;
    memset(&attr, 0, sizeof attr);
    if (read_only) attr.attr_set = CTEND_MOUNT_ATTR_RDONLY; else attr.attr_clr = CTEND_MOUNT_ATTR_RDONLY;
    if (syscall(SYS_mount_setattr, AT_FDCWD, path, 0, &attr, sizeof attr) == 0) return 0;
    if (errno != ENOSYS) return -1;
    // Older kernels: a bind remount, keeping the mount's other flags (statvfs's ST_* are the MS_* values).
    struct statvfs sv;
    if (statvfs(path, &sv) < 0) return -1;
    unsigned long keep = sv.f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
    return mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | keep | (read_only ? MS_RDONLY : 0), NULL);
}

static int seal(const char *path) {
    struct ctend_mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = CTEND_MOUNT_ATTR_RDONLY | CTEND_MOUNT_ATTR_NOSUID | CTEND_MOUNT_ATTR_NODEV | CTEND_MOUNT_ATTR_NOEXEC;
    if (syscall(SYS_mount_setattr, AT_FDCWD, path, 0, &attr, sizeof attr) == 0) return 0;
    if (errno != ENOSYS) return -1;
    return mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

static void join(char *out, size_t cap, const char *a, const char *b) {
    size_t n = 0;
    for (const char *p = a; *p && n + 1 < cap; p++) out[n++] = *p;
    for (const char *p = b; *p && n + 1 < cap; p++) out[n++] = *p;
    out[n] = 0;
}

static void fd_path(char *out, int fd) {
    char digits[16];
    int n = 0;
    do {
        digits[n++] = (char)('0' + fd % 10);
        fd /= 10;
    } while (fd);
    const char *prefix = "/proc/self/fd/";
    int i = 0;
    for (; prefix[i]; i++) out[i] = prefix[i];
    while (n) out[i++] = digits[--n];
    out[i] = 0;
}

// A /dev with the harmless devices only, as systemd's PrivateDevices=.
static int private_dev(const char *dev) {
    static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    enum { N = sizeof nodes / sizeof nodes[0] };
    int fds[N];
    char path[512];
    for (int i = 0; i < N; i++) {
        join(path, sizeof path, "/dev/", nodes[i]);
        fds[i] = open(path, O_PATH | O_CLOEXEC);
    }
    int rc = mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_STRICTATIME, "mode=0755");
    for (int i = 0; rc == 0 && i < N; i++) {
        if (fds[i] < 0) continue;
        char slash[512];
        join(slash, sizeof slash, dev, "/");
        join(path, sizeof path, slash, nodes[i]);
        int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (f < 0) { rc = -1; break; }
        close(f);
        char source[40];
        fd_path(source, fds[i]);
        if (mount(source, path, NULL, MS_BIND, NULL) < 0) rc = -1;
    }
    int saved = errno;
    for (int i = 0; i < N; i++) if (fds[i] >= 0) close(fds[i]);
    if (rc < 0) {
        errno = saved;
        return -1;
    }
    static const char *const links[][2] = {
        {"/fd", "/proc/self/fd"}, {"/stdin", "/proc/self/fd/0"}, {"/stdout", "/proc/self/fd/1"},
        {"/stderr", "/proc/self/fd/2"}, {"/ptmx", "pts/ptmx"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        join(path, sizeof path, dev, links[i][0]);
        if (symlink(links[i][1], path) < 0) return -1;
    }
    join(path, sizeof path, dev, "/pts");
    if (mkdir(path, 0755) < 0) return -1;
    if (mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0) return -1;
    join(path, sizeof path, dev, "/shm");
    if (mkdir(path, 01777) < 0) return -1;
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=01777") < 0) return -1;
    join(path, sizeof path, dev, "/mqueue");
    (void)mkdir(path, 0755);
    return mount("mqueue", path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 && errno != ENODEV ? -1 : 0;
}

static int run_mount(const struct ctend_mount *m) {
    switch (m->op) {
    case CTEND_MOUNT_BIND:
        return mount(m->source ? m->source : m->path, m->path, NULL, MS_BIND | MS_REC, NULL);
    case CTEND_MOUNT_READ_ONLY:
        return set_read_only(m->path, 1);
    case CTEND_MOUNT_READ_WRITE:
        return set_read_only(m->path, 0);
    case CTEND_MOUNT_TMPFS:
        return mount("tmpfs", m->path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_STRICTATIME,
                     m->source ? m->source : "mode=0755");
    case CTEND_MOUNT_INACCESSIBLE:
        if (!m->source) { errno = EINVAL; return -1; }
        if (mount(m->source, m->path, NULL, MS_BIND, NULL) < 0) return -1;
        return seal(m->path);
    case CTEND_MOUNT_PRIVATE_DEV:
        return private_dev(m->path);
    default:
        errno = EINVAL;
        return -1;
    }
}

static int loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

// MARK: - seccomp for RestrictNamespaces=

#if defined(__x86_64__)
#define CTEND_AUDIT_ARCH 0xC000003Eu
#elif defined(__aarch64__)
#define CTEND_AUDIT_ARCH 0xC00000B7u
#endif

static int restrict_namespaces(uint64_t allowed) {
#ifdef CTEND_AUDIT_ARCH
    const uint32_t all = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                         CLONE_NEWNET;
    const uint32_t denied = all & ~(uint32_t)allowed;
    if (!denied) return 0;
    const uint32_t eperm = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
    const uint32_t enosys = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);
    // clone3 passes its flags in memory a filter can't read: refused with ENOSYS, so that the C library
    // falls back to clone(2), whose flags it can (as systemd does).
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CTEND_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, enosys),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setns, 4, 3),
        // unshare/clone: flags in the first argument (the low word, little-endian).
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, denied, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, eperm),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        // setns: the type in the second argument; 0 ("any") is refused too.
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, denied, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, eperm),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#else
    (void)allowed;
    errno = ENOSYS;
    return -1;
#endif
}

// MARK: - The child's steps

int ctend_sandbox_before_credentials(const struct ctend_sandbox *s, int change_ids, int *err) {
    for (int i = 0; i < s->cgroup_proc_count; i++) {
        int fd = open(s->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0\n", 2) < 0) {
            *err = errno;
            if (fd >= 0) close(fd);
            return CTEND_STAGE_CGROUP;
        }
        close(fd);
    }
    if (s->set_oom_score_adj) {
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        char text[16];
        int v = s->oom_score_adj, n = 0, neg = v < 0;
        unsigned u = (unsigned)(neg ? -v : v);
        char digits[12];
        do {
            digits[n++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        int len = 0;
        if (neg) text[len++] = '-';
        while (n) text[len++] = digits[--n];
        text[len++] = '\n';
        // As systemd: a refusal for lack of privilege (a container) is not fatal.
        if (fd < 0 || (write(fd, text, (size_t)len) < 0 && errno != EACCES && errno != EPERM)) {
            *err = errno;
            if (fd >= 0) close(fd);
            return CTEND_STAGE_OOM_ADJUST;
        }
        close(fd);
    }
    if (s->net_ns) {
        if (unshare(CLONE_NEWNET) < 0 || loopback_up() < 0) {
            *err = errno;
            return CTEND_STAGE_NETWORK;
        }
    }
    if (s->mount_ns) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
            *err = errno;
            if (s->failed_mount) *s->failed_mount = -1;
            return CTEND_STAGE_NAMESPACE;
        }
        for (int i = 0; i < s->mount_count; i++) {
            if (run_mount(&s->mounts[i]) < 0) {
                *err = errno;
                if (s->failed_mount) *s->failed_mount = i;
                return CTEND_STAGE_NAMESPACE;
            }
        }
    }
    // Without CAP_SYS_ADMIN a filter may only be installed under no_new_privs, which is then set first.
    if (s->restrict_ns && s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        *err = errno;
        return CTEND_STAGE_NO_NEW_PRIVILEGES;
    }
    if (s->restrict_ns && restrict_namespaces(s->allowed_ns) < 0) {
        *err = errno;
        return CTEND_STAGE_SECCOMP;
    }
    if (s->drop_bounding) {
        for (int cap = 0; cap <= 63; cap++) {
            if (s->bounding & (1ULL << cap)) continue;
            if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break;  // past the last capability the kernel knows
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                *err = errno;
                return CTEND_STAGE_CAPABILITIES;
            }
        }
    }
    if (s->ambient && change_ids && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
        *err = errno;
        return CTEND_STAGE_CAPABILITIES;
    }
    return 0;
}

int ctend_sandbox_after_credentials(const struct ctend_sandbox *s, int *err) {
    if (s->ambient) {
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct data[2];
        memset(data, 0, sizeof data);
        if (syscall(SYS_capget, &header, data) < 0) {
            *err = errno;
            return CTEND_STAGE_CAPABILITIES;
        }
        uint32_t lo = (uint32_t)s->ambient, hi = (uint32_t)(s->ambient >> 32);
        data[0].effective |= lo;
        data[0].permitted |= lo;
        data[0].inheritable |= lo;
        data[1].effective |= hi;
        data[1].permitted |= hi;
        data[1].inheritable |= hi;
        if (syscall(SYS_capset, &header, data) < 0) {
            *err = errno;
            return CTEND_STAGE_CAPABILITIES;
        }
        for (int cap = 0; cap <= 63; cap++) {
            if (!(s->ambient & (1ULL << cap))) continue;
            if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
                *err = errno;
                return CTEND_STAGE_CAPABILITIES;
            }
        }
        (void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    }
    if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        *err = errno;
        return CTEND_STAGE_NO_NEW_PRIVILEGES;
    }
    return 0;
}
