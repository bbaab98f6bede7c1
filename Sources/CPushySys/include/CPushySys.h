#ifndef CPUSHYSYS_H
#define CPUSHYSYS_H
#include <spawn.h>
#include <sys/types.h>

/// posix_spawn file actions that glibc declares but Swift's Glibc module does not import.
/// Close every descriptor >= lowfd in the child (so jobs never inherit the agent's sockets).
int pushy_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd);
/// Change the child's working directory before exec.
int pushy_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// How `pushy_spawn_job` starts a job's process. Every string and array is prepared by the
/// caller: between fork and exec the child only makes async-signal-safe system calls.
typedef struct {
    const char *path;            ///< program to exec
    char *const *argv;           ///< NULL-terminated
    char *const *envp;           ///< NULL-terminated
    const char *stdout_path;     ///< opened O_WRONLY|O_CREAT|O_TRUNC 0600 as fd 1
    const char *stderr_path;     ///< same, fd 2
    const char *dir;             ///< working directory, or NULL
    int change_user;             ///< when non-zero: setgroups(groups), setgid(gid), setuid(uid) before chdir/exec
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int ngroups;
} pushy_job_spawn;

/// Forks a child in its own process group (pgid = pid) with default signal handling and an empty
/// signal mask, stdin from /dev/null, stdout/stderr to the given files, descriptors >= 3 closed,
/// optionally switched to another user, then execs. Returns 0 and sets *pid once exec succeeded;
/// otherwise returns an errno and writes which step failed (a static string) to *failed_step.
int pushy_spawn_job(const pushy_job_spawn *spec, pid_t *pid, const char **failed_step);

/// Starts `path` with posix_spawn (no fork of the caller's address space): descriptors `in_fd`,
/// `out_fd` and `err_fd` become 0, 1 and 2, every other descriptor is closed, every signal has its
/// default action and none is blocked; `dir` (or NULL) is the working directory; `envp` NULL means
/// the caller's environment. Returns 0 and sets *pid, or an errno. (For programs that start
/// helper processes, e.g. the tests: Foundation's `Process.run` of Swift 6.3.1 can crash while it
/// lists /proc/self/fd.)
int pushy_spawn_child(const char *path, char *const argv[], char *const envp[], const char *dir,
                      int in_fd, int out_fd, int err_fd, pid_t *pid);

/// Blocks until child `pid` has exited, leaving it a zombie (waitid with WNOWAIT), so its pid is
/// not reused until the caller reaps it with waitpid. Returns 0, or an errno.
int pushy_wait_exited(pid_t pid);

/// pipe2(fds, O_CLOEXEC): a pipe whose ends are closed on exec. Returns 0 or -1 (errno set).
int pushy_pipe_cloexec(int fds[2]);

/// Returns freed heap memory to the system (glibc `malloc_trim(0)`: every arena, including free
/// pages in the middle of a heap). Returns 1 when memory was released, 0 when not, -1 where the
/// C library has no such call.
int pushy_trim_heap(void);

/// The heap in bytes (glibc `mallinfo2`, every arena): `in_use` allocated (including large
/// blocks mapped on their own), `free_bytes` freed but still held by the allocator. Returns 0, or
/// -1 (both 0) where the C library cannot say.
int pushy_heap_stats(size_t *in_use, size_t *free_bytes);
#endif
