#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "CPushySys.h"

int pushy_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
}

int pushy_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

extern char **environ;

int pushy_wait_exited(pid_t pid) {
    siginfo_t info;
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) != 0) {
        if (errno != EINTR) return errno;
    }
    return 0;
}

int pushy_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int pushy_spawn_child(const char *path, char *const argv[], char *const envp[], const char *dir,
                      int in_fd, int out_fd, int err_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attrs;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attrs);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attrs, &all);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attrs, &none);
    if (rc == 0) rc = posix_spawnattr_setflags(&attrs, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (rc == 0 && dir != NULL) rc = posix_spawn_file_actions_addchdir_np(&actions, dir);
    if (rc == 0) rc = posix_spawn(pid, path, &actions, &attrs, argv, envp != NULL ? envp : environ);
    posix_spawnattr_destroy(&attrs);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

/// What the child reports through the status pipe when a step before exec fails.
struct child_failure {
    int err;
    int step;
};

static const char *const step_names[] = {
    "setpgid", "signals", "open /dev/null", "open the stdout file", "open the stderr file",
    "setgroups", "setgid", "setuid", "chdir", "exec",
};

static void child_fail(int fd, int step) {
    struct child_failure f = { errno, step };
    ssize_t w = write(fd, &f, sizeof f);
    (void)w;
    _exit(127);
}

/// Puts `file` on descriptor `target` (opened with `flags`).
static int open_onto(const char *file, int flags, int target) {
    int fd = open(file, flags | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    if (dup2(fd, target) < 0) return -1;  // dup2 clears O_CLOEXEC on the new descriptor
    if (fd != target) close(fd);
    return 0;
}

int pushy_spawn_job(const pushy_job_spawn *s, pid_t *pid, const char **failed_step) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) { *failed_step = "pipe"; return errno; }
    sigset_t all, old;
    sigfillset(&all);
    // Block signals around fork so no handler of the parent runs in the child.
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t child = fork();
    if (child == 0) {
        int status_fd = pipefd[1];
        if (setpgid(0, 0) != 0) child_fail(status_fd, 0);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);  // fails harmlessly for KILL/STOP
        sigset_t none;
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) != 0) child_fail(status_fd, 1);
        // The status pipe must not land on 0-2: move it high first.
        if (status_fd < 3) {
            int moved = fcntl(status_fd, F_DUPFD_CLOEXEC, 3);
            if (moved < 0) _exit(127);
            status_fd = moved;
        }
        if (open_onto("/dev/null", O_RDONLY, 0) != 0) child_fail(status_fd, 2);
        if (open_onto(s->stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 1) != 0) child_fail(status_fd, 3);
        if (open_onto(s->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 2) != 0) child_fail(status_fd, 4);
        if (s->change_user) {
            if (setgroups((size_t)s->ngroups, s->groups) != 0) child_fail(status_fd, 5);
            if (setgid(s->gid) != 0) child_fail(status_fd, 6);
            if (setuid(s->uid) != 0) child_fail(status_fd, 7);
        }
        if (s->dir != NULL && chdir(s->dir) != 0) child_fail(status_fd, 8);
        // Every other descriptor (the agent's sockets, eventfds) is closed except the
        // close-on-exec status pipe, which tells the parent that exec worked.
        for (int fd = 3; fd < status_fd; fd++) close(fd);
        close_range((unsigned)status_fd + 1, ~0U, 0);
        execve(s->path, s->argv, s->envp);
        child_fail(status_fd, 9);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(pipefd[1]);
    if (child < 0) {
        close(pipefd[0]);
        *failed_step = "fork";
        return fork_errno;
    }
    struct child_failure f;
    ssize_t n;
    do { n = read(pipefd[0], &f, sizeof f); } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == (ssize_t)sizeof f) {
        int st;
        while (waitpid(child, &st, 0) < 0 && errno == EINTR) {}
        *failed_step = (f.step >= 0 && f.step < 10) ? step_names[f.step] : "spawn";
        return f.err;
    }
    *pid = child;
    return 0;
}

#ifdef __GLIBC__
#include <malloc.h>
int pushy_trim_heap(void) { return malloc_trim(0); }
int pushy_heap_stats(size_t *in_use, size_t *free_bytes) {
    struct mallinfo2 m = mallinfo2();
    *in_use = m.uordblks + m.hblkhd;
    *free_bytes = m.fordblks;
    return 0;
}
#else
int pushy_trim_heap(void) { return -1; }
int pushy_heap_stats(size_t *in_use, size_t *free_bytes) { *in_use = 0; *free_bytes = 0; return -1; }
#endif
