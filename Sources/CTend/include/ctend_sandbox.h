// CTend: the sandbox a child sets up between clone and exec (namespaces, mounts, capabilities, seccomp).
#ifndef CTEND_SANDBOX_H
#define CTEND_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#pragma clang assume_nonnull begin

/// systemd's exit codes for the steps below (systemd.exec(5), "Process Exit Codes").
enum ctend_sandbox_stage {
    CTEND_STAGE_OOM_ADJUST = 206,
    CTEND_STAGE_CAPABILITIES = 218,
    CTEND_STAGE_CGROUP = 219,
    CTEND_STAGE_NETWORK = 225,
    CTEND_STAGE_NAMESPACE = 226,
    CTEND_STAGE_NO_NEW_PRIVILEGES = 227,
    CTEND_STAGE_SECCOMP = 228,
};

/// One step of the mount namespace's set-up, carried out in order.
enum ctend_mount_op {
    /// source onto path (MS_BIND|MS_REC); source == path makes path a mount point of its own.
    CTEND_MOUNT_BIND = 1,
    /// The topmost mount at path becomes read-only (mount_setattr, else a bind remount keeping its flags).
    CTEND_MOUNT_READ_ONLY = 2,
    /// The topmost mount at path becomes writable again.
    CTEND_MOUNT_READ_WRITE = 3,
    /// A read-only tmpfs at path with the options in source (`mode=0755`).
    CTEND_MOUNT_TMPFS = 4,
    /// source (an empty node of mode 0000) bound onto path, read-only, nosuid, nodev, noexec.
    CTEND_MOUNT_INACCESSIBLE = 5,
    /// A fresh /dev at path: null, zero, full, random, urandom, tty bound from the host, pts, shm, the links.
    CTEND_MOUNT_PRIVATE_DEV = 6,
};

struct ctend_mount {
    int op;
    const char *path;
    const char *_Nullable source;
};

struct ctend_sandbox {
    /// cgroup.procs (or v1 tasks) files the child joins first, by writing "0" (systemd's 219/CGROUP on failure).
    const char *const *_Nullable cgroup_procs;
    int cgroup_proc_count;
    int set_oom_score_adj;
    int oom_score_adj;
    int no_new_privs;
    /// unshare(CLONE_NEWNS), every mount made a slave of the host's, then the operations.
    int mount_ns;
    const struct ctend_mount *_Nullable mounts;
    int mount_count;
    /// Written by the child: the index of the operation that failed (the parent reads it afterwards).
    int *_Nullable failed_mount;
    /// unshare(CLONE_NEWNET) and loopback up.
    int net_ns;
    /// Drop every capability not in `bounding` from the bounding set.
    int drop_bounding;
    uint64_t bounding;
    /// Ambient capabilities (kept across the change of user).
    uint64_t ambient;
    /// A seccomp filter refusing unshare/clone/setns for namespace types outside allowed_ns (clone flags).
    int restrict_ns;
    uint64_t allowed_ns;
};

/// Probes, in a short-lived child, whether unshare(flags) works here (and, for CLONE_NEWNS, making the
/// mounts slaves). 0 or the errno.
int ctend_probe_unshare(int flags);

/// Child side, before the change of credentials: OOM score, namespaces and mounts, bounding set, seccomp.
/// 0, or the stage that failed with *err set.
int ctend_sandbox_before_credentials(const struct ctend_sandbox *s, int change_ids, int *err);
/// Child side, after it: ambient capabilities, no_new_privs.
int ctend_sandbox_after_credentials(const struct ctend_sandbox *s, int *err);

#pragma clang assume_nonnull end
#endif
