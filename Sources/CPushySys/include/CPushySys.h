#ifndef CPUSHYSYS_H
#define CPUSHYSYS_H
#include <spawn.h>

/// posix_spawn file actions that glibc declares but Swift's Glibc module does not import.
/// Close every descriptor >= lowfd in the child (so jobs never inherit the agent's sockets).
int pushy_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd);
/// Change the child's working directory before exec.
int pushy_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
#endif
